"""bench/status_only: the client must not pause while a step is measured, or its own
garbage collection is counted as the API's answer time."""

from __future__ import annotations

import gc

from bench.status_only import client_gc_off, client_gc_on


def test_no_collection_runs_in_the_client_while_a_step_is_measured():
    collections: list[int] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(seen)
    try:
        client_gc_off()
        collections.clear()
        garbage = []
        for _ in range(50_000):  # far past the young generation's threshold (700 by default)
            cycle: list = []
            cycle.append(cycle)
            garbage.append(cycle)
            if len(garbage) > 100:
                garbage.clear()
        assert collections == []
    finally:
        client_gc_on()
        gc.callbacks.remove(seen)
    assert gc.isenabled() and gc.get_freeze_count() == 0  # the step's heap is collectable again
    assert gc.collect() > 0  # the cycles made meanwhile are reclaimed
