"""One socket's life: replay from the client's cursor, then live messages out and
client messages (typing, status, ping) in, until either side closes.

The route (`api.routes.live`) authenticates and builds the `Viewer`; this module
runs the rest with the process's `Hub` and is the same for every transport
(`send`/`receive` are the socket's own).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from api.assignment import STATUSES
from api.live import presence as live_presence
from api.live import typing_indicator
from api.live.audience import Viewer
from api.live.frames import frame_text
from api.live.hub import INTERRUPTED, SHUTDOWN, Hub
from api.live.protocol import CloseCode, Cursor, dumps, error_message, ready_message
from api.live.replay import TooFarBehind, head, replay

log = logging.getLogger("pytake.live")

class Closing(Exception):
    """End the socket with ``code`` and ``reason`` (`CloseCode`)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class Session:
    hub: Hub
    viewer: Viewer
    send: Callable[[str], Awaitable[None]]
    receive: Callable[[], Awaitable[Any]]
    # raises `Closing` when the token no longer holds; returns a fresh viewer (departments may change)
    recheck: Callable[[], Awaitable[Viewer]]
    next_check: Callable[[], float]  # seconds until the token is checked again
    graph: Any
    settings: Any
    indicator_seconds: float = 20.0
    socket_id: str | None = None  # the hub's id of this socket, once registered
    # how a live event's ready-made frame goes out (`api.live.frames`); None: as its text, through `send`
    send_frame: Callable[[bytes], Awaitable[None]] | None = None

    async def run(self, after: Cursor | None) -> None:
        """Serve until the client leaves (returns) or `Closing` is raised."""
        sub = await self.hub.add(self.viewer)
        self.socket_id = sub.socket_id
        tasks: list[asyncio.Task] = []
        try:
            until = await head(self.hub.db)
            replayed: list[tuple[Cursor, str]] = []
            if after is not None:
                try:
                    replayed = [item async for item in replay(self.hub.db, self.viewer, after, until)]
                except TooFarBehind:
                    raise Closing(CloseCode.RESYNC, "cursor_too_old") from None
            status = await self._status()
            sub.replayed(until if after is None or until > after else after, replayed)
            sub.queue.put_nowait(ready_message(  # after the replay, before anything live
                sub.last, len(replayed), user_id=str(self.viewer.user_id),
                organization_id=str(self.viewer.organization_id), role=self.viewer.role, scope=self.viewer.scope,
                department_ids=sorted(self.viewer.departments), status=status))
            sub.go_live()
            tasks = [asyncio.create_task(self._write(sub)), asyncio.create_task(self._read()),
                     asyncio.create_task(self._watch(sub))]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a Closing, or the client went away
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.shield(self.hub.remove(sub))  # even when the client's leaving cancelled us

    async def _write(self, sub: Any) -> None:
        send, send_frame = self.send, self.send_frame
        while True:
            item = await sub.queue.get()
            if type(item) is bytes:  # a live event's frame
                if send_frame is not None:
                    await send_frame(item)
                else:
                    await send(frame_text(item))
                continue
            if item is SHUTDOWN:
                raise Closing(CloseCode.GOING_AWAY, "server_shutdown")
            if item == INTERRUPTED:
                raise Closing(CloseCode.INTERRUPTED, "interrupted")
            await send(item)

    async def _watch(self, sub: Any) -> None:
        """The token is checked again every so often (and at its expiry); a slow reader is cut off."""
        while True:
            try:
                await asyncio.wait_for(sub.overflowed.wait(), self.next_check())
                raise Closing(CloseCode.TOO_SLOW, "too_slow")
            except asyncio.TimeoutError:
                pass
            viewer = await self.recheck()
            self.viewer = viewer
            self.hub.update(sub, viewer)  # its departments may have changed: routed anew

    async def _read(self) -> None:
        while True:
            raw = await self.receive()
            try:
                message = json.loads(raw)
            except (TypeError, ValueError):
                await self.send(error_message("bad_message", "messages must be JSON objects"))
                continue
            if not isinstance(message, dict):
                await self.send(error_message("bad_message", "messages must be JSON objects"))
                continue
            kind = message.get("type")
            if kind == "ping":
                await self.send(dumps({"type": "pong"}))
            elif kind == "typing":
                await self._typing(message.get("conversation_id"))
            elif kind == "status":
                await self._set_status(message.get("status"))
            else:
                await self.send(error_message("unknown_type", "type must be one of typing, status, ping", "type"))

    async def _typing(self, value: Any) -> None:
        try:
            conversation_id = uuid.UUID(str(value))
        except ValueError:
            await self.send(error_message("validation_error", "conversation_id must be a UUID", "conversation_id"))
            return
        if not self.viewer.may_type:
            await self.send(error_message("forbidden", "viewers cannot type in conversations", "conversation_id"))
            return
        try:
            row = await typing_indicator.conversation_for(self.hub.db, self.viewer, conversation_id)
        except typing_indicator.NotVisible:
            await self.send(error_message("not_found", "no such conversation among yours", "conversation_id"))
            return
        redis = self.hub.redis
        await typing_indicator.typing(redis, self.viewer, conversation_id, row)
        if self.graph is not None and await typing_indicator.indicator_due(redis, conversation_id,
                                                                         self.indicator_seconds):
            self.hub.spawn(typing_indicator.send_indicator(self.graph, self.settings, row))

    async def _set_status(self, status: Any) -> None:
        if status not in STATUSES:
            await self.send(error_message("validation_error", "status must be online or away", "status"))
            return
        if not self.viewer.may_set_status:
            await self.send(error_message("forbidden", "your role cannot take conversations: no status to set",
                                          "status"))
            return
        presence = await live_presence.change_status(self.hub.db, self.hub.redis, self.viewer.user_id,
                                                     self.viewer.organization_id, status,
                                                     except_socket=self.socket_id)
        if presence is not None:  # this socket's answer (the others were told by the announcement)
            await self.send(live_presence.status_message(presence))

    async def _status(self) -> str:
        async with self.hub.db.raw() as conn:
            online = await conn.fetchval("SELECT is_online FROM users WHERE id = $1", self.viewer.user_id)
        return "online" if online else "away"
