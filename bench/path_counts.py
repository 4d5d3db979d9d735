"""CPU per step of the flow path counters (api/analytics/path.py), measured in-process.

Runs a real compiled example flow's first step through the interpreter (no I/O
nodes), then measures with ``time.process_time``, interleaving A/B rounds:

- A: the interpreter step alone;
- B: the same step, plus ``path_of`` + ``record_path`` (one pipelined HINCRBY
  round trip to the Redis at REDIS_URL, db 15, deleted afterwards).

Prints CPU microseconds per step for each and the added cost. Usage:
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

from api.analytics.path import LIVE_KEY, path_of, record_path
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
    per = 200
    a_cpu = b_cpu = 0.0
    for _ in range(rounds):
        t = time.process_time()
        for _ in range(per):
            await interp.start(program, flow, scope)
        a_cpu += time.process_time() - t
        t = time.process_time()
        for _ in range(per):
            result = await interp.start(program, flow, scope)
            await record_path(redis, org, path_of(flow, program, result.events, status=result.status))
        b_cpu += time.process_time() - t
    n = rounds * per
    nodes = len(path_of(flow, program, result.events).nodes)
    await redis.delete(LIVE_KEY)
    await redis.aclose()
    a, b = a_cpu / n * 1e6, b_cpu / n * 1e6
    print(f"step ({nodes} nodes entered): {a:.1f} us CPU; with path counters {b:.1f} us; "
          f"added {b - a:.1f} us ({(b - a) / a:.0%})")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
