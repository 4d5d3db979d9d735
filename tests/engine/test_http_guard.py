"""The HTTP adapter's SSRF guard, redirects, size cap and timeout, against a real local server."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from engine import HttpRequestError, RequestRefused, RequestTimeout, ResponseTooLarge
from engine.adapters.http import GuardedHttpClient


@pytest.fixture
async def guarded():
    client = GuardedHttpClient()
    yield client
    await client.aclose()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/",
    "http://10.1.2.3/",
    "http://192.168.0.10/",
    "http://172.16.5.4/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.1.1/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[fe80::1]/",
    "http://[fd00::5]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[64:ff9b::a00:1]/",
    "http://224.0.0.1/",
])
async def test_private_and_special_addresses_are_refused(guarded, url):
    with pytest.raises(RequestRefused):
        await guarded.request("GET", url, timeout=2)


async def test_a_hostname_resolving_to_loopback_is_refused(guarded, local_server):
    local_server.routes[("GET", "/")] = (200, {}, {"ok": True})
    with pytest.raises(RequestRefused, match="loopback"):
        await guarded.request("GET", f"http://localhost:{local_server.port}/", timeout=2)
    assert local_server.requests == []


async def test_a_hostname_is_refused_when_any_of_its_addresses_is_private(local_server):
    async def resolver(host, port):
        return ["93.184.216.34", "10.0.0.7"]

    client = GuardedHttpClient(resolver=resolver)
    try:
        with pytest.raises(RequestRefused, match="10.0.0.7"):
            await client.request("GET", "http://mixed.example/", timeout=2)
    finally:
        await client.aclose()


async def test_private_networks_are_reachable_when_configuration_allows(local_server):
    local_server.routes[("GET", "/ping")] = (200, {}, {"pong": 1})
    async with GuardedHttpClient(allow_private_networks=True) as client:
        response = await client.request("GET", f"{local_server.url}/ping", timeout=5)
    assert (response.status, response.json) == (200, {"pong": 1})


async def test_an_allowlisted_network_is_reachable(local_server):
    local_server.routes[("GET", "/ping")] = (200, {}, {"pong": 1})
    async with GuardedHttpClient(allow_networks=["127.0.0.0/8"]) as client:
        response = await client.request("GET", f"{local_server.url}/ping", timeout=5)
    assert response.status == 200


async def test_the_connection_goes_to_the_checked_address_with_the_original_host_header(local_server):
    """Pinning: the name is resolved once, checked, and that address is dialled."""
    local_server.routes[("GET", "/who")] = (200, {}, {"ok": True})
    lookups = []

    async def resolver(host, port):
        lookups.append(host)
        return ["127.0.0.1"]

    async with GuardedHttpClient(resolver=resolver, allow_networks=["127.0.0.0/8"]) as client:
        response = await client.request("GET", f"http://api.customer.test:{local_server.port}/who", timeout=5)
    assert response.status == 200
    assert lookups == ["api.customer.test"]
    assert local_server.requests[0]["headers"]["host"] == f"api.customer.test:{local_server.port}"


async def test_a_redirect_to_a_private_address_is_refused(local_server):
    local_server.routes[("GET", "/go")] = (302, {"Location": "http://10.0.0.1/admin"}, "")
    async with GuardedHttpClient(allow_hosts=["127.0.0.1"]) as client:
        with pytest.raises(RequestRefused):
            await client.request("GET", f"{local_server.url}/go", timeout=5)


async def test_a_redirect_to_a_name_resolving_to_loopback_is_refused(local_server):
    local_server.routes[("GET", "/go")] = (302, {"Location": f"http://localhost:{local_server.port}/in"}, "")
    local_server.routes[("GET", "/in")] = (200, {}, {"inside": True})
    async with GuardedHttpClient(allow_hosts=["127.0.0.1"]) as client:
        with pytest.raises(RequestRefused):
            await client.request("GET", f"{local_server.url}/go", timeout=5)
    assert [r["path"] for r in local_server.requests] == ["/go"]


async def test_allowed_redirects_are_followed_and_a_303_becomes_a_get(local_server):
    local_server.routes[("POST", "/create")] = (303, {"Location": "/result"}, "")
    local_server.routes[("GET", "/result")] = (200, {}, {"id": 5})
    async with GuardedHttpClient(allow_private_networks=True) as client:
        response = await client.request("POST", f"{local_server.url}/create", json={"a": 1}, timeout=5)
    assert response.json == {"id": 5}
    assert [(r["method"], r["path"]) for r in local_server.requests] == [("POST", "/create"), ("GET", "/result")]


async def test_credentials_are_not_forwarded_to_another_host_on_redirect(local_server):
    # whatever the header is called: a flow's API key travels in X-API-Key, apikey, X-Auth-Token...
    local_server.routes[("GET", "/a")] = (307, {"Location": f"http://localhost:{local_server.port}/b"}, "")
    local_server.routes[("GET", "/b")] = (200, {}, {"ok": True})
    sent = {"Authorization": "Bearer x", "X-API-Key": "k-123", "apikey": "k-456", "Accept": "application/json"}
    async with GuardedHttpClient(allow_private_networks=True) as client:
        await client.request("GET", f"{local_server.url}/a", headers=sent, timeout=5)
    first, second = (r["headers"] for r in local_server.requests)
    assert (first.get("authorization"), first.get("x-api-key"), first.get("apikey")) == ("Bearer x", "k-123", "k-456")
    assert not {"authorization", "x-api-key", "apikey"} & set(second)
    assert second.get("accept") == "application/json"  # what describes the request, not who sends it, stays


async def test_a_redirect_on_the_same_host_keeps_the_headers(local_server):
    local_server.routes[("GET", "/a")] = (307, {"Location": "/b"}, "")
    local_server.routes[("GET", "/b")] = (200, {}, {"ok": True})
    async with GuardedHttpClient(allow_private_networks=True) as client:
        await client.request("GET", f"{local_server.url}/a", headers={"X-API-Key": "k-123"}, timeout=5)
    assert [r["headers"].get("x-api-key") for r in local_server.requests] == ["k-123", "k-123"]


async def test_redirect_loops_stop_after_the_cap(local_server):
    local_server.routes[("GET", "/loop")] = (302, {"Location": "/loop"}, "")
    async with GuardedHttpClient(allow_private_networks=True, max_redirects=3) as client:
        with pytest.raises(Exception, match="redirects"):
            await client.request("GET", f"{local_server.url}/loop", timeout=5)
    assert len(local_server.requests) == 4


async def test_a_response_over_the_cap_is_an_error(local_server):
    local_server.routes[("GET", "/big")] = (200, {}, b"x" * (1024 * 1024 + 10))
    async with GuardedHttpClient(allow_private_networks=True) as client:
        with pytest.raises(ResponseTooLarge) as info:
            await client.request("GET", f"{local_server.url}/big", timeout=5)
    assert info.value.status == 200


async def test_a_slow_server_times_out(local_server):
    local_server.routes[("GET", "/slow")] = (200, {}, {"late": True})
    local_server.delays["/slow"] = 1.5
    async with GuardedHttpClient(allow_private_networks=True) as client:
        with pytest.raises(RequestTimeout):
            await client.request("GET", f"{local_server.url}/slow", timeout=0.3)


async def test_an_error_status_is_a_response_not_an_exception(local_server):
    local_server.routes[("GET", "/missing")] = (404, {}, {"error": "nope"})
    async with GuardedHttpClient(allow_private_networks=True) as client:
        response = await client.request("GET", f"{local_server.url}/missing", timeout=5)
    assert (response.status, response.json) == (404, {"error": "nope"})


def _gzip_of_zeros(size: int) -> bytes:
    """``size`` zero bytes gzipped, without ever holding them."""
    z = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1024 * 1024)
    return b"".join(z.compress(block) for _ in range(size // len(block))) + z.flush()


async def test_a_gzip_bomb_is_cut_off_without_being_inflated(local_server):
    """A few hundred bytes of gzip inside gzip inflate to 200 MB: the body is refused as too
    large and the process never holds more than a little of it (a bigger bomb killed the worker)."""
    bomb = gzip.compress(_gzip_of_zeros(200 * 1024 * 1024))
    assert len(bomb) < 1024
    local_server.routes[("GET", "/bomb")] = (200, {"Content-Encoding": "gzip, gzip"}, bomb)
    async with GuardedHttpClient(allow_private_networks=True) as client:
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLarge):
                await client.request("GET", f"{local_server.url}/bomb", timeout=10)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


@pytest.mark.parametrize("encoding, encode", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),  # as RFC 9110 says: zlib-wrapped
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
])
async def test_a_compressed_answer_is_decoded(local_server, encoding, encode):
    local_server.routes[("GET", "/z")] = (200, {"Content-Encoding": encoding, "Content-Type": "application/json"},
                                          encode(b'{"items": [1, 2, 3]}'))
    async with GuardedHttpClient(allow_private_networks=True) as client:
        response = await client.request("GET", f"{local_server.url}/z", headers={"Accept-Encoding": "br"}, timeout=5)
    assert response.json == {"items": [1, 2, 3]}
    assert local_server.requests[0]["headers"]["accept-encoding"] == "gzip, deflate"  # only what is bounded


async def test_an_encoding_not_asked_for_is_an_error_naming_it(local_server):
    local_server.routes[("GET", "/br")] = (200, {"Content-Encoding": "br"}, b"\x0b\x02\x80hi\x03")
    async with GuardedHttpClient(allow_private_networks=True) as client:
        with pytest.raises(HttpRequestError, match="unsupported Content-Encoding 'br'"):
            await client.request("GET", f"{local_server.url}/br", timeout=5)


@pytest.mark.parametrize("location", ["file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "ftp://example.com/x",
                                      "data:text/plain,hello"])
async def test_a_redirect_to_another_scheme_is_refused(local_server, location):
    """A data: Location made httpx raise its own InvalidURL out of the port (a flow saw a
    Python repr as a network error)."""
    local_server.routes[("GET", "/go")] = (302, {"Location": location}, "")
    async with GuardedHttpClient(allow_private_networks=True) as client:
        with pytest.raises(RequestRefused):
            await client.request("GET", f"{local_server.url}/go", timeout=5)
    assert [r["path"] for r in local_server.requests] == ["/go"]


@pytest.mark.parametrize("charset", ["base64", "zlib"])
async def test_a_charset_that_is_no_text_encoding_is_read_as_utf8(local_server, charset):
    """Python knows these codecs but they decode bytes to bytes: the port raised LookupError and
    a flow took `error` with status 0 although the API had answered 200."""
    local_server.routes[("GET", "/odd")] = (200, {"Content-Type": f"application/json; charset={charset}"},
                                            '{"ok": "sim \u00e9"}'.encode())
    async with GuardedHttpClient(allow_private_networks=True) as client:
        response = await client.request("GET", f"{local_server.url}/odd", timeout=5)
    assert (response.status, response.json) == (200, {"ok": "sim é"})


async def test_an_idn_host_is_resolved_and_sent_as_the_same_name(local_server):
    """``faß.test`` is ``xn--fa-hia.test`` on the wire; the system resolver, given the Unicode
    form, looked up ``fass.test`` instead (IDNA 2003): another domain's address was dialled."""
    local_server.routes[("GET", "/who")] = (200, {}, {"ok": True})
    lookups = []

    async def resolver(host, port):
        lookups.append(host)
        return ["127.0.0.1"]

    async with GuardedHttpClient(resolver=resolver, allow_networks=["127.0.0.0/8"]) as client:
        response = await client.request("GET", f"http://fa\u00df.test:{local_server.port}/who", timeout=5)
    assert response.status == 200
    assert lookups == ["xn--fa-hia.test"]
    assert local_server.requests[0]["headers"]["host"] == f"xn--fa-hia.test:{local_server.port}"


async def test_a_bad_a_label_is_an_error_of_the_port(guarded):
    with pytest.raises(HttpRequestError):  # was idna's own IDNAError, out of the port
        await guarded.request("GET", "http://xn--localhost-/", timeout=2)
