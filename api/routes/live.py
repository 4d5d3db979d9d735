"""``GET /live``: the agents' live channel, a WebSocket (protocol: docs/live.md).

The access token comes as ``?access_token=`` (browsers cannot set headers on a
WebSocket) or an ``Authorization: Bearer`` header, and goes through the same
checks as HTTP (`api.auth.permissions.authenticate_token`: signature, expiry,
logout blacklist, ended sessions, active user), again every
``live_recheck_seconds`` and at the token's expiry. A refusal accepts the socket
and closes it at once with ``4401`` (reason: the error code, e.g.
``token_expired``), so clients can read why. ``?after=<cursor>`` resumes.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any, Awaitable, Callable

from quart import Blueprint, current_app, websocket

from api.auth.permissions import authenticate_token
from api.context import get_db, get_redis, get_settings
from api.errors import ApiError
from api.live import CloseCode, Closing, Cursor, Hub, Session, load_viewer

log = logging.getLogger("pytake.live")

blueprint = Blueprint("live", __name__)
HUB_KEY = "pytake.live.hub"
GRAPH_KEY = "pytake.live.graph"
_fallback_told = False


def _hub() -> Hub:
    return current_app.extensions[HUB_KEY]


@blueprint.before_app_serving
async def open_live() -> None:
    """Every API process runs a hub from the start: its heartbeat sweeps the sockets
    of processes that died, even before a socket of its own arrives."""
    settings = get_settings()
    hub = Hub(get_db(), get_redis(), settings.redis_url or "", heartbeat_seconds=float(settings.live_heartbeat_seconds))
    await hub.start()
    current_app.extensions[HUB_KEY] = hub


def _graph() -> Any:
    graph = current_app.extensions.get(GRAPH_KEY)
    if graph is None:
        from api.whatsapp.config import WhatsAppConfig
        from api.whatsapp.graph_client import GraphClient

        config = WhatsAppConfig.from_settings(get_settings())
        graph = current_app.extensions[GRAPH_KEY] = GraphClient(config.graph_url, config.graph_version, timeout=10.0,
                                                                connections=8)
    return graph


@blueprint.after_app_serving
async def close_live() -> None:
    hub = current_app.extensions.pop(HUB_KEY, None)
    if hub is not None:
        await hub.close()
    graph = current_app.extensions.pop(GRAPH_KEY, None)
    if graph is not None:
        await graph.aclose()


def _asgi_send(ws: Any) -> Any:
    """The server's ASGI ``send`` under Quart's websocket (``_send``: a partial of its ASGI
    connection's ``send_data`` over it, in the Quart this was written against), or None."""
    inner = getattr(ws, "_send", None)
    asgi_send = inner.args[0] if isinstance(inner, partial) and len(inner.args) == 1 else None
    return asgi_send if callable(asgi_send) else None


def text_sender(ws: Any) -> Callable[[str], Awaitable[None]]:
    """How the session sends a text message on the (accepted) socket: the server's
    ASGI ``send`` itself. Quart's ``websocket.send`` also yields to the event loop
    before every message (``asyncio.sleep(0)``), checks the handshake again and fires
    a signal: with hundreds of sockets, each given every event of its department, that
    was about a sixth of an API process's time. Quart's own ``send`` when its
    websocket is not built as this version builds it."""
    asgi_send = _asgi_send(ws)
    if asgi_send is None:
        global _fallback_told
        if not _fallback_told:
            _fallback_told = True
            log.warning("live: Quart's websocket has no ASGI send where expected; sending through websocket.send")
        return ws.send

    async def send(text: str) -> None:
        await asgi_send({"type": "websocket.send", "bytes": None, "text": text})

    return send


def frame_sender(ws: Any) -> Callable[[bytes], Awaitable[None]] | None:
    """How the session sends a live event's ready-made frame (`api.live.frames`) on the
    (accepted) socket: straight to hypercorn's connection, as hypercorn's own
    ``websocket.send`` ends (a ``Data`` event for the stream) once wsproto has encoded the
    text; wsproto's encoding was about a quarter of an API process's time with 1,000
    agents. None (the session then sends texts) unless the server is hypercorn as this
    was written against and the socket has no extension (a negotiated permessage-deflate
    makes each socket's frames its own; `pytake serve` negotiates none:
    `pytake.hosting.websocket_deflate`)."""
    stream = getattr(_asgi_send(ws), "__self__", None)
    connection = getattr(stream, "connection", None)
    protocol = getattr(connection, "_proto", None)
    send = getattr(stream, "send", None)
    if (not callable(send) or getattr(protocol, "extensions", None) != [] or not hasattr(stream, "stream_id")
            or not hasattr(stream, "closed") or not hasattr(connection, "state")):
        return None
    try:
        from hypercorn.protocol.events import Data
        from wsproto.connection import ConnectionState
    except ImportError:
        return None
    opened = ConnectionState.OPEN

    async def send_frame(frame: bytes) -> None:
        # what hypercorn does with a send after a close: nothing (wsproto refuses it, hypercorn drops it)
        if not stream.closed and connection.state is opened:
            await send(Data(stream_id=stream.stream_id, data=frame))

    return send_frame


def _token() -> str:
    token = websocket.args.get("access_token", "")
    if not token:
        scheme, _, value = websocket.headers.get("Authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else ""
    return token


async def _viewer(token: str) -> tuple[Any, float]:
    """The viewer of a token and when the token expires; `Closing` when refused."""
    if not token:
        raise Closing(CloseCode.UNAUTHORIZED, "missing_token")
    try:
        principal = await authenticate_token(token, count_rate=False)
    except ApiError as exc:
        raise Closing(CloseCode.UNAUTHORIZED, exc.code) from None
    viewer = await load_viewer(get_db(), principal.user_id, principal.organization_id)
    if viewer is None:
        raise Closing(CloseCode.FORBIDDEN, "user_inactive")
    expires = principal.token_expires_at.timestamp() if principal.token_expires_at else float("inf")
    return viewer, expires


@blueprint.websocket("/live")
async def live() -> None:
    """The agents' live channel (docs/live.md)."""
    await websocket.accept()
    token = _token()
    settings = get_settings()
    try:
        viewer, expires = await _viewer(token)
        raw_after = websocket.args.get("after")
        try:
            after = Cursor.parse(raw_after) if raw_after else None
        except ValueError:
            raise Closing(CloseCode.BAD_REQUEST, "invalid_after") from None

        async def recheck() -> Any:
            if time.time() >= expires:
                raise Closing(CloseCode.UNAUTHORIZED, "token_expired")
            return (await _viewer(token))[0]

        def next_check() -> float:  # every live_recheck_seconds, and at the token's expiry
            return max(0.05, min(float(settings.live_recheck_seconds), expires - time.time()))

        ws = websocket._get_current_object()
        session = Session(_hub(), viewer, text_sender(ws), ws.receive, recheck, next_check, _graph(), settings,
                          float(settings.live_typing_indicator_seconds), send_frame=frame_sender(ws))
        await session.run(after)
    except Closing as closing:
        await websocket.close(closing.code, closing.reason)
