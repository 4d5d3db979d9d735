"""Analytics dashboard benchmark: the snapshot query's p99 over a year of daily snapshots.

Creates a scratch database (`pytake_bench_dashboard`) on DATABASE_URL's server,
migrates it, and writes a year of daily `analytics_snapshots` (plus a year of
weekly and monthly ones, and a week of hourly ones) for 1,000 organizations,
each row with the five sections the scheduled refresh computes. Then, with C
concurrent clients, it asks for one organization's whole year of daily
snapshots, as the Analytics page does when it opens on "last 365 days":
`api.analytics.list_snapshots`, the route's own query and decoding, through
the API's `Database` sessions.

Floor, measured in the same run with the same clients and sessions: a
primary-key lookup of one snapshot row. The ratio says what reading and
decoding a year costs next to the cheapest query the table answers. The
`pgbench` single-row insert rate of the same server is printed too.

Target (2-core machine): p99 <= 50 ms for a year of daily snapshots. The
clients share one process, as requests share one API process: its collector is
set as a serving process sets it (`api.gc_tuning`), and past 2 clients the p99
is mostly queries waiting for each other's decoding on that process's CPU.

    .venv/bin/python bench/dashboard.py [--organizations 1000] [--queries 2000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402
from sqlalchemy import text  # noqa: E402

from api.analytics import list_snapshots  # noqa: E402
from api.db.session import Database  # noqa: E402
from api.gc_tuning import freeze_startup_heap  # noqa: E402
from api.settings import normalize_database_url  # noqa: E402
from bench.api import _connect_kwargs, fresh_database  # noqa: E402
from bench.pgbench_floor import insert_tps  # noqa: E402

BENCH_DB = "pytake_bench_dashboard"

# Each period kind with how many periods a year holds (hours: one week's worth).
PERIODS = (("day", "1 day", 365), ("week", "7 days", 52), ("month", "1 month", 12), ("hour", "1 hour", 24 * 7))

# One row's sections, shaped as the refresh computes them (api/analytics/snapshots.py);
# the numbers vary with the row so the rows are not all the same value.
_SECTIONS_SQL = """
  jsonb_build_object('total', 40 + g % 97, 'new', 10 + g % 31, 'resolved', 8 + g % 29, 'open', g % 13,
                     'avg_resolution_time', round((300 + g % 900)::numeric / 7, 3)),
  jsonb_build_object('total', 400 + g % 997, 'inbound', 200 + g % 499, 'outbound', 200 + g % 498,
                     'by_type', jsonb_build_object('text', 300 + g % 500, 'image', g % 40, 'audio', g % 17,
                                                   'interactive', g % 90, 'template', g % 11)),
  jsonb_build_object('total', 5000 + g % 5000, 'new', g % 50, 'active', 30 + g % 70),
  jsonb_build_object('total_executions', 50 + g % 200, 'completion_rate', round((g % 100)::numeric / 100, 4),
                     'avg_completion_time', round((60 + g % 600)::numeric / 3, 3),
                     'handoff_rate', round((g % 30)::numeric / 100, 4)),
  jsonb_build_object('total', 5 + g % 20, 'active', 1 + g % 10, 'avg_response_time',
                     round((20 + g % 300)::numeric / 3, 3), 'conversations_per_agent', round((g % 90)::numeric / 7, 2))
"""


async def _load(url: str, organizations: int, year_start: datetime) -> int:
    conn = await asyncpg.connect(**_connect_kwargs(url, BENCH_DB))
    try:
        await conn.execute(
            """INSERT INTO organizations (id, name, slug, settings)
               SELECT gen_random_uuid(), 'Org ' || g, 'org-' || g, '{"timezone": "America/Sao_Paulo"}'::jsonb
                 FROM generate_series(1, $1) g""", organizations)
        for period, step, count in PERIODS:
            await conn.execute(
                f"""INSERT INTO analytics_snapshots (organization_id, period, start, "end", timezone,
                                                    conversations, messages, contacts, chatbots, agents)
                    SELECT o.id, $1, $2::timestamptz + (g * interval '{step}'),
                           $2::timestamptz + ((g + 1) * interval '{step}'), 'America/Sao_Paulo',
                           {_SECTIONS_SQL}
                      FROM organizations o, generate_series(0, $3 - 1) g""", period, year_start, count)
        await conn.execute("ANALYZE analytics_snapshots")
        return int(await conn.fetchval("SELECT count(*) FROM analytics_snapshots"))
    finally:
        await conn.close()


async def _timed(clients: int, queries: int, one) -> tuple[list[float], float]:
    """Runs ``queries`` calls of ``one(k)`` over ``clients`` concurrent tasks; latencies in ms, and wall seconds."""
    latencies: list[float] = []
    counter = iter(range(queries))

    async def client() -> None:
        for k in counter:
            started = time.perf_counter()
            await one(k)
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, time.perf_counter() - started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--organizations", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent dashboard clients")
    parser.add_argument("--floor-seconds", type=float, default=5.0)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    url = await fresh_database(normalize_database_url(server), BENCH_DB)
    db = Database(url)
    try:
        year_start = datetime(2025, 1, 1, 3, tzinfo=timezone.utc)  # midnight in São Paulo
        started = time.perf_counter()
        rows = await _load(url, args.organizations, year_start)
        print(f"loaded {rows:,} snapshots for {args.organizations:,} organizations "
              f"in {time.perf_counter() - started:.1f} s")
        async with db.session() as s:
            orgs = [r[0] for r in (await s.execute(text("SELECT id FROM organizations"))).all()]
        rng = random.Random(11)
        picks = [rng.choice(orgs) for _ in range(args.queries)]
        since, until = year_start, year_start + timedelta(days=365)

        async def year(k: int) -> None:
            async with db.session() as s:
                items = await list_snapshots(s, picks[k], "day", since, until)
            assert len(items) == 365, f"{len(items)} daily snapshots, 365 expected"

        async def one_row(k: int) -> None:
            async with db.session() as s:
                row = (await s.execute(text(
                    "SELECT conversations FROM analytics_snapshots "
                    "WHERE organization_id = :o AND period = 'day' AND start = :s"),
                    {"o": picks[k], "s": since})).scalar()
            assert row is not None

        await _timed(args.concurrency, min(200, args.queries), year)  # warm the pool and the cache
        # the collector as a serving API process sets it once started (pytake.hosting.stack): the
        # startup heap frozen, full collections rarer. Without it, a full collection walking
        # SQLAlchemy's and the bench's own objects (70-90 ms) is the p99.
        freeze_startup_heap()
        floor_ms, floor_wall = await _timed(args.concurrency, args.queries, one_row)
        year_ms, year_wall = await _timed(args.concurrency, args.queries, year)
        cpu = time.process_time()
        await _timed(1, min(500, args.queries), year)
        client_cpu = (time.process_time() - cpu) / min(500, args.queries) * 1000
        tps, how = await insert_tps(url, args.floor_seconds)

        p50, p99 = _pct(year_ms, 50), _pct(year_ms, 99)
        f50, f99 = _pct(floor_ms, 50), _pct(floor_ms, 99)
        print(f"a year of daily snapshots (365 rows, decoded), {args.concurrency} clients: "
              f"{args.queries / year_wall:,.0f} queries/s, p50 / p99 {p50:.1f} / {p99:.1f} ms (target p99 <= 50 ms); "
              f"client CPU {client_cpu:.2f} ms per query")
        print(f"floor (one snapshot row by primary key, same clients): {args.queries / floor_wall:,.0f} queries/s, "
              f"p50 / p99 {f50:.2f} / {f99:.2f} ms")
        print(f"ratio p99 year / floor: {p99 / f99:.1f}x;  pgbench single-row inserts ({how}): {tps:,.0f} tps")
        print(json.dumps({"year_p50_ms": round(p50, 2), "year_p99_ms": round(p99, 2), "floor_p99_ms": round(f99, 2),
                          "ratio_p99": round(p99 / f99, 2), "queries_per_s": round(args.queries / year_wall),
                          "pgbench_tps": round(tps), "organizations": args.organizations, "snapshots": rows}))
        return 0
    finally:
        await db.dispose()
        admin = await asyncpg.connect(**_connect_kwargs(normalize_database_url(server), "postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        finally:
            await admin.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
