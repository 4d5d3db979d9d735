"""The live route sends text through the server's ASGI ``send`` (`api.routes.live.text_sender`),
not Quart's ``websocket.send`` (a loop iteration, a handshake check and a signal per message),
and a live event's frame, built once for all its sockets, straight to hypercorn
(`api.routes.live.frame_sender`) when the socket has no extension: `pytake serve` declines
permessage-deflate (`pytake.hosting.websocket_deflate`)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from quart import Quart, websocket
from wsproto import Connection, ConnectionType
from wsproto.events import TextMessage

from api.live.frames import frame_text, text_frame
from api.routes.live import frame_sender, text_sender
from tests.hypercorn_server import hypercorn_serving


async def test_text_goes_straight_to_the_asgi_send_as_a_text_frame():
    app = Quart(__name__)
    used: list[bool] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        socket = websocket._get_current_object()
        send = text_sender(socket)
        used.append(send != socket.send)
        await send('{"type":"pong"}')

    received: asyncio.Queue = asyncio.Queue()
    await received.put({"type": "websocket.connect"})
    sent: list[dict] = []

    async def asgi_send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "ws",
             "path": "/ws", "raw_path": b"/ws", "query_string": b"", "root_path": "", "headers": [],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2), "subprotocols": [], "extensions": {}}
    await asyncio.wait_for(app(scope, received.get, asgi_send), 30)

    assert used == [True]  # not Quart's fallback
    assert [m["type"] for m in sent][:2] == ["websocket.accept", "websocket.send"]
    assert sent[1]["text"] == '{"type":"pong"}' and sent[1].get("bytes") is None


@pytest.mark.parametrize("text", ["oi", "é" * 150, "x" * 70_000])  # 7-bit, 16-bit and 64-bit lengths
def test_a_ready_made_frame_is_the_text_frame_a_client_reads(text):
    client = Connection(ConnectionType.CLIENT)
    client.receive_data(text_frame(text))
    (message,) = list(client.events())
    assert isinstance(message, TextMessage) and message.data == text and message.message_finished
    assert frame_text(text_frame(text)) == text


@pytest.fixture
def deflate_offered_back(monkeypatch):
    """hypercorn's own permessage-deflate for the test, whatever ran `decline` in this process
    before (it patches hypercorn for the process); as it was again after the test."""
    from hypercorn.protocol import ws_stream
    from wsproto.extensions import PerMessageDeflate

    from pytake.hosting import websocket_deflate

    monkeypatch.setattr(ws_stream, "PerMessageDeflate", PerMessageDeflate)
    monkeypatch.setattr(websocket_deflate, "_declined", False)


async def _serve_frames(declined: bool) -> tuple[list, list[str], int]:
    """A hypercorn-served socket that sends two live events as the live route would; what
    the route saw (its frame sender) and what an aiohttp client offering permessage-deflate
    (as browsers do) read and negotiated. A frame sent after the client left is dropped
    quietly, as hypercorn drops a late ``websocket.send``."""
    from api.routes.live import _asgi_send
    from pytake.hosting.websocket_deflate import decline

    if declined:
        assert decline()
    app = Quart(__name__)
    seen: list = []

    @app.websocket("/ws")
    async def route() -> None:
        await websocket.accept()
        socket = websocket._get_current_object()
        send_frame, send = frame_sender(socket), text_sender(socket)
        seen.append((send_frame, _asgi_send(socket).__self__))
        for text in ('{"type":"event","n":1}', '{"type":"event","n":2,"text":"' + "é" * 100 + '"}'):
            if send_frame is not None:
                await send_frame(text_frame(text))
            else:
                await send(text)
        await asyncio.Event().wait()  # until the client leaves (Quart cancels the handler)

    got: list[str] = []
    async with hypercorn_serving(app) as port, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"ws://127.0.0.1:{port}/ws", compress=15)
        for _ in range(2):
            got.append((await asyncio.wait_for(ws.receive(), 30)).data)
        negotiated = ws.compress
        await ws.close()
        (send_frame, stream), = seen
        for _ in range(3000):
            if stream.closed:
                break
            await asyncio.sleep(0.01)
        assert stream.closed
        if send_frame is not None:
            await send_frame(text_frame('{"after":"close"}'))  # no error: nothing is sent
    return [send_frame is not None], got, negotiated


async def test_declined_deflate_sockets_get_the_ready_made_frames(deflate_offered_back):
    used_frames, got, negotiated = await _serve_frames(declined=True)
    assert negotiated == 0  # the browser's offer was declined
    assert used_frames == [True]  # frames went straight to hypercorn
    assert [json.loads(text)["n"] for text in got] == [1, 2] and json.loads(got[1])["text"] == "é" * 100


async def test_a_socket_with_deflate_negotiated_is_sent_texts(deflate_offered_back):
    used_frames, got, negotiated = await _serve_frames(declined=False)
    assert negotiated == 15  # hypercorn as it comes accepts the offer: frames are each socket's own
    assert used_frames == [False]
    assert [json.loads(text)["n"] for text in got] == [1, 2]


async def test_pytake_serve_declines_a_browsers_deflate_offer_and_delivers_events_whole(
        world, start_api, publisher, connect):
    org = await world.organization()
    sales = await world.department(org)
    seller = await world.user(org, "agent", sales)
    api = await start_api()
    client = await connect(api.ws_url(seller.token), compress=15)  # as a browser offers it
    await client.ready()
    assert client.ws.compress == 0
    conversation = await world.conversation(org, sales)
    long_text = "Olá! " + "ç" * 40_000  # a frame with a 16-bit length
    await world.inbound(conversation, long_text)
    await world.inbound(conversation, "oi")
    got = await client.wait(lambda: len(client.events(conversation)) == 2 and client.events(conversation),
                            "both messages")
    assert [e["event"]["data"]["message"]["content"]["text"] for e in got] == [long_text, "oi"]
