"""A customer's webhook receiver on 127.0.0.1 (aiohttp), for delivery tests.

``answer`` decides each request's status (default 200), or its whole response (an
aiohttp ``web.Response``: odd headers, bytes); every request is kept
in ``received`` (headers, raw body, parsed JSON, status answered). ``wait_for``
waits for a condition on what arrived, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from aiohttp import web


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    answer: Callable[["Receiver", bytes], Awaitable[int | web.Response] | int | web.Response] = lambda _r, _b: 200
    received: list[Request] = field(default_factory=list)
    url: str = ""
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None

    async def start(self) -> "Receiver":
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        answer = self.answer(self, body)
        if asyncio.iscoroutine(answer):
            answer = await answer
        response = answer if isinstance(answer, web.Response) else \
            web.Response(status=answer, text="ok" if answer < 300 else "receiver says no " * 100)
        async with self._changed:
            self.received.append(Request(dict(request.headers), body, response.status))
            self._changed.notify_all()
        return response

    def accepted(self) -> list[Any]:
        """Envelopes answered with a 2xx, in arrival order."""
        return [r.json for r in self.received if 200 <= r.status < 300]

    async def wait_for(self, condition: Callable[["Receiver"], bool], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: condition(self))
