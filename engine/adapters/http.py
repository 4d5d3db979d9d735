"""The ``HttpClient`` port over httpx, with an SSRF guard.

Flows are untrusted: an `api_call` URL must not reach the platform's own
network. Before each request (and each redirect hop) the host is resolved and
*every* address is checked; loopback, private (RFC 1918, ULA), link-local
(incl. 169.254.169.254 metadata), unspecified, multicast, reserved, CGNAT
(100.64.0.0/10) and IPv6 forms embedding such IPv4 addresses (mapped, NAT64,
6to4, Teredo) are refused unless configuration allows them
(``allow_private_networks`` or an allowlist of hosts / CIDRs).

The connection is pinned to the address that was checked (the URL's host is
replaced by the IP; ``Host`` and TLS SNI / certificate checks keep the
name), so a DNS answer that changes between check and connect (rebinding)
cannot redirect the request. An https host name has a connection pool of its
own (`_PoolsByName`): a connection verified for one name never carries another's. Redirects are followed by hand, at most
``max_redirects``, each hop checked again; a hop to another origin carries
only the headers that describe the request (`CROSS_ORIGIN_HEADERS`), never
the flow's credentials, whatever header holds them. Bodies are streamed and cut off
past ``max_bytes`` (1 MiB) of *decoded* content: gzip and deflate (the only codings
asked for) are inflated here, each layer bounded, because a few hundred bytes of
gzip inside gzip inflate to hundreds of megabytes in one step of httpx's own decoder.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json as jsonlib
import re
import socket
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Mapping

import httpx

from engine.adapters.bounded_body import ACCEPT_ENCODING, BodyTooLarge, BodyUndecodable, decoded_chunks
from engine.ports import HttpRequestError, HttpResponse, RequestRefused, RequestTimeout, ResponseTooLarge
from engine.values import without_nul

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_BYTES = 1024 * 1024
REDIRECTS = (301, 302, 303, 307, 308)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def refusal_reason(ip: IPAddress) -> str | None:
    """Why flows may not reach ``ip`` (None: a public address)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and (ip in _NAT64 or ip in _NAT64_LOCAL):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            reason = refusal_reason(embedded)
            return f"{reason} (embedded in {ip})" if reason else None
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_loopback:
        return "loopback address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_multicast:
        return "multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "carrier-grade NAT address"
    if ip.is_private:
        return "private address"
    if ip.is_reserved:
        return "reserved address"
    if not ip.is_global:
        return "non-global address"
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for *_, sockaddr in infos:
        addr = sockaddr[0].split("%", 1)[0]
        if addr not in seen:
            seen.append(addr)
    return seen


# what a redirect to another origin keeps of the flow's headers
CROSS_ORIGIN_HEADERS = frozenset({"accept", "accept-language", "content-type", "cache-control"})

# "\u0000" and surrogate escapes ("\ud800"): what `without_nul` replaces (a valid pair is two escapes of these too)
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")

def _ascii_host(url: httpx.URL) -> str:
    """The host as httpx sends it (IDNA 2008, ``faß.de`` is ``xn--fa-hia.de``): the name to
    resolve and to verify. ``url.host`` is its Unicode form, which the system resolver encodes
    by IDNA 2003 (``fass.de``, another domain), and which raises on a bad A-label."""
    return url.raw_host.decode("ascii").lower()


def _without_accept_encoding(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != "accept-encoding"}


MAX_TLS_POOLS = 256  # https host names with a keep-alive pool of their own, per process


class _PoolsByName:
    """One httpx client, so one connection pool, per https host name. httpx keys its pool by
    the URL's origin, here the pinned address: a TLS connection verified for one name was
    reused for any other name resolving to that address, never verified for it (a spoofed
    DNS answer then got another flow's request, credentials included). The least recently
    used pool goes past `MAX_TLS_POOLS`, closed once no request is using it."""

    def __init__(self, verify: Any, limit: int = MAX_TLS_POOLS) -> None:
        self._verify = verify
        self._limit = limit
        self._clients: dict[str, httpx.AsyncClient] = {}  # least recently used first
        self._busy: dict[httpx.AsyncClient, int] = {}  # requests under way on each client
        self._retired: set[httpx.AsyncClient] = set()  # evicted while busy: closed when idle

    @contextlib.asynccontextmanager
    async def lease(self, name: str) -> AsyncIterator[httpx.AsyncClient]:
        client = self._clients.pop(name, None) or _new_client(self._verify)
        self._clients[name] = client  # most recently used last
        while len(self._clients) > self._limit:
            await self._retire(self._clients.pop(next(iter(self._clients))))
        self._busy[client] = self._busy.get(client, 0) + 1
        try:
            yield client
        finally:
            self._busy[client] -= 1
            if not self._busy[client]:
                del self._busy[client]
                if client in self._retired:
                    self._retired.discard(client)
                    await client.aclose()

    async def _retire(self, client: httpx.AsyncClient) -> None:
        if client in self._busy:
            self._retired.add(client)
        else:
            await client.aclose()

    async def aclose(self) -> None:
        clients = [*self._clients.values(), *self._retired]
        self._clients, self._retired = {}, set()
        for client in clients:
            await client.aclose()


def _new_client(verify: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(follow_redirects=False, trust_env=False, verify=verify)


class GuardedHttpClient:
    """httpx ``AsyncClient`` behind the SSRF guard; one per process is enough."""

    def __init__(
        self,
        *,
        allow_private_networks: bool = False,
        allow_hosts: Iterable[str] = (),
        allow_networks: Iterable[str] = (),
        max_redirects: int = 5,
        max_bytes: int = MAX_BYTES,
        resolver: Resolver | None = None,
        user_agent: str = "PyTake-Flow/0.1",
        verify: Any = True,
        refused_for: str = "flows",
    ) -> None:
        self.allow_private_networks = allow_private_networks
        self.allow_hosts = {h.lower().rstrip(".") for h in allow_hosts}
        self.allow_networks = [ipaddress.ip_network(n, strict=False) for n in allow_networks]
        self.max_redirects = max_redirects
        self.max_bytes = max_bytes
        self.resolver = resolver or system_resolver
        self.user_agent = user_agent
        self.refused_for = refused_for  # who a refusal names: flows, webhooks
        # one SSL context for every pool: building one reads the CA bundle (~50 ms of the loop)
        context = httpx.create_ssl_context(verify=verify, trust_env=False)
        self._client = _new_client(context)  # plain http: no certificate to mix up
        self._tls = _PoolsByName(context)

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._tls.aclose()

    def _client_for(self, url: httpx.URL) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        if url.scheme == "https":
            return self._tls.lease(_ascii_host(url))
        return contextlib.nullcontext(self._client)

    async def __aenter__(self) -> "GuardedHttpClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the guard ------------------------------------------------------------
    async def addresses(self, url: httpx.URL) -> list[str]:
        """The checked addresses to connect to for ``url``; raises ``RequestRefused``."""
        if url.scheme not in ("http", "https") or not url.raw_host:
            raise RequestRefused(f"{url}: only http and https URLs with a host are allowed")
        host = _ascii_host(url).rstrip(".")
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            found = [str(literal)]
        else:
            try:
                found = await self.resolver(host, port)
            except (OSError, UnicodeError) as exc:
                raise HttpRequestError(f"{host}: cannot resolve ({exc})") from None
            if not found:
                raise HttpRequestError(f"{host}: no addresses")
        if self.allow_private_networks or host in self.allow_hosts:
            return found
        for addr in found:
            ip = ipaddress.ip_address(addr)
            if any(ip in net for net in self.allow_networks):
                continue
            reason = refusal_reason(ip)
            if reason:
                raise RequestRefused(f"{host} resolves to {addr}: {reason}, which {self.refused_for} may not reach")
        return found

    # -- the port ---------------------------------------------------------------
    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        timeout: float = 10.0,
    ) -> HttpResponse:
        try:
            async with asyncio.timeout(timeout):
                return await self._follow(method, url, dict(headers or {}), params, json, timeout)
        except TimeoutError:
            raise RequestTimeout(f"{method} {url}: no answer within {timeout:g}s") from None

    async def _follow(self, method: str, url: str, headers: dict[str, str],
                      params: Mapping[str, str] | None, body: Any, timeout: float) -> HttpResponse:
        try:
            target = httpx.URL(url, params=params) if params else httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise HttpRequestError(f"bad URL {url!r}: {exc}") from None
        send_body = body is not None
        for _ in range(self.max_redirects + 1):
            addrs = await self.addresses(target)
            response = await self._send(method, target, addrs, headers, body if send_body else None,
                                        send_body, timeout)
            location = response.headers.get("location")
            if response.status not in REDIRECTS or not location:
                return response
            try:
                nxt = target.join(location)
            except (httpx.InvalidURL, ValueError) as exc:
                raise HttpRequestError(f"bad redirect {location!r}: {exc}", response.status) from None
            if response.status == 303 or (response.status in (301, 302) and method not in ("GET", "HEAD")):
                method, send_body = "GET", False
            if (nxt.scheme, nxt.raw_host, nxt.port) != (target.scheme, target.raw_host, target.port):
                # another origin gets only the headers that describe the request: a flow's
                # credentials may be in any header (X-API-Key, apikey...), not only Authorization
                headers = {k: v for k, v in headers.items() if k.lower() in CROSS_ORIGIN_HEADERS}
            target = nxt
        raise HttpRequestError(f"{url}: more than {self.max_redirects} redirects")

    async def _send(self, method: str, url: httpx.URL, addrs: list[str], headers: dict[str, str],
                    body: Any, send_body: bool, timeout: float) -> HttpResponse:
        last: Exception | None = None
        host_header = url.netloc.decode("ascii")
        for addr in addrs:
            pinned = url.copy_with(host=addr)
            extensions = {"sni_hostname": _ascii_host(url)} if url.scheme == "https" else {}
            async with self._client_for(url) as client:
                request = client.build_request(
                    method, pinned,
                    headers={"User-Agent": self.user_agent, **_without_accept_encoding(headers),
                             "Accept-Encoding": ACCEPT_ENCODING, "Host": host_header},
                    json=body if send_body else None,
                    timeout=timeout, extensions=extensions,
                )
                try:
                    response = await client.send(request, stream=True)
                except httpx.ConnectError as exc:
                    last = exc
                    continue
                except httpx.TimeoutException:
                    raise RequestTimeout(f"{method} {url}: timed out") from None
                except httpx.HTTPError as exc:
                    raise HttpRequestError(f"{method} {url}: {exc}") from None
                except httpx.InvalidURL as exc:  # httpx parses a redirect's Location itself (`data:text/plain,x`)
                    raise RequestRefused(f"{method} {url}: a redirect that cannot be followed ({exc})") from None
                try:
                    return await self._read(response, url)
                except httpx.TimeoutException:
                    raise RequestTimeout(f"{method} {url}: timed out reading the response") from None
                except httpx.HTTPError as exc:
                    raise HttpRequestError(f"{method} {url}: {exc}", response.status_code) from None
                finally:
                    await response.aclose()
        raise HttpRequestError(f"{method} {url}: cannot connect ({last})")

    async def _read(self, response: httpx.Response, url: httpx.URL) -> HttpResponse:
        """The body, decoded here rather than by httpx (`decoded_chunks`), never past ``max_bytes``."""
        chunks: list[bytes] = []
        try:
            async for chunk in decoded_chunks(response, self.max_bytes):
                chunks.append(chunk)
        except BodyTooLarge:
            raise ResponseTooLarge(f"{url}: response larger than {self.max_bytes} bytes", response.status_code) from None
        except BodyUndecodable as exc:
            raise HttpRequestError(f"{url}: {exc}", response.status_code) from None
        raw = b"".join(chunks)
        try:
            text = raw.decode(response.encoding or "utf-8", errors="replace")
        except LookupError:  # a codec Python knows that is not a text encoding: charset=base64, zlib
            text = raw.decode("utf-8", errors="replace")
        data: Any = None
        if raw:
            try:
                data = jsonlib.loads(text)
                if _UNSTORABLE_ESCAPE.search(text):  # the only ways JSON carries U+0000 or a lone surrogate
                    data = without_nul(data)
            except ValueError:
                data = None
        return HttpResponse(response.status_code, data, without_nul(text), dict(response.headers))

