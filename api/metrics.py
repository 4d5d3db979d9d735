"""Prometheus metrics that add up over every process (docs/analytics.md, "Metrics").

Each process counts in memory (`Counters`: counters and histograms, no I/O on
the hot path) and, half a second after the first change since its last push,
adds what it has to one Redis hash (``metrics:counters``, ``HINCRBYFLOAT`` per
field: `api.redis_buffered_counts`).
`GET /metrics` renders that hash, so the figures are the sum of every API and
worker process, plus gauges read when scraped (`GAUGES`: queue depths, event
backlogs; another room adds its own with `register_gauge`).

A process that dies loses at most its last half second; counters only grow
(Redis restarted or flushed: they start again from zero, which Prometheus'
``rate()`` treats as a counter reset).
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any, Awaitable, Callable, Iterable

from api.redis_buffered_counts import BufferedCounts
from api.redis_clients import pipelined

log = logging.getLogger("pytake.metrics")

KEY = "metrics:counters"
PUSH_AFTER = 0.5
# request latency buckets (seconds)
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# name -> (type, help)
METRICS: dict[str, tuple[str, str]] = {
    "pytake_http_request_duration_seconds": (
        "histogram", "API requests by route template, method and status, and how long they took"),
    "pytake_messages_sent_total": ("counter", "messages Meta accepted from the sender"),
    "pytake_send_errors_total": (
        "counter", "sends that failed, by Meta error code (transient: retried later; uncertain: outcome unknown)"),
    "pytake_task_queue_depth": ("gauge", "tasks waiting in each lane of the task queue"),
    "pytake_event_backlog": ("gauge", "domain events not yet handled, per event consumer"),
}

Labels = tuple[tuple[str, str], ...]


class Counters:
    """One process's counts, pushed to Redis in the background (`api.redis_buffered_counts`)."""

    def __init__(self, redis_url: str, push_after: float = PUSH_AFTER) -> None:
        self._counts = BufferedCounts(redis_url, KEY, floats=True, push_after=push_after)
        # a histogram series' field keys, built once (every API request observes one)
        self._series: dict[tuple[str, Labels], tuple[Any, ...]] = {}

    def inc(self, name: str, labels: Labels = (), value: float = 1.0) -> None:
        self._counts.add((name, labels), value)

    def observe(self, name: str, labels: Labels, seconds: float) -> None:
        """A histogram observation: its bucket counts (cumulative ``le``), ``_sum`` and ``_count``."""
        series = self._series.get((name, labels))
        if series is None:
            if len(self._series) >= MAX_SERIES:  # label values are bounded (routes, statuses): a safety net
                self._series.clear()
            series = self._series[(name, labels)] = _series_keys(name, labels)
        buckets, tail = series
        items: dict[Any, float] = {key: 1.0 for le, key in buckets if seconds <= le}
        items[tail[0]] = 1.0
        items[tail[1]] = seconds
        items[tail[2]] = 1.0
        self._counts.add_many(items)

    async def push(self) -> None:
        await self._counts.push()

    async def aclose(self) -> None:
        await self._counts.aclose()


class _NoCounters:
    """Counts dropped (a runtime without a Redis URL)."""

    def inc(self, name: str, labels: Labels = (), value: float = 1.0) -> None:
        pass

    def observe(self, name: str, labels: Labels, seconds: float) -> None:
        pass

    async def push(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


NO_COUNTERS = _NoCounters()


def _le(value: float) -> str:
    return repr(float(value))


MAX_SERIES = 10_000


def _series_keys(name: str, labels: Labels) -> tuple[tuple[tuple[float, Any], ...], tuple[Any, Any, Any]]:
    """A histogram series' fields: ``(le, bucket key)`` per bucket, then the ``+Inf`` bucket, ``_sum`` and ``_count``."""
    buckets = tuple((le, (name + "_bucket", (*labels, ("le", _le(le))))) for le in BUCKETS)
    return buckets, ((name + "_bucket", (*labels, ("le", "+Inf"))), (name + "_sum", labels), (name + "_count", labels))


Gauge = Callable[[Any, Any], Awaitable[Iterable[tuple[Labels, float]]]]
GAUGES: dict[str, Gauge] = {}


def register_gauge(name: str, kind_help: str, read: Gauge) -> None:
    """A gauge read at each scrape: ``await read(db, redis)`` gives ``(labels, value)`` pairs.
    (The log store's backlog is ``pytake_event_backlog{consumer="logs"}``: the events its
    feeder has not yet written.)"""
    METRICS[name] = ("gauge", kind_help)
    GAUGES[name] = read


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _sample(name: str, labels: Iterable[tuple[str, str]], value: float) -> str:
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels)
    if math.isinf(value):
        text = "+Inf" if value > 0 else "-Inf"
    elif value == int(value) and abs(value) < 1e15:
        text = str(int(value))
    else:
        text = repr(value)
    return f"{name}{{{inner}}} {text}" if inner else f"{name} {text}"


def _family(sample: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        base = sample[: -len(suffix)]
        if sample.endswith(suffix) and METRICS.get(base, ("",))[0] == "histogram":
            return base
    return sample


async def render(db: Any, redis: Any) -> str:
    """The text exposition format (version 0.0.4) of every process's counts and the gauges."""
    families: dict[str, list[str]] = {name: [] for name in METRICS}
    raw = await redis.hgetall(KEY)
    rows = []
    for field, value in raw.items():
        try:
            name, labels = json.loads(field.decode() if isinstance(field, bytes) else field)
            rows.append((name, [tuple(pair) for pair in labels], float(value)))
        except (ValueError, TypeError):
            continue
    rows.sort(key=lambda r: (r[0], [p for p in r[1] if p[0] != "le"], _le_order(r[1])))
    for name, labels, value in rows:
        families.setdefault(_family(name), []).append(_sample(name, labels, value))
    for name, read in GAUGES.items():
        try:
            for labels, value in await read(db, redis):
                families[name].append(_sample(name, labels, value))
        except Exception:  # noqa: BLE001 - one gauge failing leaves the others
            log.warning("gauge %s failed", name, exc_info=True)
    out: list[str] = []
    for name, samples in families.items():
        kind, help_text = METRICS.get(name, ("untyped", name))
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        out += samples
    return "\n".join(out) + "\n"


def _le_order(labels: list[tuple[str, str]]) -> float:
    for k, v in labels:
        if k == "le":
            return math.inf if v == "+Inf" else float(v)
    return 0.0


async def _queue_depths(db: Any, redis: Any) -> list[tuple[Labels, float]]:
    from api.workers.queue import LANES

    def fill(pipe: Any) -> None:
        for lane in LANES:
            pipe.llen(lane)
    return [((("lane", lane),), float(n)) for lane, n in zip(LANES, await pipelined(redis, fill))]


async def _event_backlogs(db: Any, redis: Any) -> list[tuple[Labels, float]]:
    async with db.raw() as conn:
        rows = await conn.fetch(
            "SELECT c.name, (SELECT count(*) FROM events e WHERE (e.txid, e.id) > (c.cursor_txid, c.cursor_id)) AS n "
            "FROM event_consumers c ORDER BY c.name")
    return [((("consumer", r["name"]),), float(r["n"])) for r in rows]


GAUGES["pytake_task_queue_depth"] = _queue_depths
GAUGES["pytake_event_backlog"] = _event_backlogs

__all__ = ["Counters", "NO_COUNTERS", "GAUGES", "METRICS", "register_gauge", "render", "BUCKETS", "KEY"]
