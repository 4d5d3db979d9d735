"""Minimal HTTP/1.1 on loopback for the benchmarks' own side of the wire.

The benchmarks share two cores with what they measure, so the customers'
client and the Graph API stand-in must cost as little CPU as possible (as
wrk would, next to a Python client). Both speak plain keep-alive HTTP/1.1
with Content-Length bodies, which is all the measured servers and clients
use on these paths; nothing here is used by PyTake itself.

- `Connection`: one keep-alive client connection.
- `ConnectionPool`: idle connections reused across callers; a connection the
  server closed under us is replaced and the request sent again (as Meta
  redelivers a webhook).
- `serve(handle, host, port)`: a server calling
  ``await handle(method, path, query, body, headers) -> (status, json_doc)``
  per request (`SandboxApp.handle`, the sandbox's routes without hypercorn).
"""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any, Awaitable, Callable

Handler = Callable[[str, str, str, bytes, dict[str, str]], Awaitable[tuple[int, Any]]]


class Connection:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str],
                      body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        payload = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class ConnectionPool:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self._idle: list[Connection] = []

    async def request(self, method: str, path: str, headers: dict[str, str],
                      body: bytes = b"") -> tuple[int, bytes]:
        conn = self._idle.pop() if self._idle else Connection(self.port, self.host)
        reused = conn.writer is not None
        try:
            result = await conn.request(method, path, headers, body)
        except (ConnectionError, asyncio.IncompleteReadError):
            conn.close()
            if not reused:
                raise
            conn = Connection(self.port, self.host)  # closed while idle: send again on a new one
            result = await conn.request(method, path, headers, body)
        self._idle.append(conn)
        return result

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


class _Server(asyncio.Protocol):
    def __init__(self, handle: Handler) -> None:
        self.handle = handle
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._next()

    def _next(self) -> None:
        if self.busy or self.transport is None:
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4:end + 4 + length])
        del self.buffer[:end + 4 + length]
        method, target = lines[0].split(" ")[:2]
        path, _, query = target.partition("?")
        self.busy = True
        asyncio.ensure_future(self._respond(method, path, query, body, headers))

    async def _respond(self, method: str, path: str, query: str, body: bytes, headers: dict[str, str]) -> None:
        try:
            status, doc = await self.handle(method, path, query, body, headers)
        except Exception as exc:  # the stand-in failing must show, not hang the client
            status, doc = 500, {"error": {"message": repr(exc)}}
        payload = json.dumps(doc, ensure_ascii=False).encode()
        close = headers.get("connection", "").lower() == "close"
        if self.transport is None:
            return
        self.transport.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
            status, HTTPStatus(status).phrase.encode(), len(payload), b"Connection: close\r\n" if close else b"",
            payload))
        if close:
            self.transport.close()
            return
        self.busy = False
        self._next()


async def serve(handle: Handler, host: str, port: int) -> asyncio.AbstractServer:
    """Start serving (the caller closes the returned server)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _Server(handle), host, port, backlog=2048)
