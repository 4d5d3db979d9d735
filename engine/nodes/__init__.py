"""Node semantics, one module per node kind.

Each module exports ``HANDLERS: dict[Op, handler]`` where a handler is
``(run: Run, ins: Instruction) -> int`` (next pc or a sentinel from
``engine.context``). Nodes that ask a port and wait (api_call, ai_prompt,
a sub-flow jump that loads a program) are ``async def``; the others (start,
message, question, condition, action, handoff, end) only log events, effects
included, so they are plain functions and the hot loop creates no coroutine
for them: the interpreter awaits whatever is not an int. The table below is built from every module in this
package, so adding a kind is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Awaitable, Callable

from engine.program import Instruction, Op

Handler = Callable[..., "int | Awaitable[int]"]


def _load() -> dict[Op, Handler]:
    table: dict[Op, Handler] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for op, handler in getattr(module, "HANDLERS", {}).items():
            if op in table:
                raise RuntimeError(f"two handlers for {op.name}")
            table[op] = handler
    missing = [op.name for op in Op if op not in table]
    if missing:
        raise RuntimeError(f"no node handler for {', '.join(missing)}")
    return table


HANDLERS: dict[Op, Handler] = _load()
