"""Assignment throughput: queued conversations given to agents per second.

Creates a throw-away database on DATABASE_URL's server (or the embedded
PostgreSQL), migrates it, and seeds one organization with a round-robin
department of 20 online agents (room for everything). Then:

- **backlog**: N conversations already waiting; one pass (`assign_department`);
- **events**: N handoffs committed in small transactions (row +
  ``conversation.handoff`` event, as the flow runtime does), then two assigners,
  each with its own connection pool, run the ``assignment`` event consumer until
  the queue is empty: handoffs/s assigned;
- **live**: the same while the writer is still handing off: how long after the
  last handoff the last assignment lands, and the end-to-end rate (bounded by
  the writer's own commits);
- **floor**: single-row update transactions per second on one connection, on
  the same server in the same run (the cheapest durable per-conversation change).

Target: >= 500 handoffs/s assigned. Every figure is printed with its ratio to the floor.

    .venv/bin/python bench/assignment.py [--n 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from api import embedded  # noqa: E402
from api.assignment import assign_department, on_events  # noqa: E402
from api.db import migrations  # noqa: E402
from api.db.session import Database  # noqa: E402
from api.events import conversation_payload, emit_conn, event  # noqa: E402
from api.settings import Settings  # noqa: E402

AGENTS = 20
HANDOFF_BATCH = 10


def _url(server_url: str, database: str) -> str:
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


async def _admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(_url(server_url, "postgres").replace("+asyncpg", ""))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _seed(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    async with db.raw() as conn:
        org = await conn.fetchval("INSERT INTO organizations (name, slug) VALUES ('Bench', 'bench') RETURNING id")
        dept = await conn.fetchval("INSERT INTO departments (organization_id, name) VALUES ($1, 'Support') "
                                   "RETURNING id", org)
        await conn.execute(
            "WITH u AS (INSERT INTO users (organization_id, email, password_hash, full_name, role, is_online) "
            "SELECT $1, 'agent' || g || '@bench.example', 'x', 'Agent ' || g, 'agent', true "
            "FROM generate_series(1, $3::int) g RETURNING id) "
            "INSERT INTO user_departments (user_id, department_id, max_concurrent_conversations) "
            "SELECT id, $2, 1000000 FROM u", org, dept, AGENTS)
    return org, dept


async def _queue(db: Database, org: uuid.UUID, dept: uuid.UUID, n: int, *, events: bool) -> list[uuid.UUID]:
    """Hand off ``n`` conversations (already waiting), ``HANDOFF_BATCH`` per transaction."""
    ids: list[uuid.UUID] = []
    async with db.raw() as conn:
        for start in range(0, n, HANDOFF_BATCH):
            async with conn.transaction():
                rows = await conn.fetch(
                    "WITH c AS (INSERT INTO contacts (organization_id, whatsapp_id) "
                    "SELECT $1, 'w' || gen_random_uuid() FROM generate_series(1, $3::int) RETURNING id) "
                    "INSERT INTO conversations (organization_id, contact_id, department_id, status, "
                    "is_bot_active, entered_queue_at, handoff_at) "
                    "SELECT $1, id, $2, 'waiting_in_queue', false, clock_timestamp(), clock_timestamp() FROM c "
                    "RETURNING *", org, dept, min(HANDOFF_BATCH, n - start))
                if events:
                    await emit_conn(conn, *(event(org, "conversation.handoff", conversation_payload(dict(r)), r["id"])
                                            for r in rows))
            ids += [r["id"] for r in rows]
    return ids


async def _floor(db: Database, ids: list[uuid.UUID]) -> float:
    async with db.raw() as conn:
        started = time.perf_counter()
        for cid in ids:
            async with conn.transaction():
                await conn.execute("UPDATE conversations SET updated_at = now() WHERE id = $1", cid)
        return len(ids) / (time.perf_counter() - started)


async def _check(db: Database, ids: list[uuid.UUID]) -> Counter:
    async with db.raw() as conn:
        rows = await conn.fetch("SELECT assigned_to FROM conversations WHERE id = ANY($1::uuid[])", ids)
        assert all(r["assigned_to"] for r in rows), "a conversation was left in the queue"
        assigned_events = await conn.fetchval(
            "SELECT count(*) FROM events WHERE type = 'conversation.assigned' AND ordering_key = ANY($1::uuid[])", ids)
        assert assigned_events == len(ids), f"{assigned_events} assigned events for {len(ids)} conversations"
    return Counter(r["assigned_to"] for r in rows)


async def run(server_url: str, redis_url: str, n: int) -> None:
    name = f"pytake_bench_assign_{os.getpid()}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        await asyncio.to_thread(migrations.upgrade, _url(server_url, name))
        db = Database(_url(server_url, name))
        redis = aioredis.from_url(redis_url)
        dept = None
        try:
            org, dept = await _seed(db)
            backlog = await _queue(db, org, dept, n, events=False)
            started = time.perf_counter()
            done = await assign_department(db, redis, dept)
            backlog_rate = len(done) / (time.perf_counter() - started)
            spread = await _check(db, backlog)
            floor = await _floor(db, backlog[: min(n, 2000)])
            print(f"floor: {floor:,.0f} single-row update transactions/s (one connection)")
            print(f"backlog: {len(done):,} waiting conversations assigned in one pass: {backlog_rate:,.0f}/s "
                  f"({backlog_rate / floor:.2f}x floor); spread over {AGENTS} agents: "
                  f"{min(spread.values())}..{max(spread.values())}")
            await on_events(db, redis)  # the consumer starts past the seed
            assigners = [Database(_url(server_url, name), raw_pool_size=2) for _ in range(2)]
            try:
                queued = await _queue(db, org, dept, n, events=True)
                started = time.perf_counter()
                await asyncio.gather(*(_assign_until_empty(a, redis, db, dept) for a in assigners))
                rate = n / (time.perf_counter() - started)
                await _check(db, queued)
                print(f"events: {n:,} handoff events already committed, drained by the 'assignment' consumer "
                      f"(2 assigner pools): {rate:,.0f} handoffs/s ({rate / floor:.2f}x floor; target >= 500/s)")

                writing = asyncio.Event()
                started = time.perf_counter()
                tasks = [asyncio.create_task(_assign_until_empty(a, redis, db, dept, writing)) for a in assigners]
                stream = await _queue(db, org, dept, n, events=True)
                written = time.perf_counter() - started
                writing.set()
                await asyncio.gather(*tasks)
                elapsed = time.perf_counter() - started
            finally:
                for a in assigners:
                    await a.dispose()
            spread = await _check(db, stream)
            rate = n / elapsed
            print(f"live: a writer hands off {n:,} (transactions of {HANDOFF_BATCH}) while the consumer assigns: "
                  f"last assigned {elapsed - written:.2f} s after the last handoff; {rate:,.0f} handoffs/s end to "
                  f"end ({rate / floor:.2f}x floor), bounded by the writer's commits ({n / written:,.0f}/s); "
                  f"spread over {AGENTS} agents after all phases: {min(spread.values())}..{max(spread.values())}")
        finally:
            if dept is not None:
                await redis.delete(f"assignment:turns:{dept}")
            await redis.aclose()
            await db.dispose()
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _assign_until_empty(adb: Database, redis: aioredis.Redis, db: Database, dept: uuid.UUID,
                              writing: asyncio.Event | None = None) -> None:
    """Run the consumer until the writer (if any) is done and the queue is empty."""
    while (writing is not None and not writing.is_set()) or await _waiting(db, dept):
        if not await on_events(adb, redis):
            await asyncio.sleep(0.005)


async def _waiting(db: Database, dept: uuid.UUID) -> bool:
    async with db.raw() as conn:
        return bool(await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM conversations WHERE department_id = $1 AND status = 'waiting_in_queue')",
            dept))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="conversations per phase")
    args = parser.parse_args()
    settings = Settings.from_env()
    server_url, redis_url = await asyncio.to_thread(embedded.ensure_servers_sync, settings)
    assert server_url and redis_url
    try:
        await run(server_url, redis_url, args.n)
    finally:
        await asyncio.to_thread(embedded.stop)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
