"""`BufferedCounts`: a process's increments of one Redis hash, sent in the background.

Callers add to a dict (no I/O on their path); `push_after` seconds after the
first change since the last push, one ``EVALSHA`` adds them all to the hash
(``HINCRBY`` or ``HINCRBYFLOAT`` per field) down the process's own pipelined
connection (`api.redis_pipe.ScriptPipe`). If Redis fails, the counts are kept
for the next push. A process that dies loses at most ``push_after`` seconds;
`aclose` pushes what is left. Used by the flow path counts (api/analytics)
and the metrics (api/metrics.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Hashable

from api.redis_pipe import ScriptPipe

log = logging.getLogger("pytake.redis_buffered_counts")

_SCRIPT = """
for i = 1, #ARGV, 2 do redis.call('{command}', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


class BufferedCounts:
    """``add(key, n)``; a key is any JSON-able hashable (a tuple becomes a JSON array field)."""

    def __init__(self, redis_url: str, hash_key: str, *, floats: bool = False, push_after: float = 0.5) -> None:
        self._pipe = ScriptPipe(redis_url, _SCRIPT.format(command="HINCRBYFLOAT" if floats else "HINCRBY"))
        self._hash = hash_key
        self._floats = floats
        self._counts: dict[Hashable, Any] = {}
        self._push_after = push_after
        self._timer: asyncio.Task | None = None

    def add(self, key: Hashable, n: Any = 1) -> None:
        counts = self._counts
        counts[key] = counts.get(key, 0) + n
        if self._timer is None:
            self._schedule()

    def add_many(self, items: dict[Hashable, Any]) -> None:
        counts = self._counts
        for key, n in items.items():
            counts[key] = counts.get(key, 0) + n
        if self._timer is None and items:
            self._schedule()

    def _schedule(self) -> None:
        try:
            self._timer = asyncio.get_running_loop().create_task(self._later())
        except RuntimeError:  # no loop running: the next push takes them
            pass

    async def _later(self) -> None:
        try:
            await asyncio.sleep(self._push_after)
        finally:
            self._timer = None
        await self.push()

    async def push(self) -> None:
        """Send the counts gathered so far (kept for the next push if Redis fails)."""
        counts, self._counts = self._counts, {}
        if not counts:
            return
        args: list[Any] = []
        for key, n in counts.items():
            args += (json.dumps(key), repr(float(n)) if self._floats else int(n))
        try:
            await self._pipe([self._hash], args)
        except Exception as exc:  # noqa: BLE001 - counting never breaks what it counts
            for key, n in counts.items():
                self._counts[key] = self._counts.get(key, 0) + n
            log.warning("counts not sent to Redis %s (%s: %s); kept for the next push", self._hash,
                        type(exc).__name__, exc)
            if self._timer is None:
                self._schedule()

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            await self.push()
        finally:
            self._pipe.close()


__all__ = ["BufferedCounts"]
