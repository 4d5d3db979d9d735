"""hypercorn as `pytake serve` runs it (pytake/hosting/lean_http.py): one keep-alive watcher per
connection instead of a timer task started and cancelled per request, the Date header formatted
once a second, no Server header; keep-alive and shutdown behave as hypercorn's own."""

from __future__ import annotations

import asyncio
import socket
from email.utils import parsedate_to_datetime

import pytest

from pytake.hosting.lean_http import LeanConfig, install

BIG_PIECE = 32 * 1024
KEEP_ALIVE = 0.3  # seconds: a short keep-alive timeout, so the tests see it expire


class Server:
    def __init__(self) -> None:
        self.slow_started = asyncio.Event()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        assert install()
        config = LeanConfig()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.accesslog = config.errorlog = None
        config.keep_alive_timeout = KEEP_ALIVE
        config.graceful_timeout = 30
        self.stop = asyncio.Event()
        from hypercorn.asyncio import serve

        self.task = asyncio.create_task(serve(self.app, config, shutdown_trigger=self.stop.wait))

    async def app(self, scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        if scope["path"] == "/big":  # 2 MB in 64 pieces, more than the cork holds
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", str(BIG_PIECE * 64).encode())]})
            for i in range(64):
                await send({"type": "http.response.body", "body": bytes([65 + i % 26]) * BIG_PIECE,
                            "more_body": i < 63})
            return
        if scope["path"] == "/slow":  # a request that takes longer than the keep-alive timeout
            self.slow_started.set()
            await asyncio.sleep(KEEP_ALIVE * 3)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def connect(self):
        for _ in range(1200):  # up to a minute: a loaded machine starts a server slowly
            try:
                return await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.05)
        pytest.fail("the server never listened")

    async def close(self) -> None:
        self.stop.set()
        await self.task


async def _request(reader, writer, path: str = "/") -> bytes:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert await reader.readexactly(2) == b"ok"
    return head.lower()


@pytest.fixture
async def server():
    srv = Server()
    yield srv
    await srv.close()


async def test_a_connection_serves_many_requests_then_closes_once_idle_for_the_timeout(server):
    reader, writer = await server.connect()
    for _ in range(20):
        assert (await _request(reader, writer)).startswith(b"http/1.1 200")
    assert await asyncio.wait_for(reader.read(), 60) == b""  # idle: the server ends it
    writer.close()


async def test_a_request_longer_than_the_keep_alive_timeout_is_answered_and_the_connection_kept(server):
    reader, writer = await server.connect()
    assert (await _request(reader, writer, "/slow")).startswith(b"http/1.1 200")
    # busy for three timeouts, yet not closed: the next request on it is answered at once
    assert (await _request(reader, writer)).startswith(b"http/1.1 200")
    assert await asyncio.wait_for(reader.read(), 60) == b""
    writer.close()


async def test_shutdown_closes_idle_connections_and_busy_ones_after_their_response():
    server = Server()
    idle_reader, idle_writer = await server.connect()
    assert (await _request(idle_reader, idle_writer)).startswith(b"http/1.1 200")
    busy_reader, busy_writer = await server.connect()
    busy_writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    await asyncio.wait_for(server.slow_started.wait(), 60)
    server.stop.set()
    head = await asyncio.wait_for(busy_reader.readuntil(b"\r\n\r\n"), 60)
    assert head.startswith(b"HTTP/1.1 200") and await busy_reader.readexactly(2) == b"ok"
    assert await asyncio.wait_for(busy_reader.read(), 60) == b""
    assert await asyncio.wait_for(idle_reader.read(), 60) == b""
    await server.task
    idle_writer.close()
    busy_writer.close()


async def test_responses_carry_a_current_date_and_no_server_header(server):
    from datetime import datetime, timezone

    reader, writer = await server.connect()
    before = datetime.now(timezone.utc).replace(microsecond=0)
    head = await _request(reader, writer)
    after = datetime.now(timezone.utc)
    lines = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line)
    assert b"server" not in lines
    assert before <= parsedate_to_datetime(lines[b"date"].decode()) <= after
    writer.close()


async def test_the_keep_alive_timer_starts_no_task_per_request(server):
    """hypercorn's own timer started two tasks per request (the timeout and the wait it wraps)
    besides the request's own; one watcher per connection starts none."""
    loop = asyncio.get_running_loop()
    created = 0
    default = loop.get_task_factory()

    def counting(loop_, coro, **kwargs):
        nonlocal created
        created += 1
        return default(loop_, coro, **kwargs) if default else asyncio.Task(coro, loop=loop_, **kwargs)

    reader, writer = await server.connect()
    await _request(reader, writer)
    loop.set_task_factory(counting)
    try:
        for _ in range(10):
            await _request(reader, writer)
    finally:
        loop.set_task_factory(default)
    assert created <= 10  # the request's own task, no more
    writer.close()


async def test_a_small_response_leaves_in_one_send_and_a_large_one_whole_and_in_order(server):
    from hypercorn.asyncio import run as hypercorn_run

    lean = hypercorn_run.TCPServer
    sends: list[int] = []

    class Counting(lean):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            write = self.writer.write
            self.writer.write = lambda data: (sends.append(len(data)), write(data))[1]

    hypercorn_run.TCPServer = Counting
    try:
        reader, writer = await server.connect()
        head = await _request(reader, writer)
        assert head.startswith(b"http/1.1 200")
        assert len(sends) == 1 and sends[0] == len(head) + 2  # head and body in one send
        writer.write(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        body = await asyncio.wait_for(reader.readexactly(BIG_PIECE * 64), 60)
        assert body == b"".join(bytes([65 + i % 26]) * BIG_PIECE for i in range(64))
        assert (await _request(reader, writer)).startswith(b"http/1.1 200")  # the connection goes on
        writer.close()
    finally:
        hypercorn_run.TCPServer = lean
