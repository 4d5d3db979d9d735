"""Garbage-collector settings for PyTake's long-running processes.

A server process holds some 150,000 container objects that live as long as it
does: the modules of SQLAlchemy, pydantic, Quart, hypercorn, the ORM mappers,
the OpenAPI models. CPython's full (generation 2) collection walks every one of
them with the whole process stopped: 60 to 90 ms on a 2-core machine, several
times a second under load, and every request in flight waits for it. That
pause, not request handling, was the API's p99 (`bench/api.py`: p99 130 ms at
p50 36 ms before, 45 ms at 23 ms after).

`freeze_startup_heap()` runs once a serving process has started
(`pytake.hosting.stack.run_stack`, a Taskiq worker's startup): it collects what startup left behind and
moves everything still alive to the permanent generation (`gc.freeze`), which
later collections skip. Objects frozen there are still freed by reference
counting as usual; only a reference cycle among them that becomes garbage later
would stay until the process ends, which startup state does not do. The
tests, which build and drop an app per test, do not freeze.

What the freeze does not take grows again: every open keep-alive connection
holds some 30 objects of hypercorn's and asyncio's (protocol, streams,
transport, task group, tasks), and clients open more connections whenever
answers slow down, so an API process under a burst holds tens of thousands of
long-lived objects (4,500 connections, 150,000 objects in one probed run).
CPython runs a full collection after every 10 generation-1 collections once
the objects promoted since the last one exceed a quarter of that heap: at 500
to 600 status webhooks/s (`bench/e2e.py --only-statuses`) one every 2,500 to
4,300 requests, each a pause with every request in flight waiting: 17 ms of
CPU with 15,000 such objects, 45 ms with 40,000, 220 ms with 100,000 (measured
on the loaded 2-core machine). The freeze therefore also sets
`FULL_COLLECTION_EVERY`: a full collection at most once per 100
generation-1 collections (the young generations keep CPython's thresholds:
their pauses are a few milliseconds). Cyclic garbage that reached the old
generation waits that much longer to be freed; the heap stays bounded
(tests/test_gc_tuning.py).
"""

from __future__ import annotations

import gc

# generation-1 collections between two full collections (CPython's default: 10)
FULL_COLLECTION_EVERY = 100


def freeze_startup_heap() -> int:
    """Collect, then exclude every live object from later collections, and make
    full collections rarer (`FULL_COLLECTION_EVERY`).

    Returns how many objects the collector now leaves alone. Calling it again
    (an in-process worker starting after the API) freezes what came since.
    """
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    return gc.get_freeze_count()
