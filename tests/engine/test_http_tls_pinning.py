"""HTTPS through the pinned connection: the socket goes to the checked IP while
TLS (SNI and certificate verification) still uses the URL's host name."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from engine import HttpRequestError
from engine.adapters.http import GuardedHttpClient

HOST = "api.customer.test"


def _certificate(tmp_path, names):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture(params=["HTTP/1.0"])
def tls_server(tmp_path, request):
    """A TLS server on 127.0.0.1 for `HOST`; ``seen``: the last request's Host, and every
    request's (Host, client port) under ``requests`` (one port: one kept-alive connection)."""
    cert_file, key_file = _certificate(tmp_path, [HOST])
    seen = {"requests": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = request.param

        def log_message(self, *args):
            pass

        def do_GET(self):
            seen["host"] = self.headers.get("Host")
            seen["requests"].append((self.headers.get("Host"), self.client_address[1]))
            body = json.dumps({"secure": True}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], cert_file, seen
    httpd.shutdown()
    httpd.server_close()


async def _resolver(host, port):
    return ["127.0.0.1"] if host == HOST else []


async def test_https_to_a_pinned_address_verifies_the_certificate_of_the_host_name(tls_server):
    port, cert_file, seen = tls_server
    trust = ssl.create_default_context(cafile=str(cert_file))
    async with GuardedHttpClient(resolver=_resolver, allow_networks=["127.0.0.0/8"], verify=trust) as client:
        response = await client.request("GET", f"https://{HOST}:{port}/status", timeout=5)
    assert (response.status, response.json) == (200, {"secure": True})
    assert seen["host"] == f"{HOST}:{port}"


async def test_a_certificate_for_another_name_is_rejected(tls_server, tmp_path):
    port, cert_file, _ = tls_server
    trust = ssl.create_default_context(cafile=str(cert_file))

    async def other(host, port):
        return ["127.0.0.1"]

    async with GuardedHttpClient(resolver=other, allow_networks=["127.0.0.0/8"], verify=trust) as client:
        with pytest.raises(HttpRequestError):
            await client.request("GET", f"https://other.customer.test:{port}/status", timeout=5)


@pytest.mark.parametrize("tls_server", ["HTTP/1.1"], indirect=True)
async def test_a_connection_verified_for_one_name_never_carries_another(tls_server):
    """httpx pools by the pinned address: a kept-alive connection verified for one name carried
    a request for any other name resolving there, unverified (a spoofed DNS answer got it)."""
    port, cert_file, seen = tls_server
    trust = ssl.create_default_context(cafile=str(cert_file))

    async def anything_here(host, port):
        return ["127.0.0.1"]

    async with GuardedHttpClient(resolver=anything_here, allow_networks=["127.0.0.0/8"], verify=trust) as client:
        assert (await client.request("GET", f"https://{HOST}:{port}/status", timeout=5)).status == 200
        with pytest.raises(HttpRequestError, match="certificate"):
            await client.request("GET", f"https://other.customer.test:{port}/status", timeout=5)
    assert [host for host, _ in seen["requests"]] == [f"{HOST}:{port}"]


@pytest.mark.parametrize("tls_server", ["HTTP/1.1"], indirect=True)
async def test_requests_to_one_name_share_its_kept_alive_connection(tls_server):
    port, cert_file, seen = tls_server
    trust = ssl.create_default_context(cafile=str(cert_file))
    async with GuardedHttpClient(resolver=_resolver, allow_networks=["127.0.0.0/8"], verify=trust) as client:
        for _ in range(2):
            assert (await client.request("GET", f"https://{HOST}:{port}/status", timeout=5)).status == 200
    assert len({client_port for _, client_port in seen["requests"]}) == 1
