"""Meta's webhook POSTs answered in front of hypercorn's HTTP/1.1 machinery
(pytake/hosting/raw_post.py): plain requests on the route's paths are answered by the
route; anything else, and the rest of that connection, is hypercorn's as before."""

from __future__ import annotations

import asyncio
import socket

import pytest

from pytake.hosting.lean_http import LeanConfig, install
from pytake.hosting.raw_post import HAND_OVER, MORE, parse_head


class Route:
    """A raw route answering POSTs to /hook and /hook/<key>: its answer names the path and body."""

    max_body = 1000

    def __init__(self) -> None:
        self.calls: list[tuple[str, list, bytes]] = []

    @staticmethod
    def answers(path: str) -> bool:
        return path == "/hook" or (path.startswith("/hook/") and "/" not in path[6:])

    async def __call__(self, path, headers, body):
        self.calls.append((path, headers, body))
        return 202, [(b"content-type", b"text/plain")], b"route " + path.encode() + b" " + body


class App:
    """The ASGI app: what hypercorn answers (its body says "asgi")."""

    def __init__(self) -> None:
        self.raw_post_route = Route()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        answer = b"asgi " + scope["method"].encode() + b" " + scope["path"].encode() + b" " + body
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})


@pytest.fixture
async def served():
    from hypercorn.asyncio import serve

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert install()
    config = LeanConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = config.errorlog = None
    config.keep_alive_max_requests = 5
    app = App()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))

    async def connect():
        for _ in range(1200):  # up to a minute: a loaded machine starts a server slowly
            if task.done():
                task.result()
            try:
                return await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
        pytest.fail("the server never listened")

    yield app, connect
    stop.set()
    await task


def post(path: str, body: bytes, *extra: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: t", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def response(reader) -> tuple[int, dict[bytes, bytes], bytes]:
    """The next final response (a 100 Continue before it is skipped)."""
    lines = [b"HTTP/1.1 100"]
    while int(lines[0].split()[1]) < 200:
        lines = (await reader.readuntil(b"\r\n\r\n"))[:-4].split(b"\r\n")
    headers = dict((k.strip().lower(), v.strip()) for k, v in (line.split(b":", 1) for line in lines[1:]))
    return int(lines[0].split()[1]), headers, await reader.readexactly(int(headers[b"content-length"]))


async def test_webhook_posts_are_answered_by_the_route_many_on_one_connection(served):
    app, connect = served
    reader, writer = await connect()
    for i in range(3):
        writer.write(post("/hook/k1", b"%d" % i))
        status, headers, body = await response(reader)
        assert (status, headers[b"content-type"], body) == (202, b"text/plain", b"route /hook/k1 %d" % i)
        assert b"date" in headers and b"connection" not in headers
    assert [path for path, _, _ in app.raw_post_route.calls] == ["/hook/k1"] * 3
    assert (b"host", b"t") in app.raw_post_route.calls[0][1]
    writer.close()


async def test_a_request_in_pieces_and_pipelined_requests_are_answered_in_order(served):
    app, connect = served
    reader, writer = await connect()
    whole = post("/hook", b'{"a": 1}')
    for piece in (whole[:5], whole[5:30], whole[30:-3], whole[-3:]):  # the route sees it whole, once
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0)
    assert (await response(reader))[2] == b'route /hook {"a": 1}'
    writer.write(post("/hook", b"one") + post("/hook", b"two"))
    assert [(await response(reader))[2] for _ in range(2)] == [b"route /hook one", b"route /hook two"]
    assert [body for _, _, body in app.raw_post_route.calls] == [b'{"a": 1}', b"one", b"two"]
    writer.close()


@pytest.mark.parametrize("request_bytes", [
    b"GET /hook HTTP/1.1\r\nHost: t\r\n\r\n",  # not a POST
    post("/other", b"x"),  # a path the route does not answer
    post("/hook/a%2Fb", b"x"),  # escaped: hypercorn decodes it
    b"POST /hook HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
    post("/hook", b"x", "Expect: 100-continue"),
    post("/hook", b"x" * 1001),  # beyond the route's max_body
    b"POST /hook HTTP/1.0\r\nHost: t\r\nContent-Length: 1\r\n\r\nx",
])
async def test_other_requests_are_hypercorns_and_so_is_the_rest_of_the_connection(served, request_bytes):
    app, connect = served
    reader, writer = await connect()
    writer.write(request_bytes)
    status, _, body = await response(reader)
    assert status == 200 and body.startswith(b"asgi ")
    if status == 200 and request_bytes.startswith(b"POST /hook HTTP/1.1"):
        writer.write(post("/hook", b"again"))  # same connection: hypercorn answers from now on
        assert (await response(reader))[2] == b"asgi POST /hook again"
    assert app.raw_post_route.calls == []
    writer.close()


async def test_a_malformed_head_gets_hypercorns_400(served):
    app, connect = served
    reader, writer = await connect()
    writer.write(b"POST /hook HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nBad Header: x\r\n\r\nx")
    status, _, _ = await response(reader)
    assert status == 400 and app.raw_post_route.calls == []
    writer.close()


async def test_connection_close_and_the_keep_alive_request_limit_close_after_the_answer(served):
    app, connect = served
    reader, writer = await connect()
    writer.write(post("/hook", b"bye", "Connection: close"))
    status, headers, body = await response(reader)
    assert (status, headers[b"connection"], body) == (202, b"close", b"route /hook bye")
    assert await reader.read() == b""  # closed by the server
    reader, writer = await connect()
    answers = []
    for i in range(5):  # keep_alive_max_requests = 5
        writer.write(post("/hook", b"%d" % i))
        answers.append((await response(reader))[1].get(b"connection"))
    assert answers == [None, None, None, None, b"close"]
    assert await reader.read() == b""


def test_the_head_is_parsed_once_whole_and_other_requests_are_handed_over():
    route = Route()
    whole = post("/hook", b"body")
    assert parse_head(whole[:3], route) == MORE and parse_head(whole[:-6], route) == MORE
    path, headers, close, start, length = parse_head(whole[:-1], route)  # the body is the front's to wait for
    assert (path, close, whole[start:start + length]) == ("/hook", False, b"body")
    assert parse_head(b"GET ", route) == HAND_OVER  # known at once: not a POST
    assert parse_head(b"POST /hook HTTP/1.1\r\nHost: t\r\n\r\n", route) == HAND_OVER  # no Content-Length
    assert parse_head(post("/hook", b"x", "Content-Length: 1"), route) == HAND_OVER  # two of them
    assert parse_head(post("/hook", b"x", "X: a\x00b"), route) == HAND_OVER
    assert parse_head(b"POST /hook HTTP/1.1\r\n" + b"X: y\r\n" * 4000, route) == HAND_OVER  # head too long
