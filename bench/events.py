"""Outbound webhooks benchmark: events/s from commit to a local receiver's 2xx.

Creates a scratch database (`pytake_bench_events`) on DATABASE_URL's server,
migrates it, subscribes one webhook (every type, signed) to a receiver on
127.0.0.1 (`bench/http_lite.py`), commits N events spread over C
conversations (in transactions of 500, as the message path would), and runs
one delivery loop (`api.events.webhooks.Deliverer`, what every worker runs)
until the receiver has answered 2xx to all of them. Prints events/s from the
first commit to the last 2xx.

Floor, measured in the same run: the same receiver's raw rate for the same
signed bodies POSTed by a plain httpx loop at the same concurrency (no
database at all). The ratio says how much of the receiver's capacity the
delivery machinery (dispatch, claims, bookkeeping) leaves.

Target (2-core machine): >= 2,000 events/s.

    .venv/bin/python bench/events.py [--events 20000] [--conversations 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from api.crypto import encrypt_secret  # noqa: E402
from api.db import migrations  # noqa: E402
from api.db.session import Database  # noqa: E402
from api.events import emit_conn, event  # noqa: E402
from api.events.webhooks import Deliverer, body_of, signature  # noqa: E402
from api.settings import Settings, normalize_database_url  # noqa: E402
from bench import http_lite  # noqa: E402
from bench.db import _connect_kwargs  # noqa: E402
from bench.proc_stats import free_port  # noqa: E402

BENCH_DB = "pytake_bench_events"
CONCURRENCY = 64


async def _scratch(server_url: str) -> str:
    admin = await asyncpg.connect(**_connect_kwargs(normalize_database_url(server_url), "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await admin.close()
    url = make_url(normalize_database_url(server_url)).set(database=BENCH_DB).render_as_string(hide_password=False)
    await asyncio.to_thread(migrations.upgrade, url)
    return url


class Receiver:
    def __init__(self) -> None:
        self.ok = 0
        self.done = asyncio.Event()
        self.expect = 0

    async def handle(self, method: str, path: str, query: str, body: bytes, headers: dict) -> tuple[int, object]:
        self.ok += 1
        if self.expect and self.ok >= self.expect:
            self.done.set()
        return 200, {}


async def _floor(url: str, receiver: Receiver, n: int) -> float:
    """Signed POSTs straight from httpx at the same concurrency: the receiver's raw rate."""
    envelope = {"id": 1, "type": "message.received", "version": 1, "organization_id": str(uuid.uuid4()),
                "occurred_at": "2026-01-01T00:00:00+00:00", "data": {"message": {"content": {"text": "oi"}}}}
    body = body_of(envelope)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        queue = iter(range(n))
        started = time.perf_counter()

        async def worker() -> None:
            for _ in queue:
                headers = {"Content-Type": "application/json", "X-PyTake-Signature": signature("s", int(time.time()), body)}
                response = await client.post(url, content=body, headers=headers)
                assert response.status_code == 200

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return n / (time.perf_counter() - started)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--conversations", type=int, default=5_000)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    url = await _scratch(server)
    receiver = Receiver()
    port = free_port()
    http_server = await http_lite.serve(receiver.handle, "127.0.0.1", port)
    target = f"http://127.0.0.1:{port}/hook"
    settings = Settings(database_url=url, encryption_key=Fernet.generate_key().decode(), secret_key="b",
                        webhooks_allow_private_networks=True, webhooks_concurrency=CONCURRENCY,
                        webhooks_poll_seconds=0.05)
    db = Database(url)
    try:
        floor = await _floor(target, receiver, min(args.events, 10_000))
        receiver.ok = 0
        org = uuid.uuid4()
        async with db.raw() as conn:
            await conn.execute("INSERT INTO organizations (id, name, slug) VALUES ($1, 'bench', $2)", org, str(org))
            await conn.execute("INSERT INTO webhooks (organization_id, name, url, events, secret) "
                               "VALUES ($1, 'bench', $2, '{*}', $3)", org, target, encrypt_secret(settings, "s"))
        convs = [uuid.uuid4() for _ in range(args.conversations)]
        receiver.expect = args.events
        deliverer = Deliverer(db, settings)
        stop = asyncio.Event()
        loop = asyncio.create_task(deliverer.run_forever(stop))
        started = time.perf_counter()
        async with db.raw() as conn:
            for first in range(0, args.events, 500):
                async with conn.transaction():
                    await emit_conn(conn, *(event(org, "message.received", {"message": {"n": i, "text": "oi"}},
                                                  convs[i % len(convs)])
                                            for i in range(first, min(first + 500, args.events))))
        committed = time.perf_counter() - started
        await asyncio.wait_for(receiver.done.wait(), timeout=600)
        elapsed = time.perf_counter() - started
        stop.set()
        await loop
        await deliverer.aclose()
        rate = args.events / elapsed
        async with db.raw() as conn:
            states = dict(await conn.fetch("SELECT state, count(*) FROM webhook_deliveries GROUP BY state"))
        print(f"events: {args.events} over {args.conversations} conversations, committed in {committed:.2f} s")
        print(f"delivered (commit -> receiver's 2xx): {rate:,.0f} events/s (target >= 2,000)   states: {states}")
        print(f"floor (same receiver, plain httpx, {CONCURRENCY} in flight, no database): {floor:,.0f} req/s")
        print(f"ratio delivered / floor: {rate / floor:.2f}")
        print(json.dumps({"events_per_s": round(rate), "floor_req_per_s": round(floor), "ratio": round(rate / floor, 3)}))
        return 0
    finally:
        http_server.close()
        await db.dispose()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
