"""bench/http_lite: the benchmarks' customers and Graph API stand-in must speak
HTTP/1.1 as the real clients and servers do, or the figures measure nothing."""

from __future__ import annotations

import asyncio
import fcntl
import socket
import struct
import termios
import time

from api.sandbox.server import SandboxApp, SandboxConfig, SandboxState
from api.whatsapp.graph_client import GraphClient, PermanentGraphError
from bench import http_lite

import pytest


async def _echo(method, path, query, body, headers):
    return 200, {"method": method, "path": path, "query": query, "body": body.decode(),
                 "token": headers.get("x-token")}


async def test_the_sandbox_routes_answer_pytakes_graph_client_over_keep_alive():
    app = SandboxApp(SandboxState(SandboxConfig(send_statuses=False)))
    server = await http_lite.serve(app.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    graph = GraphClient(f"http://127.0.0.1:{port}", "v21.0")
    try:
        first = await graph.send_text("123", "token", "5511999990001", "oi")
        second = await graph.send_text("123", "token", "5511999990002", "tudo bem?")
        assert first.wamid.startswith("wamid.") and first.wamid != second.wamid
        assert [m["to"] for m in app.state.accepted] == ["5511999990001", "5511999990002"]
        with pytest.raises(PermanentGraphError) as failed:  # Meta's error object, status and code
            await graph.send_text("123", "token", "5511900131047", "oi")
        assert failed.value.code == 131047
    finally:
        await graph.aclose()
        server.close()


async def test_a_pool_reuses_its_connection_and_replaces_one_the_server_closed():
    server = await http_lite.serve(_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = http_lite.ConnectionPool(port)
    try:
        status, body = await pool.request("POST", "/hook?x=1", {"X-Token": "t"}, b'{"a": 1}')
        assert status == 200 and b'"query": "x=1"' in body and b'"token": "t"' in body
        (conn,) = pool._idle
        conn.writer.transport.abort()  # the server side of a keep-alive connection went away
        await asyncio.sleep(0.01)
        status, body = await pool.request("GET", "/again", {})
        assert status == 200 and b'"/again"' in body
        assert pool._idle[0] is not conn
    finally:
        pool.close()
        server.close()


async def test_connection_close_is_honoured_both_ways():
    server = await http_lite.serve(_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn = http_lite.Connection(port)
    try:
        status, _ = await conn.request("GET", "/", {"Connection": "close"})
        assert status == 200 and conn.writer is None  # the server said close: the client dropped it
        status, _ = await conn.request("GET", "/", {})  # and opens a new one next time
        assert status == 200 and conn.writer is not None
    finally:
        conn.close()
        server.close()


async def _response(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    """One whole response (its head and Content-Length body may come in separate reads)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += await loop.sock_recv(sock, 4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += await loop.sock_recv(sock, 4096)
    return data


def _acknowledged(sock: socket.socket) -> float:
    """Block (this thread, and so its event loop) until the peer's kernel acknowledged every byte
    sent on ``sock`` (Linux's SIOCOUTQ: bytes not yet acknowledged); the time it had."""
    while True:
        left = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        if left == 0:
            return time.time()
        time.sleep(0.001)


async def test_a_stamped_server_tells_when_a_request_reached_it_not_when_its_loop_read_it():
    """bench/campaign.py ends a live reply when it reached the Graph API stand-in's socket: the
    stand-in's own loop, busy posting status webhooks, may read it much later."""
    seen = []

    async def handle(method, path, query, body, headers):
        seen.append((path, float(headers["x-received-at"]), time.time()))
        return 200, {}

    server = await http_lite.serve(handle, "127.0.0.1", 0, received_header="X-Received-At")
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    client = socket.create_connection(("127.0.0.1", port))
    client.setblocking(False)
    try:
        for path in ("/first", "/late"):
            sent = time.time()
            client.send(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}".encode())
            if path == "/late":  # the loop is busy: the request waits in the kernel, unread
                taken = _acknowledged(client)  # the server's kernel has it (on a busy machine, later than sent)
                time.sleep(0.2)
            answer = await asyncio.wait_for(_response(loop, client), 10)
            assert answer.startswith(b"HTTP/1.1 200 OK")
            received, handled = seen[-1][1:]
            assert seen[-1][0] == path and sent - 0.01 <= received <= handled
        assert received <= taken + 0.01  # stamped when it arrived,
        assert handled - received >= 0.19  # and the loop read it 0.2 s later
    finally:
        client.close()
        server.close()
