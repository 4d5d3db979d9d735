"""The ``live`` consumer's cost per event (api/live/publisher.py), as a worker pays it.

Creates a scratch database (`pytake_bench_live_publish`) on DATABASE_URL's server,
migrates it, and for each case commits N ``message.sent`` events (payloads as the
sender writes them, transactions of 50 over 500 conversations), then runs
`publish_once` rounds until they are all handled, measuring the CPU of this
process and of its PostgreSQL backend per event (from /proc: meaningful on a
loaded machine, where wall time is not):

- **floor**: the same rounds of the consumer reading the events with their
  payloads and moving its cursor, nothing published (`api.events.consumer.consume`);
- **listened**: a Redis subscriber on the organization's channel: every event
  is built (`wire`) and published (what every event cost before the publisher
  looked for subscribers);
- **nobody listening**: no socket open for the organization: the events are
  read and skipped (the message path's events while no agent is online).

The floor runs again at the end; the ratios use the mean of both.

Each case prints its CPU per event and its ratio to the floor.

    .venv/bin/python bench/live_publish.py [--events 20000] [--batch 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from api.db import migrations  # noqa: E402
from api.db.session import Database  # noqa: E402
from api.event_loop import run  # noqa: E402
from api.events import emit_conn, event  # noqa: E402
from api.events.consumer import consume  # noqa: E402
from api.events.catalogue import message_payload  # noqa: E402
from api.live import publisher  # noqa: E402
from api.settings import normalize_database_url  # noqa: E402
from bench.db import _connect_kwargs  # noqa: E402
from bench.proc_stats import cpu_times  # noqa: E402

BENCH_DB = "pytake_bench_live_publish"


async def scratch(server_url: str) -> str:
    admin = await asyncpg.connect(**_connect_kwargs(normalize_database_url(server_url), "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await admin.close()
    url = make_url(normalize_database_url(server_url)).set(database=BENCH_DB).render_as_string(hide_password=False)
    await asyncio.to_thread(migrations.upgrade, url)
    return url


async def drop(server_url: str) -> None:
    admin = await asyncpg.connect(**_connect_kwargs(normalize_database_url(server_url), "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    finally:
        await admin.close()


async def commit_events(db: Database, org: uuid.UUID, n: int) -> None:
    conversations = [uuid.uuid4() for _ in range(500)]
    now = datetime.now(timezone.utc)
    async with db.raw() as conn:
        for start in range(0, n, 50):
            batch = []
            for k in range(start, min(n, start + 50)):
                conv = conversations[k % len(conversations)]
                batch.append(event(org, "message.sent", message_payload({
                    "id": uuid.uuid4(), "conversation_id": conv, "contact_id": uuid.uuid4(),
                    "direction": "outbound", "sender_type": "bot", "type": "text",
                    "content": {"text": f"Pedido anotado, Ana! Recibo em ana{k}@example.com."},
                    "status": "sent", "whatsapp_message_id": f"wamid.{k:020d}", "created_at": now}), conv))
            async with conn.transaction():
                await emit_conn(conn, *batch)


async def backend_pids(db: Database) -> list[int]:
    async with db.raw() as conn:
        return [r["pid"] for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")]


async def measure(db: Database, label: str, rounds, n: int) -> float:
    pids = await backend_pids(db)
    pg0 = {p: sum(cpu_times(p)) for p in pids}
    cpu0, started = time.process_time(), time.perf_counter()
    handled = 0
    while handled < n:
        got = await rounds()
        handled += got or 0
    cpu = time.process_time() - cpu0
    elapsed = time.perf_counter() - started
    pg = sum(sum(cpu_times(p)) - v for p, v in pg0.items())
    per = (cpu + pg) * 1e6 / n
    print(f"  {label:<20}: {per:7.1f} us CPU per event (this process {cpu * 1e6 / n:6.1f}, PostgreSQL "
          f"{pg * 1e6 / n:6.1f}); {n / elapsed:8.0f} events/s")
    return per


async def main(args: argparse.Namespace) -> int:
    server = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    url = await scratch(server)
    db = Database(url)
    redis = aioredis.from_url(redis_url)
    org = uuid.uuid4()
    try:
        await publisher.start_from_now(db)
        print(f"{args.events} message.sent events per case, rounds of {args.batch}")

        async def read_only() -> int:
            async with consume(db, "bench_floor", args.batch) as batch:
                return len(batch.events) if batch else 0

        async with consume(db, "bench_floor", 1):
            pass  # registered at the start of the outbox: it reads what follows
        async with db.raw() as conn:  # past what is committed so far
            await conn.execute("UPDATE event_consumers c SET cursor_txid = l.cursor_txid, cursor_id = l.cursor_id "
                               "FROM event_consumers l WHERE l.name = 'live' AND c.name = 'bench_floor'")

        async def publish() -> int:
            return await publisher.publish_once(db, redis, args.batch) or 0

        await commit_events(db, org, 1000)  # warm-up (plans, pools, caches): not counted
        handled = 0
        while handled < 1000:
            handled += await read_only()
        await commit_events(db, org, args.events)
        floor = await measure(db, "floor (read only)", read_only, args.events)
        # the subscriber in its own process (redis-cli), as an API process would be
        listener = subprocess.Popen(["redis-cli", "-u", redis_url, "subscribe", publisher.channel(org)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not (await redis.pubsub_numsub(publisher.channel(org)))[0][1]:
                await asyncio.sleep(0.05)
            await commit_events(db, org, args.events)
            listened = await measure(db, "listened", publish, args.events)
        finally:
            listener.terminate()
            listener.wait()
        while (await redis.pubsub_numsub(publisher.channel(org)))[0][1]:
            await asyncio.sleep(0.05)
        await commit_events(db, org, args.events)
        nobody = await measure(db, "nobody listening", publish, args.events)
        await commit_events(db, org, args.events)
        async with db.raw() as conn:  # the floor again (the first round warmed up): past the events read
            await conn.execute("UPDATE event_consumers c SET cursor_txid = l.cursor_txid, cursor_id = l.cursor_id "
                               "FROM event_consumers l WHERE l.name = 'live' AND c.name = 'bench_floor'")
        await commit_events(db, org, args.events)
        floor = (floor + await measure(db, "floor again", read_only, args.events)) / 2
        print(f"  ratio to the floor (mean of both) : listened {listened / floor:.2f}, "
              f"nobody listening {nobody / floor:.2f}")
    finally:
        await redis.aclose()
        await db.dispose()
        await drop(server)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=publisher.PUBLISH_BATCH)
    sys.exit(run(main(parser.parse_args())))
