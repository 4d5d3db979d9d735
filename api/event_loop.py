"""The event loop PyTake's servers run on: uvloop where it is installed.

uvloop (libuv, in C) halves the per-request cost of the loop and its socket
transports next to the pure-Python selector loop; the API, the workers and the
sandbox all do mostly socket I/O. On platforms without uvloop (Windows) the
standard loop is used and nothing else changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency where it builds
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on the fastest loop available."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)

