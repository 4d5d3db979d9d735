"""Log store benchmark: log writes/s sustained into PostgreSQL (the embedded default).

Creates a scratch database (`pytake_bench_logs`) on DATABASE_URL's server,
migrates it, and measures two write paths of `api/logstore`:

- **events → logs**: commits N message events over C conversations (each
  message: ``message.sent``, then ``message.status`` delivered and read, in
  transactions of 500, as the message path would), then runs the ``logs``
  consumer (`feed_once`, what every worker's `LogFeeder` runs) until the
  backlog is empty. Figure: events logged per second (each one a message log
  insert or status update, plus its conversation log entry).
- **buffered records**: N API request records written by
  `PostgresLogStore.write_api_requests` in the flush's batches of 1,000.

Floor, measured in the same run: `pgbench` single-row INSERT transactions per
second on the same server (`bench/pgbench_floor.py`). The ratio says how the
log store's batched writes compare with the machine's plain insert rate.

Target (2-core machine): >= 5,000 log writes/s on each path.

    .venv/bin/python bench/logs.py [--messages 20000] [--conversations 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402

from api.db.session import Database  # noqa: E402
from api.events import emit_conn, event, message_payload  # noqa: E402
from api.logstore import feed_once
from api.logstore.feed import FEED_BATCH  # noqa: E402
from api.logstore.postgres import PostgresLogStore  # noqa: E402
from api.settings import normalize_database_url  # noqa: E402
from bench.api import _connect_kwargs, fresh_database  # noqa: E402
from bench.pgbench_floor import insert_tps  # noqa: E402

BENCH_DB = "pytake_bench_logs"
TXN = 500


def _events(org: uuid.UUID, convs: list[uuid.UUID], messages: int) -> list:
    now = datetime.now(timezone.utc)
    out = []
    for i in range(messages):
        conv = convs[i % len(convs)]
        mid = uuid.uuid4()
        out.append(event(org, "message.sent", message_payload({
            "id": mid, "conversation_id": conv, "contact_id": conv, "direction": "outbound", "sender_type": "bot",
            "type": "text", "content": {"text": f"mensagem número {i} sobre o pedido"}, "status": "sent",
            "whatsapp_message_id": f"wamid.{i}", "created_at": now}), conv))
        for status in ("delivered", "read"):
            out.append(event(org, "message.status", {"message_id": str(mid), "conversation_id": str(conv),
                                                     "whatsapp_message_id": f"wamid.{i}", "status": status,
                                                     "timestamp": now.isoformat()}, conv))
    return out


async def _events_path(db: Database, store: PostgresLogStore, messages: int, conversations: int,
                       batch: int) -> tuple[int, float, float]:
    org = uuid.uuid4()
    convs = [uuid.uuid4() for _ in range(conversations)]
    events = _events(org, convs, messages)
    async with db.raw() as conn:
        for first in range(0, len(events), TXN):
            async with conn.transaction():
                await emit_conn(conn, *events[first:first + TXN])
    while not await _visible(db):  # below every running transaction: readable by the consumer
        await asyncio.sleep(0.05)
    cpu, started = time.process_time(), time.perf_counter()
    handled = 0
    while handled < len(events):
        n = await feed_once(db, store, batch) or 0
        handled += n
        if not n:  # the last commits not yet below every running transaction
            await asyncio.sleep(0.01)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return handled, handled / elapsed, cpu / handled * 1e6


async def _visible(db: Database) -> bool:
    async with db.raw() as conn:
        return bool(await conn.fetchval(
            "SELECT count(*) FROM events WHERE txid < pg_snapshot_xmin(pg_current_snapshot())"))


async def _requests_path(store: PostgresLogStore, n: int) -> tuple[float, float]:
    org, user = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(timezone.utc)
    records = [{"id": uuid.uuid4(), "organization_id": org, "user_id": user, "method": "GET",
                "path": "/contacts", "query_params": {"page": "1"}, "headers": {"authorization": "***"},
                "body": None, "status_code": 200, "response_time_ms": 2.5, "ip_address": "10.0.0.1",
                "user_agent": "bench", "success": True, "error_message": None, "created_at": now} for _ in range(n)]
    cpu, started = time.process_time(), time.perf_counter()
    for first in range(0, n, 1000):
        await store.write_api_requests(records[first:first + 1000])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return n / elapsed, cpu / n * 1e6


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--conversations", type=int, default=2_000)
    parser.add_argument("--floor-seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=FEED_BATCH, help="events per consumer batch")
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    url = await fresh_database(normalize_database_url(server), BENCH_DB)
    db = Database(url)
    try:
        store = PostgresLogStore(db)
        await store.prepare()
        floor, how = await insert_tps(url, args.floor_seconds)
        handled, events_rate, events_cpu = await _events_path(db, store, args.messages, args.conversations,
                                                                 args.batch)
        requests_rate, requests_cpu = await _requests_path(store, args.messages)
        async with db.raw() as conn:
            logged = await conn.fetchval("SELECT count(*) FROM message_logs WHERE status = 'read'")
        assert logged == args.messages, f"{logged} message logs read, {args.messages} expected"
        print(f"events -> logs: {handled} events ({args.messages} messages x sent/delivered/read) over "
              f"{args.conversations} conversations: {events_rate:,.0f} log writes/s (target >= 5,000), "
              f"client CPU {events_cpu:.0f} us/write")
        print(f"API request logs (batches of 1,000): {requests_rate:,.0f} rows/s, client CPU {requests_cpu:.0f} us/row")
        print(f"floor ({how}): {floor:,.0f} inserts/s")
        print(f"ratio events->logs / floor: {events_rate / floor:.2f}   requests / floor: {requests_rate / floor:.2f}")
        print(json.dumps({"log_writes_per_s": round(events_rate), "request_rows_per_s": round(requests_rate),
                          "floor_inserts_per_s": round(floor), "ratio": round(events_rate / floor, 3),
                          "requests_ratio": round(requests_rate / floor, 3)}))
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
