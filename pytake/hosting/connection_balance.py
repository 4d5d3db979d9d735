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


def balanced(app: ASGIApp, balancer: ConnectionBalancer) -> ASGIApp:
    """``app`` answering with ``Connection: close`` when ``balancer`` says so."""

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

    return serve
