"""Keep-alive connections evened out over `pytake serve --processes N`
(pytake.hosting.connection_balance): a process holding more than its share of
active connections closes some after their response, so clients reconnect and
the kernel places them anew."""

from __future__ import annotations

import asyncio

from pytake.hosting.connection_balance import ACTIVE, PERIOD, ConnectionBalancer, balanced
from pytake.hosting.lean_http import LeanConfig, install
from tests.hypercorn_server import hypercorn_serving


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_process_over_its_share_closes_the_excess_and_no_more():
    clock = Clock()
    loads = [0, 2]  # the other process has 2 active connections
    mine = ConnectionBalancer(loads, 0, clock=clock)
    assert not any(mine.should_close(("10.0.0.1", c)) for c in range(5))  # the first look saw 1 here
    clock.now += PERIOD  # next look: 5 here, 2 there, share 3.5 → close 1
    closed = [c for c in range(5) if mine.should_close(("10.0.0.1", c))]
    assert closed == [0]
    assert loads[0] == 5
    clock.now += PERIOD  # 4 here (the closed one is gone until it comes back), share 3: not over share + 1
    assert not any(mine.should_close(("10.0.0.1", c)) for c in range(1, 5))
    assert loads[0] == 4


def test_an_even_split_closes_nothing():
    clock = Clock()
    loads = [0, 25]
    mine = ConnectionBalancer(loads, 0, clock=clock)
    for _ in range(3):
        clock.now += PERIOD
        assert not any(mine.should_close(c) for c in range(26))  # 26 against 25: within one


def test_idle_clients_stop_counting():
    clock = Clock()
    loads = [0, 1]
    mine = ConnectionBalancer(loads, 0, clock=clock)
    for c in range(6):
        mine.should_close(c)
    clock.now += ACTIVE + PERIOD  # all six went quiet; one comes back
    assert not mine.should_close(0)
    assert loads[0] == 1


async def _closing_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def _request(reader, writer) -> bytes:
    writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    await reader.readexactly(2)
    return head.lower()


async def test_hypercorn_ends_the_connection_after_a_complete_response():
    """The real server honours the header: the response arrives whole, then the connection ends."""
    clock = Clock()
    balancer = ConnectionBalancer([0, 0], 0, clock=clock)
    async with hypercorn_serving(balanced(_closing_app, balancer)) as port:
        connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(4)]
        for reader, writer in connections:  # 4 active here, none elsewhere
            assert b"connection: close" not in await _request(reader, writer)
        clock.now += PERIOD
        heads = [await _request(reader, writer) for reader, writer in connections]
        closed = [i for i, head in enumerate(heads) if b"connection: close" in head]
        assert closed == [0, 1]  # 4 against a share of 2: two are told to go
        assert await asyncio.wait_for(connections[0][0].read(), 60) == b""  # and the server ended them
        assert (await _request(*connections[2])).startswith(b"http/1.1 200")  # the others stay open
        for _, writer in connections:
            writer.close()


class _HookRoute:
    """A raw POST route (pytake.hosting.raw_post) for /hook: its answer says it answered."""

    max_body = 1000

    def __init__(self) -> None:
        self.calls = 0

    @staticmethod
    def answers(path: str) -> bool:
        return path == "/hook"

    async def __call__(self, path, headers, body):
        self.calls += 1
        return 200, [], b"route"


class _AppWithHook:
    """`_closing_app` ("ok"), with the raw route for /hook the webhook app has."""

    def __init__(self) -> None:
        self.raw_post_route = _HookRoute()

    async def __call__(self, scope, receive, send):
        await _closing_app(scope, receive, send)


async def _post(reader, writer) -> tuple[bytes, bytes]:
    writer.write(b"POST /hook HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
    return head, await reader.readexactly(length)


async def test_webhook_posts_keep_their_fast_path_and_are_balanced_too():
    """`pytake serve --processes N` wraps the app in `balanced`: Meta's POSTs are still
    answered by the app's raw route in front of hypercorn, and count and close like the rest."""
    clock = Clock()
    balancer = ConnectionBalancer([0, 0], 0, clock=clock)
    inner = _AppWithHook()
    route = inner.raw_post_route
    app = balanced(inner, balancer)
    assert install()
    config = LeanConfig()  # the server `pytake serve` runs: raw POSTs answered in front of hypercorn
    async with hypercorn_serving(app, config) as port:
        connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(4)]
        for reader, writer in connections:  # 4 active here, none elsewhere
            head, body = await _post(reader, writer)
            assert body == b"route" and b"connection: close" not in head
        assert route.calls == 4  # the raw route answered, not the ASGI app ("ok")
        clock.now += PERIOD
        answers = [await _post(reader, writer) for reader, writer in connections]
        assert [body for _, body in answers] == [b"route"] * 4
        assert [i for i, (head, _) in enumerate(answers) if b"connection: close" in head] == [0, 1]
        assert await asyncio.wait_for(connections[0][0].read(), 60) == b""  # the server ended it
        assert (await _post(*connections[3]))[1] == b"route"  # the others stay open
        for _, writer in connections:
            writer.close()
