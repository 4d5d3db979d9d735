"""The live route sends text through the server's ASGI ``send`` (`api.routes.live.text_sender`),
not Quart's ``websocket.send`` (a loop iteration, a handshake check and a signal per message)."""

from __future__ import annotations

import asyncio

from quart import Quart, websocket

from api.routes.live import text_sender


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
