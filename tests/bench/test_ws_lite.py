"""bench/ws_lite and bench/pubsub_lite: bench/inbox.py's agents and its floor's
subscribers must read what a WebSocket server (hypercorn, PyTake's) and Redis
really send, or its latencies measure nothing."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct

import pytest
import redis.asyncio as aioredis

from bench import pubsub_lite, ws_lite
from tests.hypercorn_server import hypercorn_serving

TEXTS = ["oi", "é" * 150, "x" * 70_000]  # one-byte, 16-bit and 64-bit payload lengths


async def _app(scope, receive, send):  # noqa: ANN001 - an ASGI app
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    if scope["path"] == "/refused":
        await send({"type": "websocket.close", "code": 1008})  # before accepting: an HTTP 403
        return
    await send({"type": "websocket.accept"})
    if scope["path"] == "/talk":
        for text in TEXTS:
            await send({"type": "websocket.send", "text": text})
        await send({"type": "websocket.close", "code": 4408})
        return
    while (await receive())["type"] != "websocket.disconnect":  # /listen: until the client closes
        pass


@pytest.fixture
async def hypercorn_port():
    async with hypercorn_serving(_app) as port:
        yield port


async def test_texts_of_every_length_class_arrive_whole_and_in_order_then_the_close_code(hypercorn_port):
    got: list[str] = []
    ws = await ws_lite.connect("127.0.0.1", hypercorn_port, "/talk", got.append)
    assert await ws.closed == 4408
    assert got == TEXTS


async def test_closing_from_the_client_is_answered(hypercorn_port):
    ws = await ws_lite.connect("127.0.0.1", hypercorn_port, "/listen", lambda text: None)
    assert await ws.close(1000) == 1000


async def test_a_refused_handshake_raises(hypercorn_port):
    with pytest.raises(ws_lite.HandshakeFailed, match="403"):
        await ws_lite.connect("127.0.0.1", hypercorn_port, "/refused", lambda text: None)


async def _raw_server(script):  # noqa: ANN001
    """A server that answers the handshake (``accept`` for its key, or a wrong one) and then runs ``script``."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key"))
        await script(key, reader, writer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _switching(key: bytes) -> bytes:
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    return b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
           b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"


async def test_fragments_are_joined_a_ping_gets_a_masked_pong_and_bytes_split_anywhere_are_read():
    pong: asyncio.Future = asyncio.get_running_loop().create_future()

    async def script(key, reader, writer):  # noqa: ANN001
        frames = (_switching(key) + bytes((0x01, 3)) + b"ola" + bytes((0x80, 6)) + b" mundo"  # text in two parts
                  + bytes((0x89, 4)) + b"ping" + bytes((0x81, 126)) + struct.pack("!H", 300) + b"y" * 300)
        for i in range(0, len(frames), 7):  # the handshake and frames cut into 7-byte reads
            writer.write(frames[i:i + 7])
            await writer.drain()
            await asyncio.sleep(0)
        first, second = await reader.readexactly(2)
        mask = await reader.readexactly(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(second & 0x7F)))
        pong.set_result((first, second & 0x80, payload))
        writer.write(bytes((0x88, 2)) + struct.pack("!H", 1001))
        await writer.drain()
        await reader.read()  # the client's close, then its end
        writer.close()

    server, port = await _raw_server(script)
    got: list[str] = []
    async with server:
        ws = await ws_lite.connect("127.0.0.1", port, "/", got.append)
        assert await ws.closed == 1001
    assert got == ["ola mundo", "y" * 300]
    assert await pong == (0x8A, 0x80, b"ping")  # final pong, masked, the ping's payload


async def test_a_wrong_accept_key_raises():
    async def script(key, reader, writer):  # noqa: ANN001
        writer.write(_switching(b"not-the-key"))
        await writer.drain()
        await reader.read()

    server, port = await _raw_server(script)
    async with server:
        with pytest.raises(ws_lite.HandshakeFailed, match="Sec-WebSocket-Accept"):
            await ws_lite.connect("127.0.0.1", port, "/", lambda text: None)


async def test_the_floor_subscriber_reads_every_message_redis_pushes(redis_url):
    got: list[bytes] = []
    sub = await pubsub_lite.subscribe(redis_url, "bench:lite", got.append)
    sent = [b"oi", b"line\r\nbreak $3\r\n*2", b"z" * 200_000, "ção".encode()]
    publisher = aioredis.from_url(redis_url)
    try:
        for data in sent:
            assert await publisher.publish("bench:lite", data) == 1  # subscribed before returning
        for _ in range(3000):
            if len(got) == len(sent):
                break
            await asyncio.sleep(0.01)
        assert got == sent
    finally:
        sub.close()
        await publisher.aclose()
