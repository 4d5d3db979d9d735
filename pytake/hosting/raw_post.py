"""Meta's webhook POSTs read and answered before hypercorn's HTTP/1.1 machinery.

At Meta's top tier a number gets 3,000 status webhooks a second: small POSTs
with a small JSON answer. For each, hypercorn parsed and validated the request
with h11, built a stream and spawned a task for the ASGI app, passed the body
and the answer through ASGI messages, and validated and serialized the
response with h11 again: about half of the API's CPU per status webhook
(bench/campaign.py, py-spy).

`RawPostFront` sits in front of a connection's hypercorn protocol. While the
connection's requests are ones the app's ``raw_post_route`` answers (the
webhook, `api.inbound.routes.WebhookPosts`), it reads each whole request from
the socket, calls the route and writes the response itself, one request after
the other as HTTP/1.1 requires. Only a plain request takes this path:

- ``POST <target> HTTP/1.1`` whose path (no ``%`` escapes) the route answers;
- header lines that are valid tokens and field values (as h11 checks them),
  a ``Host``, exactly one ``Content-Length`` of at most the route's
  ``max_body``, and no ``Transfer-Encoding``, ``Expect`` or ``Upgrade``.

Anything else (another route, a GET, a chunked or oversized body, a malformed
head) is handed to hypercorn with every byte not yet answered, and the
connection stays with hypercorn for its life: h11 then answers as it always
did (a 400 for a malformed request, the ASGI fast path's 413, ...). Keep-alive,
``Connection: close``, hypercorn's ``keep_alive_max_requests``, the idle
timeout (`lean_http`) and a graceful shutdown behave as with hypercorn.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

HEAD_LIMIT = 16 * 1024  # bytes of request head; beyond it hypercorn answers (h11's own limit: 431/400)

_REQUEST_LINE = re.compile(rb"POST (/[!-~]*) HTTP/1\.1")
# h11's header grammar: a token, a colon, optional whitespace, a field value without CR/LF/NUL
_VALUE = rb"(?:[!-~\x80-\xff](?:[\t -~\x80-\xff]*[!-~\x80-\xff])?)?"
_HEADER = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(" + _VALUE + rb")[ \t]*")
_DIGITS = re.compile(rb"[0-9]{1,15}")
_REFUSED = frozenset((b"transfer-encoding", b"expect", b"upgrade"))
MORE = "more"  # `parse`: the request is not whole yet
HAND_OVER = "hand over"  # `parse`: hypercorn's to answer


_STATUS_LINES = {status.value: b"HTTP/1.1 %d %s" % (status.value, status.phrase.encode("ascii"))
                 for status in HTTPStatus}


def parse_head(buffer: bytes | bytearray, route: Any) -> Any:
    """``(path, headers, close, body_start, body_length)`` for the head of a plain request at
    the start of ``buffer`` that ``route`` answers, `MORE` while the head is not whole,
    `HAND_OVER` otherwise."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > HEAD_LIMIT or not (buffer[:6] == b"POST /" or b"POST /".startswith(bytes(buffer))):
            return HAND_OVER
        return MORE
    lines = bytes(buffer[:end]).split(b"\r\n")
    line = _REQUEST_LINE.fullmatch(lines[0])
    if line is None:
        return HAND_OVER
    target = line[1]
    raw_path = target.split(b"?", 1)[0]
    if b"%" in raw_path or b"#" in target:
        return HAND_OVER
    path = raw_path.decode("ascii")
    if not route.answers(path):
        return HAND_OVER
    headers: list[tuple[bytes, bytes]] = []
    length = None
    host = close = False
    for field in lines[1:]:
        match = _HEADER.fullmatch(field)
        if match is None:
            return HAND_OVER
        name = match[1].lower()
        value = match[2]
        if name in _REFUSED:
            return HAND_OVER
        if name == b"content-length":
            if length is not None or _DIGITS.fullmatch(value) is None:
                return HAND_OVER
            length = int(value)
        elif name == b"host":
            if host:
                return HAND_OVER
            host = True
        elif name == b"connection":
            tokens = {token.strip().lower() for token in value.split(b",")}
            if b"upgrade" in tokens:
                return HAND_OVER
            close = close or b"close" in tokens
        headers.append((name, value))
    limit = route.max_body
    if length is None or not host or (limit is not None and length > limit):
        return HAND_OVER
    return path, headers, close, end + 4, length


class RawPostFront:
    """The front of one connection of `server` (a `lean_http.LeanTCPServer`): `feed` takes
    what the socket read; False once the connection is hypercorn's (module docstring)."""

    def __init__(self, server: Any, route: Any) -> None:
        self.server = server
        self.route = route
        self.buffer = bytearray()
        self.head: Any = None  # the parsed head of the request whose body is still arriving
        self.requests = 0
        self.closed = False
        # a route behind `connection_balance.balanced` may end the connection after an answer
        self.should_close = getattr(route, "should_close", None)
        self.client = server.writer.get_extra_info("peername") if self.should_close is not None else None

    async def feed(self, data: bytes) -> bool:
        from hypercorn.events import Closed, RawData

        server = self.server
        self.buffer += data
        while self.buffer and not self.closed:
            head = self.head or parse_head(self.buffer, self.route)
            if head is MORE:
                return True
            if head is HAND_OVER:
                rest = bytes(self.buffer)
                self.buffer.clear()
                await server.protocol.handle(RawData(rest))
                return False
            path, headers, close, start, length = head
            if len(self.buffer) < start + length:
                self.head = head  # parsed once, however many reads the body takes
                return True
            self.head = None
            body = bytes(self.buffer[start:start + length])
            del self.buffer[:start + length]
            server.busy(True)
            self.requests += 1
            await server.context.mark_request()
            status, answer_headers, payload = await self.route(path, headers, body)
            close = (close or self.requests >= server.config.keep_alive_max_requests
                     or server.context.terminated.is_set()
                     or (self.should_close is not None and self.should_close(self.client)))
            lines = [_STATUS_LINES.get(status) or b"HTTP/1.1 %d " % status]
            for name, value in (*answer_headers, *server.config.response_headers("h11")):
                if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name:
                    raise ValueError(f"header {name!r} holds a line break")
                lines.append(name + b": " + value)
            lines.append(b"content-length: %d" % len(payload))
            if close:
                lines.append(b"connection: close")
            await server.protocol_send(RawData(b"\r\n".join(lines) + b"\r\n\r\n" + payload))
            if close:
                self.closed = True
                await server.protocol_send(Closed())
                return True
            server.busy(False)
        return True
