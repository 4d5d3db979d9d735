"""A minimal Redis pub/sub subscriber (RESP2) for bench/inbox.py's floor.

The floor is raw Redis pub/sub with the live channel's audience: one
subscriber connection per agent, read by the benchmark's process. It must
cost that process what `bench/ws_lite.py`'s agents cost, or the ratio between
the two compares clients instead of servers: each connection parses its push
messages in `data_received` and hands each message's data to a callback.
Nothing here is used by PyTake itself.

    sub = await subscribe("redis://127.0.0.1:6379/0", "channel", on_message)  # confirmed by Redis
    sub.close()
"""

from __future__ import annotations

import asyncio
from typing import Callable
from urllib.parse import urlparse


class Subscriber(asyncio.Protocol):
    def __init__(self, channel: bytes, on_message: Callable[[bytes], None]) -> None:
        self.channel = channel
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        self.subscribed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(self.channel), self.channel))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError(f"closed before subscribing ({exc})"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        buf, at = self._buffer, 0
        while True:
            reply, end = _array(buf, at)
            if reply is None:
                break
            at = end
            kind = reply[0]
            if kind == b"message":
                self.on_message(reply[2])  # type: ignore[arg-type]
            elif kind == b"subscribe" and not self.subscribed.done():
                self.subscribed.set_result(None)
            elif isinstance(kind, Exception) and not self.subscribed.done():
                self.subscribed.set_exception(kind)
        del buf[:at]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _array(buf: bytearray, at: int) -> tuple[list[bytes | int | Exception] | None, int]:
    """One RESP2 array of bulk strings and integers from ``buf[at:]`` (what a
    subscribed connection receives) and where it ends; ``None`` until it is whole."""
    line_end = buf.find(b"\r\n", at)
    if line_end < 0:
        return None, at
    if buf[at] == ord("-"):  # an error reply (a refused SUBSCRIBE)
        return [RuntimeError(buf[at + 1:line_end].decode())], line_end + 2
    count = int(buf[at + 1:line_end])
    items: list[bytes | int | Exception] = []
    pos = line_end + 2
    for _ in range(count):
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None, at
        if buf[pos] == ord(":"):
            items.append(int(buf[pos + 1:line_end]))
            pos = line_end + 2
            continue
        length = int(buf[pos + 1:line_end])
        start = line_end + 2
        if len(buf) < start + length + 2:
            return None, at
        items.append(bytes(buf[start:start + length]))
        pos = start + length + 2
    return items, pos


async def subscribe(redis_url: str, channel: str, on_message: Callable[[bytes], None]) -> Subscriber:
    """A connection subscribed to ``channel`` (Redis has confirmed it). Plain TCP URLs or a
    unix socket's (``unix:///path``, as the embedded server's), without a password: the
    benchmarks' Redis."""
    url = urlparse(redis_url)
    loop = asyncio.get_running_loop()
    factory = lambda: Subscriber(channel.encode(), on_message)  # noqa: E731
    if url.scheme == "unix":
        _, sub = await loop.create_unix_connection(factory, url.path)
    else:
        _, sub = await loop.create_connection(factory, url.hostname or "127.0.0.1", url.port or 6379)
    await sub.subscribed
    return sub
