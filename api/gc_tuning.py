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
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect, then exclude every live object from later collections.

    Returns how many objects the collector now leaves alone. Calling it again
    (an in-process worker starting after the API) freezes what came since.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
