"""CPU per step of the flow path counters (api/analytics/path.py), measured in-process.

Runs a real compiled example flow's first step through the interpreter (no I/O
nodes), then measures with ``time.process_time``, interleaving A/B rounds:

- A: the interpreter step alone;
- B: the same step, plus ``path_of`` + ``PathCounter.add`` (what the runtime
  does: counted in the process, pushed by one EVALSHA every 0.5 s down a
  `ScriptPipe` connection, the pushes' CPU included) to the Redis at REDIS_URL,
  db 15 (the hash is deleted afterwards);
- C: as B through a redis-py pipeline (``record_path``), for comparison.

Prints CPU microseconds per step for each and the added cost (CPU of this
process only: Redis's own CPU is not counted). Usage:
``REDIS_URL=redis://127.0.0.1:6379/0 python bench/path_counts.py [rounds]``
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path

import redis.asyncio as aioredis

from api.analytics.path import LIVE_KEY, PathCounter, path_of, record_path
from compiler import compile_canvas
from engine import Interpreter
from engine.adapters.clock import SystemClock
from engine.ports import Ports

ROOT = Path(__file__).resolve().parent.parent


async def main(rounds: int) -> None:
    canvas = json.loads((ROOT / "examples" / "pizza_order.json").read_text("utf-8"))
    program = compile_canvas(canvas, known_flows=set()).program
    interp = Interpreter(Ports(http=None, ai=None, clock=SystemClock()))  # type: ignore[arg-type]
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/15"
    redis = aioredis.from_url(url)
    org, flow = uuid.uuid4(), str(uuid.uuid4())
    scope = {"contact": {"name": "Ana"}, "message": {"text": "oi"}}
    counter = PathCounter(url)
    per = 200
    cpu = {"A": 0.0, "B": 0.0, "C": 0.0}

    async def a() -> None:
        await interp.start(program, flow, scope)

    async def b() -> None:
        result = await interp.start(program, flow, scope)
        counter.add(org, path_of(flow, program, result.events, status=result.status))

    async def c() -> None:
        result = await interp.start(program, flow, scope)
        await record_path(redis, org, path_of(flow, program, result.events, status=result.status))

    for _ in range(rounds):  # interleaved: the machine's load hits every variant alike
        for name, step in (("A", a), ("B", b), ("C", c)):
            t = time.process_time()
            for _ in range(per):
                await step()
            cpu[name] += time.process_time() - t
    n = rounds * per
    result = await interp.start(program, flow, scope)
    nodes = len(path_of(flow, program, result.events).nodes)
    t = time.process_time()
    await counter.aclose()  # the pushes' own CPU, shared by all the steps
    cpu["B"] += time.process_time() - t
    await redis.delete(LIVE_KEY)
    await redis.aclose()
    a_us, b_us, c_us = (cpu[k] / n * 1e6 for k in "ABC")
    print(f"step ({nodes} nodes entered): {a_us:.1f} us CPU; with path counters (ScriptPipe) {b_us:.1f} us, "
          f"added {b_us - a_us:.1f} us; through a redis-py pipeline {c_us:.1f} us, added {c_us - a_us:.1f} us")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
