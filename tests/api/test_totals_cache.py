"""`TotalsCache`: large totals reused for a while; one recount when they expire."""

from __future__ import annotations

import uuid

from api.resources import totals as totals_module
from api.resources.totals import TotalsCache

ORG = uuid.uuid4()
KEY = ("conversations", ())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache_with_clock(monkeypatch) -> tuple[TotalsCache, Clock]:
    clock = Clock()
    monkeypatch.setattr(totals_module.time, "monotonic", clock)
    return TotalsCache(ttl_seconds=5, min_rows=1000), clock


def test_a_large_total_is_reused_within_the_ttl_and_small_ones_never(monkeypatch):
    cache, clock = cache_with_clock(monkeypatch)
    cache.put(ORG, KEY, 10_000)
    cache.put(ORG, ("tags", ()), 12)
    clock.now += 4.9
    assert cache.get(ORG, KEY) == 10_000
    assert cache.get(ORG, ("tags", ())) is None


def test_on_expiry_one_request_recounts_while_the_others_keep_the_previous_total(monkeypatch):
    cache, clock = cache_with_clock(monkeypatch)
    cache.put(ORG, KEY, 10_000)
    clock.now += 5
    assert cache.get(ORG, KEY) is None  # this request counts again
    assert [cache.get(ORG, KEY) for _ in range(20)] == [10_000] * 20  # the burst in flight does not
    cache.put(ORG, KEY, 10_050)
    assert cache.get(ORG, KEY) == 10_050


def test_a_recount_that_never_comes_back_is_taken_over_after_another_ttl(monkeypatch):
    cache, clock = cache_with_clock(monkeypatch)
    cache.put(ORG, KEY, 10_000)
    clock.now += 5
    assert cache.get(ORG, KEY) is None  # that request fails and never puts
    clock.now += 4
    assert cache.get(ORG, KEY) == 10_000
    clock.now += 1.5
    assert cache.get(ORG, KEY) is None


def test_a_list_that_became_small_is_counted_every_time_again(monkeypatch):
    cache, clock = cache_with_clock(monkeypatch)
    cache.put(ORG, KEY, 10_000)
    clock.now += 5
    assert cache.get(ORG, KEY) is None
    cache.put(ORG, KEY, 40)
    assert cache.get(ORG, KEY) is None


def test_a_write_drops_the_organizations_totals(monkeypatch):
    cache, _ = cache_with_clock(monkeypatch)
    cache.put(ORG, KEY, 10_000)
    cache.invalidate(ORG)
    assert cache.get(ORG, KEY) is None
