"""A minimal WebSocket client (RFC 6455) on loopback, for bench/inbox.py's agents.

bench/inbox.py reads 50,000 WebSocket messages a second in one process, on the
same two cores as the API processes it measures. With aiohttp's client each
message is a task wake-up, a queue and a message object in that process; here
it is a callback from the connection's `data_received`, which parses the
frames in place. The agents' browsers run on other machines: the cheaper the
benchmark's side of the wire, the more of the cores go to what is measured
(as `bench/http_lite.py` does for HTTP).

What it speaks: the opening handshake (checks ``101`` and
``Sec-WebSocket-Accept``), no extension, server frames of any length, text or
binary, fragmented or not; a ping is answered with a pong, a close with a
close; what it sends (pong, close) is masked as a client must. Nothing here is
used by PyTake itself.

    ws = await connect("127.0.0.1", port, "/live?access_token=...", on_text)
    code = await ws.closed      # the close code (1006: the connection dropped)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from typing import Callable

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ABNORMAL = 1006  # no close frame came: the connection dropped


class HandshakeFailed(Exception):
    """The server did not switch protocols."""


class WebSocket(asyncio.Protocol):
    def __init__(self, request: bytes, key: bytes, on_text: Callable[[str], None]) -> None:
        self._request = request
        self._accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
        self._close_sent = False

    # -- asyncio.Protocol ------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed during the handshake ({exc})"))
        if not self.closed.done():
            self.closed.set_result(ABNORMAL)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self.opened.done():
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end])
            del self._buffer[:end + 4]
            problem = self._check(head)
            if problem:
                self.opened.set_exception(HandshakeFailed(problem))
                self.transport.close()  # type: ignore[union-attr]
                return
            self.opened.set_result(None)
        self._frames()

    # -- frames ---------------------------------------------------------------
    def _check(self, head: bytes) -> str | None:
        lines = head.split(b"\r\n")
        if lines[0][9:12] != b"101":
            return f"the server answered {lines[0].decode('latin-1')!r}, not 101"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-accept":
                return None if value.strip() == self._accept else "wrong Sec-WebSocket-Accept"
        return "no Sec-WebSocket-Accept"

    def _frames(self) -> None:
        buf = self._buffer
        at, size = 0, len(buf)
        while size - at >= 2:
            first, second = buf[at], buf[at + 1]
            length, head = second & 0x7F, 2
            if length == 126:
                if size - at < 4:
                    break
                length, head = struct.unpack_from("!H", buf, at + 2)[0], 4
            elif length == 127:
                if size - at < 10:
                    break
                length, head = struct.unpack_from("!Q", buf, at + 2)[0], 10
            mask = b""
            if second & 0x80:  # a server must not mask, but read it right if one does
                if size - at < head + 4:
                    break
                mask, head = bytes(buf[at + head:at + head + 4]), head + 4
            if size - at < head + length:
                break
            payload = bytes(buf[at + head:at + head + length])
            at += head + length
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            self._frame(first & 0x80, first & 0x0F, payload)
            if self.transport is None:
                break
        del buf[:at]

    def _frame(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode in (1, 2):  # text, binary: a message, or the first of its fragments
            if fin:
                if opcode == 1:
                    self.on_text(payload.decode())
                return
            self._fragment_opcode, self._fragments = opcode, [payload]
        elif opcode == 0:  # continuation
            self._fragments.append(payload)
            if fin:
                whole, self._fragments = b"".join(self._fragments), []
                if self._fragment_opcode == 1:
                    self.on_text(whole.decode())
        elif opcode == 8:  # close: answer it, then the server closes the connection
            code = struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else 1005
            if not self.closed.done():
                self.closed.set_result(code)
            self._send(8, payload[:2])
            self.transport.close()  # type: ignore[union-attr]
        elif opcode == 9:  # ping
            self._send(10, payload)

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or (opcode == 8 and self._close_sent):
            return
        self._close_sent = self._close_sent or opcode == 8
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes((0x80 | opcode, 0x80 | len(payload))) + mask + masked)  # control: <= 125

    async def close(self, code: int = 1000) -> int:
        """Send a close frame and wait for the connection to end; the close code seen."""
        self._send(8, struct.pack("!H", code))
        if self.transport is not None and not self.closed.done():
            try:
                await asyncio.wait_for(asyncio.shield(self.closed), 5.0)
            except asyncio.TimeoutError:
                self.transport.abort()
        return await self.closed


async def connect(host: str, port: int, path: str, on_text: Callable[[str], None]) -> WebSocket:
    """Open a WebSocket to ``ws://host:port/path``; `HandshakeFailed` if the server refuses it."""
    key = base64.b64encode(os.urandom(16))
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
    _, ws = await asyncio.get_running_loop().create_connection(lambda: WebSocket(request, key, on_text), host, port)
    await ws.opened
    return ws
