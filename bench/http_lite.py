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
  With ``received_header`` each request's headers also carry, under that name,
  the time the kernel received its last bytes (``SO_TIMESTAMPNS``, epoch
  seconds): when it reached this side of the wire, however long this process's
  event loop took to read it (a stand-in for Meta measures PyTake's latency up
  to Meta's door, not its own queue).
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
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
        self.received_header: str | None = None
        self.received_at = 0.0  # the kernel's receive time of the latest bytes read (`_Stamped`)

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
        if self.received_header:
            headers[self.received_header] = repr(self.received_at)
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


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; the socket module does not name it


class _Stamped:
    """A server connection read with ``recvmsg``, which hands over the kernel's receive
    time with the bytes; `_Server` parses and answers as on an asyncio transport."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, protocol: _Server,
                 owner: set["_Stamped"]) -> None:
        self.loop, self.sock, self.protocol, self.owner = loop, sock, protocol, owner
        owner.add(self)
        self.out = bytearray()
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        protocol.connection_made(self)  # type: ignore[arg-type]
        loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data, ancillary, _, _ = self.sock.recvmsg(262144, socket.CMSG_SPACE(16))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        self.protocol.received_at = time.time()  # bytes that came without a timestamp: read now
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = struct.unpack("qq", value[:16])
                self.protocol.received_at = seconds + nanoseconds / 1e9
        self.protocol.data_received(data)

    def write(self, data: bytes) -> None:
        if not self.out:
            try:
                data = data[self.sock.send(data):]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self.close()
                return
            if data:
                self.loop.add_writer(self.sock.fileno(), self._writable)
        self.out += data

    def _writable(self) -> None:
        try:
            del self.out[:self.sock.send(self.out)]
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        if not self.out:
            self.loop.remove_writer(self.sock.fileno())

    def close(self) -> None:
        if self.sock.fileno() < 0:
            return
        self.loop.remove_reader(self.sock.fileno())
        self.loop.remove_writer(self.sock.fileno())
        self.sock.close()
        self.owner.discard(self)
        self.protocol.connection_lost(None)


class _StampedServer:
    """Accepts connections for `_Stamped` (what `serve` returns with ``received_header``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, handle: Handler, host: str, port: int,
                 received_header: str) -> None:
        self.loop, self.handle, self.received_header = loop, handle, received_header
        self.listener = socket.create_server((host, port), backlog=2048)
        # set on the listener: the kernel stamps what arrives from then on, and the connections
        # it accepts inherit the option (bytes that come before the accept are stamped too)
        self.listener.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.listener.setblocking(False)
        self.sockets = [self.listener]  # as asyncio's servers expose theirs
        self.connections: set[_Stamped] = set()
        loop.add_reader(self.listener.fileno(), self._accept)

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        protocol = _Server(self.handle)
        protocol.received_header = self.received_header
        _Stamped(self.loop, sock, protocol, self.connections)

    def close(self) -> None:
        if self.listener.fileno() >= 0:
            self.loop.remove_reader(self.listener.fileno())
            self.listener.close()
        for conn in list(self.connections):
            conn.close()
        self.connections.clear()


async def serve(handle: Handler, host: str, port: int, *,
                received_header: str | None = None) -> asyncio.AbstractServer | _StampedServer:
    """Start serving (the caller closes the returned server). With ``received_header``, each
    request's headers carry the kernel's receive time of its bytes under that name."""
    loop = asyncio.get_running_loop()
    if received_header is not None:
        return _StampedServer(loop, handle, host, port, received_header.lower())
    return await loop.create_server(lambda: _Server(handle), host, port, backlog=2048)
