"""One API process's half of the live channel: its sockets, one Redis pub/sub
connection for all of them, and its heartbeat.

The hub subscribes to ``live:org:{organization_id}`` while at least one of its
sockets belongs to that organization, and hands each message to the sockets
allowed to see it (`api.live.audience`), in memory: an organization's sockets
are indexed by the departments and users they see (`Routes`), so routing an
event costs its deliveries, not the organization's sockets. A socket is a `Subscriber`:
it keeps the cursor of the last event it was given and drops anything at or
before it (at-least-once publishing, and the replay seam), and buffers live
messages while its replay runs. A live event's WebSocket frame is built once
for all the sockets it goes to (`api.live.frames`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import secrets
from typing import Any

from api.live import presence
from api.live.audience import Audience, Viewer
from api.live.frames import text_frame
from api.live.protocol import Cursor
from api.live.publisher import channel

log = logging.getLogger("pytake.live")

QUEUE_LIMIT = 2000  # messages waiting for one socket before it is closed as too slow
SHUTDOWN = None  # queued for a socket: the process is stopping
INTERRUPTED = ""  # queued for a socket: the pub/sub connection was lost, messages may be missing


class Subscriber:
    """One socket as the hub sees it: who, what it was last given, what waits to be sent."""

    def __init__(self, socket_id: str, viewer: Viewer) -> None:
        self.socket_id = socket_id
        self.viewer = viewer
        self.user = str(viewer.user_id)  # as audiences name users
        self.last = Cursor(0, 0)
        self.replaying = True
        self.held: list[tuple[Cursor | None, str | bytes]] = []
        # texts (str), live events' frames (bytes, `api.live.frames`), or SHUTDOWN / INTERRUPTED
        self.queue: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self.overflowed = asyncio.Event()

    def offer(self, cursor: Cursor | None, text: str | bytes) -> None:
        if self.replaying:
            self.held.append((cursor, text))
            return
        self._send(cursor, text)

    def _send(self, cursor: Cursor | None, text: str | bytes) -> None:
        if cursor is not None:
            if cursor <= self.last:
                return  # already given (replayed, or published twice)
            self.last = cursor
        if self.queue.qsize() >= QUEUE_LIMIT:
            self.overflowed.set()
            return
        self.queue.put_nowait(text)

    def replayed(self, cursor: Cursor, texts: list[tuple[Cursor, str]]) -> None:
        """The replay's events (in order) are given; the position is at least ``cursor``."""
        for c, text in texts:
            self._send(c, text)
        if cursor > self.last:
            self.last = cursor

    def go_live(self) -> None:
        """Replay over: what arrived meanwhile is given (what the replay gave is dropped), then live."""
        self.replaying = False
        held, self.held = self.held, []
        for c, text in held:
            self._send(c, text)


class Routes:
    """An organization's sockets on this process, indexed by what they may see
    (`Audience.visible_to`): whole-organization viewers, each department, each user.
    An event then reaches its audience by a few dict look-ups, whatever the number
    of sockets (1,000 agents of 10 departments: 100 look at an event, not 1,000)."""

    __slots__ = ("sockets", "whole", "by_department", "by_user")

    def __init__(self) -> None:
        self.sockets: dict[str, Subscriber] = {}
        self.whole: dict[str, Subscriber] = {}
        self.by_department: dict[str, dict[str, Subscriber]] = {}
        self.by_user: dict[str, dict[str, Subscriber]] = {}

    def __len__(self) -> int:
        return len(self.sockets)

    def __bool__(self) -> bool:
        return bool(self.sockets)

    def values(self) -> Any:
        return self.sockets.values()

    def add(self, sub: Subscriber) -> None:
        self.sockets[sub.socket_id] = sub
        self._index(sub)

    def pop(self, socket_id: str) -> Subscriber | None:
        sub = self.sockets.pop(socket_id, None)
        if sub is not None:
            self._unindex(sub)
        return sub

    def reindex(self, sub: Subscriber, viewer: Viewer) -> None:
        """The socket's viewer changed (role, departments): index it anew."""
        if self.sockets.get(sub.socket_id) is sub:
            self._unindex(sub)
            sub.viewer = viewer
            self._index(sub)
        else:
            sub.viewer = viewer

    def _index(self, sub: Subscriber) -> None:
        viewer = sub.viewer
        sub.user = str(viewer.user_id)
        self.by_user.setdefault(sub.user, {})[sub.socket_id] = sub  # everyone's: whose sockets are here
        if viewer.whole_organization:
            self.whole[sub.socket_id] = sub
            return
        for department in viewer.departments:
            self.by_department.setdefault(department, {})[sub.socket_id] = sub

    def _unindex(self, sub: Subscriber) -> None:
        self.whole.pop(sub.socket_id, None)
        for key, index in ((sub.user, self.by_user),
                           *((d, self.by_department) for d in sub.viewer.departments)):
            group = index.get(key)
            if group is not None:
                group.pop(sub.socket_id, None)
                if not group:
                    del index[key]

    def audience(self, audience: Audience) -> list[Subscriber]:
        """The sockets that may see an event of ``audience``, each once."""
        groups = [self.whole] if self.whole else []
        for department in audience.departments:
            group = self.by_department.get(department)
            if group:
                groups.append(group)
        for user in audience.users:
            group = self.by_user.get(user)
            if group:
                groups.append(group)
        if len(groups) == 1:
            return list(groups[0].values())
        seen: dict[str, Subscriber] = {}
        for group in groups:
            seen.update(group)
        return list(seen.values())


class Hub:
    def __init__(self, db: Any, redis: Any, redis_url: str, *, heartbeat_seconds: float = 5.0,
                 process_id: str | None = None) -> None:
        self.db = db
        self.redis = redis
        self.redis_url = redis_url
        self.process_id = process_id or f"{os.uname().nodename}-{os.getpid()}-{secrets.token_hex(3)}"
        self.heartbeat_seconds = heartbeat_seconds
        self._n = itertools.count(1)
        self.by_org: dict[str, Routes] = {}
        self._pubsub_client: Any = None
        self._pubsub: Any = None
        self._subscribed: dict[str, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None
        self._heart: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Task] = set()
        self._closing = False  # set by close(): the pub/sub reader ends even if its cancellation is lost

    # -- lifecycle -----------------------------------------------------------
    async def start(self) -> None:
        from api.redis_clients import pubsub_client

        self._pubsub_client = await pubsub_client(self.redis_url, client_name=pubsub_client_name(self.process_id))
        self._pubsub = self._pubsub_client.pubsub()
        try:
            await presence.beat(self.redis, self.process_id, self.heartbeat_seconds * 3)
        except Exception as exc:  # noqa: BLE001 - Redis out of reach at start: the API still serves (503s where
            # Redis is needed) and the heartbeat below registers this process once Redis answers
            log.warning("live: first heartbeat failed (%s); retrying every %s s", exc, self.heartbeat_seconds)
        self._heart = asyncio.create_task(self._heartbeat(), name="live-heartbeat")

    async def close(self) -> None:
        """Shutting down: every socket of this process is forgotten (their users
        marked away when it was their last), the heartbeat removed."""
        self._closing = True
        for task in (self._heart, self._reader):
            if task is not None:
                task.cancel()
        for subscribers in list(self.by_org.values()):
            for sub in list(subscribers.values()):
                sub.queue.put_nowait(SHUTDOWN)
                await self.remove(sub)
        try:
            await self.redis.delete(presence.proc_key(self.process_id))
            await self.redis.srem(presence.PROCS, self.process_id)
        except Exception as exc:  # noqa: BLE001 - Redis out of reach: the survivors' sweep removes this process
            log.warning("live: could not remove this process's heartbeat (%s)", exc)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._pubsub_client is not None:
            await self._pubsub_client.aclose()

    # -- sockets -------------------------------------------------------------
    async def add(self, viewer: Viewer) -> Subscriber:
        """Register a socket (replaying: live messages are held) and make sure its
        organization's channel is subscribed before returning."""
        sub = Subscriber(f"{self.process_id}:{next(self._n)}", viewer)
        org = str(viewer.organization_id)
        self.by_org.setdefault(org, Routes()).add(sub)
        try:
            await self._subscribe(org)
            count = await presence.join(self.redis, self.process_id, sub.socket_id, viewer.user_id,
                                        viewer.organization_id)
            if count == 1:
                await presence.went_online(self.db, self.redis, viewer.user_id, viewer.organization_id,
                                           sub.socket_id)
        except BaseException:
            await asyncio.shield(self.remove(sub))
            raise
        return sub

    async def remove(self, sub: Subscriber) -> None:
        org = str(sub.viewer.organization_id)
        subscribers = self.by_org.get(org)
        if subscribers is None or subscribers.pop(sub.socket_id) is None:
            return
        last_here = sub.user not in subscribers.by_user
        if not subscribers:
            self.by_org.pop(org, None)
            await self._unsubscribe(org)
        left = await presence.leave(self.redis, self.process_id, sub.socket_id, sub.viewer.user_id,
                                    sub.viewer.organization_id, last_here)
        if left == 0:
            await presence.went_away(self.db, self.redis, [(sub.viewer.organization_id, sub.viewer.user_id)])

    def update(self, sub: Subscriber, viewer: Viewer) -> None:
        """The socket's user as checked again (departments or role may have changed)."""
        routes = self.by_org.get(str(sub.viewer.organization_id))
        if routes is None:
            sub.viewer = viewer
        else:
            routes.reindex(sub, viewer)

    def spawn(self, work: Any) -> None:
        """Run ``work`` in the background (a typing indicator to Meta), kept until done."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def subscribers(self) -> int:
        return sum(len(s) for s in self.by_org.values())

    # -- pub/sub -------------------------------------------------------------
    async def _subscribe(self, org: str) -> None:
        async with self._lock:
            waiter = self._subscribed.get(org)
            if waiter is None:
                waiter = asyncio.get_running_loop().create_future()
                self._subscribed[org] = waiter
                await self._pubsub.subscribe(channel(org))
                if self._reader is None or self._reader.done():
                    self._reader = asyncio.create_task(self._read(), name="live-pubsub")
        await asyncio.shield(waiter)  # confirmed by Redis: nothing published from now on is missed

    async def _unsubscribe(self, org: str) -> None:
        async with self._lock:
            if org in self.by_org:  # a socket of it arrived meanwhile
                return
            self._subscribed.pop(org, None)
            await self._pubsub.unsubscribe(channel(org))

    async def _read(self) -> None:
        # close() cancels this task, but a cancellation landing in redis-py's timed read can be
        # lost (api/events/webhooks.py, `Deliverer._listen`): the flag ends the loop anyway
        while not self._closing:
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=False, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis went away: redis-py resubscribes when it is back
                log.exception("live: pub/sub connection lost; closing this process's sockets so they resume")
                for subscribers in list(self.by_org.values()):  # what was published meanwhile is lost to
                    for sub in list(subscribers.values()):  # them: they reconnect with ?after= and replay it
                        sub.queue.put_nowait(INTERRUPTED)
                await asyncio.sleep(0.5)
                continue
            if message is None:
                continue
            name = _s(message.get("channel"))
            org = name.rpartition(":")[2]
            if message["type"] == "subscribe":
                waiter = self._subscribed.get(org)
                if waiter is not None and not waiter.done():
                    waiter.set_result(True)
            elif message["type"] == "message":
                data = message["data"]
                lines = (data.decode() if isinstance(data, bytes) else data).split("\n")
                for i in range(0, len(lines) - 1, 2):  # header, text (on a cluster: header, text, ...)
                    self.route(org, lines[i], lines[i + 1])

    def route(self, org: str, head: str, text: str) -> None:
        """Hand one published message (its header line and its text; a PUBLISH may carry
        several such pairs: `api.live.publisher.WIRE_SEPARATOR`) to the organization's
        sockets that may see it."""
        subscribers = self.by_org.get(org)
        if not subscribers:
            return
        header = json.loads(head)
        audience = Audience.from_header(header)
        cursor = Cursor.parse(header["c"]) if "c" in header else None
        typist = header.get("t")  # a typing notice: not to the typist
        only = header.get("s")  # a user's status: to that user's sockets only
        skip = header.get("x")  # ... but the one socket that answered it itself
        frame = None  # built once, for the first socket that takes it
        for sub in subscribers.audience(audience):
            if typist is not None and sub.user == typist:
                continue
            if only is not None and (sub.user != only or sub.socket_id == skip):
                continue
            if frame is None:
                frame = text_frame(text)
            sub.offer(cursor, frame)

    # -- heartbeat -----------------------------------------------------------
    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                alive = await presence.beat(self.redis, self.process_id, self.heartbeat_seconds * 3)
                if not alive:  # swept while stalled: record this process's sockets again
                    log.warning("live: heartbeat of %s had expired; re-registering its sockets", self.process_id)
                    for subscribers in list(self.by_org.values()):
                        for sub in list(subscribers.values()):
                            if await presence.join(self.redis, self.process_id, sub.socket_id,
                                                   sub.viewer.user_id, sub.viewer.organization_id) == 1:
                                await presence.went_online(self.db, self.redis, sub.viewer.user_id,
                                                           sub.viewer.organization_id, sub.socket_id)
                await presence.sweep(self.db, self.redis)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the next beat retries (Redis out of reach: no traceback)
                log.warning("live: heartbeat failed (%s: %s)", type(exc).__name__, exc)


def pubsub_client_name(process_id: str) -> str:
    """The name (CLIENT SETNAME) of a process's pub/sub connection: operators can find it in CLIENT LIST."""
    return f"pytake-live:{process_id}"


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

