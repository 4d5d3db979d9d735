"""Even out keep-alive connections over the processes of `pytake serve --processes N`.

Each process binds its own SO_REUSEPORT socket, and the kernel places every
new connection by a hash of its addresses: near even, not exact. Keep-alive
connections then stay where they landed, so a few long-lived clients (a load
balancer's pool, the benchmark's 50 clients) can split 33/17 over two
processes, and the busier process sets everyone's p99.

Each process counts its *active* connections (clients that sent a request in
the last second) and publishes the count in an array shared by all the
processes, at most every 100 ms. A process holding more than its share (the
average plus one) answers the next requests of that many of its clients with
``Connection: close``. HTTP/1.1 lets a server close a keep-alive connection
after any response; the client opens a new one, which the kernel places anew
(with two processes, a coin flip). A few such rounds even the split out.
Nothing is lost: the response is complete, only the connection ends.

Meta's webhook POSTs are answered in front of hypercorn (`pytake.hosting.raw_post`,
through the app's ``raw_post_route``): `balanced` hands that route on, wrapped in a
`BalancedRoute`, so those requests keep their fast path in every process and count
(and close) like the others.
"""

from __future__ import annotations

import time
from collections.abc import MutableSequence
from typing import Any, Awaitable, Callable

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]

PERIOD = 0.1  # seconds between two looks at the counts
ACTIVE = 1.0  # a client that sent nothing for this long no longer counts


class ConnectionBalancer:
    """One process's side: ``loads`` is shared by all (one slot each), ``index`` is its slot."""

    def __init__(self, loads: MutableSequence[int], index: int, *, clock: Callable[[], float] = time.monotonic):
        self.loads, self.index = loads, index
        self._clock = clock
        self._active: dict[Any, float] = {}
        self._next_look = 0.0
        self._to_close = 0

    def should_close(self, client: Any) -> bool:
        """Record a request from ``client``; True when its connection should close after the response."""
        now = self._clock()
        self._active[client] = now
        if now >= self._next_look:
            self._look(now)
        if self._to_close > 0:
            self._to_close -= 1
            del self._active[client]
            return True
        return False

    def _look(self, now: float) -> None:
        self._next_look = now + PERIOD
        cutoff = now - ACTIVE
        self._active = {c: t for c, t in self._active.items() if t >= cutoff}
        mine = len(self._active)
        self.loads[self.index] = mine
        share = sum(self.loads) / len(self.loads)
        self._to_close = int(mine - share) if mine > share + 1 else 0


class BalancedRoute:
    """An app's ``raw_post_route`` (`pytake.hosting.raw_post`) with the balancer's say:
    the raw front asks `should_close` for each request it answers."""

    def __init__(self, route: Any, balancer: ConnectionBalancer) -> None:
        self.route, self.balancer = route, balancer

    @property
    def max_body(self) -> int | None:
        return self.route.max_body

    def answers(self, path: str) -> bool:
        return self.route.answers(path)

    async def __call__(self, path: str, headers: Any, body: bytes) -> Any:
        return await self.route(path, headers, body)

    def should_close(self, client: Any) -> bool:
        return self.balancer.should_close(client)


def balanced(app: ASGIApp, balancer: ConnectionBalancer) -> ASGIApp:
    """``app`` answering with ``Connection: close`` when ``balancer`` says so; its
    ``raw_post_route``, if any, goes with it (`BalancedRoute`)."""

    async def serve(scope: dict, receive: Callable[[], Awaitable[dict]],
                    send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "http" or not balancer.should_close(scope.get("client")):
            await app(scope, receive, send)
            return

        async def closing(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        await app(scope, receive, closing)

    route = getattr(app, "raw_post_route", None)
    if route is not None:
        serve.raw_post_route = BalancedRoute(route, balancer)  # type: ignore[attr-defined]
    return serve
