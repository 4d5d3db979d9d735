"""Outbound webhooks benchmark: events/s from commit to a local receiver's 2xx,
and the CPU each delivered event costs.

Creates a scratch database (`pytake_bench_events`) on DATABASE_URL's server,
migrates it, subscribes one webhook (every type, signed) to a receiver on
127.0.0.1, commits N events spread over C conversations (in transactions of
500, as the message path would), and runs one delivery loop
(`api.events.webhooks.Deliverer.run_forever`, what every worker runs, on
uvloop as the workers are) until the receiver has answered 2xx to all of
them. Prints events/s from the first commit to the last 2xx, and the CPU per
delivered event of the delivering process and of its PostgreSQL backends
(from /proc: meaningful on a loaded machine, where events/s is not).

The receiver (`bench/http_lite.py`'s server, a few lines of asyncio) runs in
its own process, so it never shares the deliverer's event loop or core time
slice. The bench asks it for its count (``GET /count``) every 20 ms.

Floors, measured in the same run against the same receiver at the same
concurrency (64), no database at all:

- receiver floor: signed POSTs from `http_lite` keep-alive connections (the
  cheapest client there is): what the receiver can take. The ratio
  delivered / receiver floor says how much of it the delivery machinery
  (dispatch, claims, bookkeeping, its HTTP client) leaves.
- client floor: the same POSTs through an aiohttp session (the deliverer's
  own client): what the HTTP side alone would allow.

Target (2-core machine): >= 2,000 events/s.

    .venv/bin/python bench/events.py [--events 20000] [--conversations 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from api.crypto import encrypt_secret  # noqa: E402
from api.db import migrations  # noqa: E402
from api.db.session import Database  # noqa: E402
from api.event_loop import run  # noqa: E402
from api.events import emit_conn, event  # noqa: E402
from api.events.webhooks import Deliverer, body_of, signature  # noqa: E402
from api.settings import Settings, normalize_database_url  # noqa: E402
from bench import http_lite  # noqa: E402
from bench.db import _connect_kwargs  # noqa: E402
from bench.proc_stats import cpu_seconds, free_port  # noqa: E402

BENCH_DB = "pytake_bench_events"
CONCURRENCY = 64


async def scratch(server_url: str, name: str = BENCH_DB) -> str:
    """A fresh, migrated database ``name`` on ``server_url``'s server: its URL."""
    admin = await asyncpg.connect(**_connect_kwargs(normalize_database_url(server_url), "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(normalize_database_url(server_url)).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(migrations.upgrade, url)
    return url


# -- the receiver (its own process) --------------------------------------------------
async def _serve_receiver(port: int) -> None:
    ok = 0

    async def handle(method: str, path: str, query: str, body: bytes, headers: dict) -> tuple[int, object]:
        nonlocal ok
        if method == "GET" and path == "/count":
            return 200, {"ok": ok, "cpu": sum(os.times()[:2])}
        ok += 1
        return 200, {}

    server = await http_lite.serve(handle, "127.0.0.1", port)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the bench closes our stdin
    server.close()


class ReceiverProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve-receiver", str(self.port)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._probe = http_lite.Connection(self.port)

    async def count(self) -> int:
        status, raw = await self._probe.request("GET", "/count", {})
        assert status == 200
        return json.loads(raw)["ok"]

    async def until(self, total: int, timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        while await self.count() < total:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the receiver got {await self.count()} of {total}")
            await asyncio.sleep(0.02)

    def close(self) -> None:
        self._probe.close()
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


# -- floors -----------------------------------------------------------------------------
def _floor_body() -> bytes:
    return body_of({"id": 1, "type": "message.received", "version": 1, "organization_id": str(uuid.uuid4()),
                    "occurred_at": "2026-01-01T00:00:00+00:00", "data": {"message": {"content": {"text": "oi"}}}})


async def _receiver_floor(receiver: ReceiverProcess, n: int) -> float:
    """Signed POSTs from `CONCURRENCY` http_lite keep-alive connections."""
    body = _floor_body()
    queue = iter(range(n))

    async def worker() -> None:
        conn = http_lite.Connection(receiver.port)
        try:
            for _ in queue:
                headers = {"Content-Type": "application/json",
                           "X-PyTake-Signature": signature("s", int(time.time()), body)}
                status, _ = await conn.request("POST", "/hook", headers, body)
                assert status == 200
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return n / (time.perf_counter() - started)


async def _client_floor(receiver: ReceiverProcess, n: int) -> tuple[float, float]:
    """The same POSTs through one aiohttp session (the deliverer's client) at the same
    concurrency: requests/s and this process's CPU seconds per request."""
    body = _floor_body()
    queue = iter(range(n))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        async def worker() -> None:
            for _ in queue:
                headers = {"Content-Type": "application/json",
                           "X-PyTake-Signature": signature("s", int(time.time()), body)}
                async with session.post(receiver.url, data=body, headers=headers) as response:
                    await response.read()
                    assert response.status == 200

        started, cpu = time.perf_counter(), _self_cpu()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return n / (time.perf_counter() - started), (_self_cpu() - cpu) / n


async def _backend_cpu(probe: asyncpg.Connection) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to the bench database
    but ``probe``'s own (a connection of its own: one from the deliverer's pool
    would hide a backend the deliverer uses)."""
    pids = [r[0] for r in await probe.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                            "AND pid <> pg_backend_pid()")]
    return {pid: cpu_seconds(pid) for pid in pids}


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def main(args: argparse.Namespace) -> int:
    server = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    url = await scratch(server)
    receiver = ReceiverProcess()
    settings = Settings(database_url=url, encryption_key=Fernet.generate_key().decode(), secret_key="b",
                        webhooks_allow_private_networks=True, webhooks_concurrency=CONCURRENCY,
                        webhooks_poll_seconds=0.05)
    db = Database(url)
    probe = await asyncpg.connect(**_connect_kwargs(normalize_database_url(url), BENCH_DB))
    try:
        n_floor = min(args.events, 10_000)
        floor = await _receiver_floor(receiver, n_floor)
        client_floor, client_cpu = await _client_floor(receiver, n_floor)
        base = await receiver.count()
        org = uuid.uuid4()
        async with db.raw() as conn:
            await conn.execute("INSERT INTO organizations (id, name, slug) VALUES ($1, 'bench', $2)", org, str(org))
            await conn.execute("INSERT INTO webhooks (organization_id, name, url, events, secret) "
                               "VALUES ($1, 'bench', $2, '{*}', $3)", org, receiver.url, encrypt_secret(settings, "s"))
        convs = [uuid.uuid4() for _ in range(args.conversations)]
        deliverer = Deliverer(db, settings)
        stop = asyncio.Event()
        pg0, cpu0 = await _backend_cpu(probe), _self_cpu()
        loop = asyncio.create_task(deliverer.run_forever(stop))
        started = time.perf_counter()
        async with db.raw() as conn:
            for first in range(0, args.events, 500):
                async with conn.transaction():
                    await emit_conn(conn, *(event(org, "message.received", {"message": {"n": i, "text": "oi"}},
                                                  convs[i % len(convs)])
                                            for i in range(first, min(first + 500, args.events))))
        committed = time.perf_counter() - started
        commit_cpu = _self_cpu() - cpu0
        await receiver.until(base + args.events)
        elapsed = time.perf_counter() - started
        cpu = _self_cpu() - cpu0 - commit_cpu
        pg = sum(v - pg0.get(pid, 0.0) for pid, v in (await _backend_cpu(probe)).items())
        stop.set()
        await loop
        await deliverer.aclose()
        rate = args.events / elapsed
        async with db.raw() as conn:
            states = dict(await conn.fetch("SELECT state, count(*) FROM webhook_deliveries GROUP BY state"))
        us = 1e6 / args.events
        print(f"events: {args.events} over {args.conversations} conversations, committed in {committed:.2f} s")
        print(f"delivered (commit -> receiver's 2xx): {rate:,.0f} events/s (target >= 2,000)   states: {states}")
        print(f"CPU per delivered event: deliverer process {cpu * us:.0f} us (commits excluded), "
              f"PostgreSQL backends {pg * us:.0f} us (commits included)")
        print(f"receiver floor (http_lite client, {CONCURRENCY} connections, no database): {floor:,.0f} req/s")
        print(f"client floor (aiohttp, {CONCURRENCY} in flight, no database): {client_floor:,.0f} req/s, "
              f"{client_cpu * 1e6:.0f} us CPU per request (of the deliverer's {cpu * us:.0f})")
        print(f"ratio delivered / receiver floor: {rate / floor:.2f}")
        print(json.dumps({"events_per_s": round(rate), "floor_req_per_s": round(floor),
                          "client_floor_req_per_s": round(client_floor),
                          "client_cpu_us_per_request": round(client_cpu * 1e6), "ratio": round(rate / floor, 3),
                          "deliverer_cpu_us_per_event": round(cpu * us), "pg_cpu_us_per_event": round(pg * us)}))
        return 0
    finally:
        receiver.close()
        await probe.close()
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--conversations", type=int, default=5_000)
    parser.add_argument("--serve-receiver", type=int, metavar="PORT", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve_receiver:
        sys.exit(run(_serve_receiver(arguments.serve_receiver)))
    sys.exit(run(main(arguments)))
