"""Agents' inbox benchmark: live-channel fan-out latency, commit → agent's WebSocket.

Creates a scratch database (`pytake_bench_inbox`) on DATABASE_URL's server,
migrates it, and seeds one organization with ``--departments`` departments,
one conversation per department and ``--agents`` agents spread over them
(each agent sees the events of their department). Then:

1. starts two API processes (`pytake serve --no-worker`) on REDIS_URL and a
   publisher process (the ``live`` event consumer, as a worker runs it);
2. connects every agent (`bench/ws_lite.py` WebSockets, half to each process)
   and waits for every ``ready``;
3. commits ``--rate`` ``message.received`` events per second for ``--seconds``
   seconds (a transaction every 20 ms), each stamped with its time just before
   the commit, to the departments in turn;
4. every socket records now - stamp for each event: p50 / p99 / max over all
   deliveries.

Floor, measured in the same run on the same cores: raw Redis pub/sub with the
same audience: as many subscriber connections (here, in the benchmark's
process, `bench/pubsub_lite.py`) as agents, each subscribed to its department's
channel, and the same number of messages per second published, stamped; the
same percentiles. The ratio says what the live channel (the consumer's polling
and snapshot horizon, routing, JSON, the WebSocket) adds to the pub/sub it is
built on. Both sides of the wire in this process parse frames in their
connections' callbacks (no task, queue or message object per message), and
the run prints what this process spent per delivery in each.

Target: p99 <= 100 ms at 1,000 agents and 500 events/s. At that size every agent
gets 50 events/s: 50,000 WebSocket messages a second, read by this one client
process (and as many by the floor's), on the same cores as the servers: on a
2-core machine the client and the servers compete, the floor shows how much. On
a loaded machine run it small, for correctness: ``--agents 40 --rate 50 --seconds 3``.

    .venv/bin/python bench/inbox.py [--agents 1000] [--rate 500] [--seconds 10] [--departments 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from api.auth.tokens import create_access_token  # noqa: E402
from api.db.session import Database  # noqa: E402
from api.events import emit_conn, event  # noqa: E402
from api.settings import normalize_database_url  # noqa: E402
from bench import pubsub_lite, ws_lite  # noqa: E402
from bench.api import fresh_database  # noqa: E402
from bench.proc_stats import free_port, tree_cpu_seconds  # noqa: E402

BENCH_DB = "pytake_bench_inbox"
TICK = 0.02
WARMUP = 1.0  # seconds of events sent first and not counted
CONNECT_SECONDS = 60.0  # one agent's WebSocket handshake (on a loaded machine); then the run stops, saying so
CONNECTING = 50  # agents connecting at once
REOPENS = 3  # times an agent's socket closed before its ready is opened again
_SENT_AT = re.compile(r'"sent_at":([0-9.eE+-]+)')
PUBLISHER = """
import asyncio, signal, sys
from api.db.session import Database
from api.live.publisher import run_forever
from api.redis_clients import redis_client

async def main():
    db, redis, stop = Database(sys.argv[1]), redis_client(sys.argv[2]), asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await run_forever(db, redis, stop, poll=0.02)
    await db.dispose()

asyncio.run(main())
"""


async def _seed(db: Database, secret: str, agents: int, departments: int) -> tuple[uuid.UUID, list, list]:
    """The organization, ``[(department, conversation)]`` and ``[(token, department index)]``."""
    async with db.raw() as conn:
        org = await conn.fetchval("INSERT INTO organizations (name, slug) VALUES ('bench', $1) RETURNING id",
                                  uuid.uuid4().hex)
        places = []
        for d in range(departments):
            dept = await conn.fetchval("INSERT INTO departments (organization_id, name, auto_assign_enabled) "
                                       "VALUES ($1, $2, false) RETURNING id", org, f"D{d}")
            contact = await conn.fetchval("INSERT INTO contacts (organization_id, whatsapp_id) VALUES ($1, $2) "
                                          "RETURNING id", org, f"55119{d:08d}")
            conv = await conn.fetchval(
                "INSERT INTO conversations (organization_id, contact_id, department_id, status) "
                "VALUES ($1, $2, $3, 'open') RETURNING id", org, contact, dept)
            places.append((dept, conv))
        users = []
        for a in range(agents):
            d = a % departments
            user = await conn.fetchval(
                "INSERT INTO users (organization_id, email, password_hash, full_name, role) "
                "VALUES ($1, $2, 'x', $3, 'agent') RETURNING id", org, f"a{a}@bench.example", f"Agent {a}")
            await conn.execute("INSERT INTO user_departments (user_id, department_id) VALUES ($1, $2)",
                               user, places[d][0])
            token, _ = create_access_token(secret, user_id=user, organization_id=org, role="agent",
                                           ttl_seconds=3600)
            users.append((token, d))
    return org, places, users


def _start_api(env: dict, port: int, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "import sys; from pytake.cli import main; sys.exit(main())", "serve",
             "--no-worker", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def _log_problems(logs: list[Path], limit: int = 20) -> str:
    """The API processes' warnings and errors (their log files), for a run that failed."""
    lines = [line for log in logs if log.exists() for line in log.read_text(errors="replace").splitlines()
             if " WARNING " in line or " ERROR " in line or "Error" in line]
    return "\n".join(lines[-limit:]) or "(nothing logged)"


async def _healthy(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(1200):
            try:
                async with session.get(url + "/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} never answered")


class ConnectFailed(Exception):
    """An agent's WebSocket did not open in time."""


def _stamp(text: str) -> float | None:
    """The ``sent_at`` of a measured message (None: a warm-up one). Read from the
    text, not parsed: 50,000 messages a second into this one process would make
    the clients' JSON decoding (the same in the floor) most of what is measured."""
    if '"warm":false' not in text:
        return None
    found = _SENT_AT.search(text)
    return float(found.group(1)) if found else None


def _percentiles(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"n": 0, "p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    values = sorted(latencies)
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))] * 1000  # noqa: E731
    return {"n": len(values), "p50_ms": round(pick(0.50), 1), "p99_ms": round(pick(0.99), 1),
            "max_ms": round(values[-1] * 1000, 1)}


async def _paced(rate: int, seconds: float, emit) -> int:  # noqa: ANN001
    """Call ``emit(n)`` every `TICK` with the events due by then; the total emitted."""
    started = time.perf_counter()
    done = 0
    total = int(rate * seconds)
    while done < total:
        due = min(total, int((time.perf_counter() - started) * rate) + 1)
        if due > done:
            await emit(done, due - done)
            done = due
        await asyncio.sleep(TICK)
    return done


async def _floor(redis_url: str, agents: int, departments: int, rate: int, seconds: float) -> dict[str, float]:
    """Raw Redis pub/sub: one subscriber connection per agent, the same audiences and rate."""
    tag = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    expected = 0

    def received(data: bytes) -> None:
        sent_at = _stamp(data.decode())
        if sent_at is not None:
            latencies.append(time.time() - sent_at)

    subscribers = [await pubsub_lite.subscribe(redis_url, f"bench:{tag}:{a % departments}", received)
                   for a in range(agents)]
    publisher = aioredis.from_url(redis_url)
    audience = Counter(a % departments for a in range(agents))  # subscribers per department
    warm = True

    async def emit(first: int, n: int) -> None:
        nonlocal expected
        async with publisher.pipeline(transaction=False) as pipe:
            for i in range(first, first + n):
                d = i % departments
                pipe.publish(f"bench:{tag}:{d}", json.dumps({"sent_at": time.time(), "i": i, "text": "oi",
                                                            "warm": warm}, separators=(",", ":")))
                expected += 0 if warm else audience[d]
            await pipe.execute()

    await _paced(rate, WARMUP, emit)
    warm = False
    cpu_before = _own_cpu()
    await _paced(rate, seconds, emit)
    deadline = time.perf_counter() + 30
    while len(latencies) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    cpu = _own_cpu() - cpu_before
    for sub in subscribers:
        sub.close()
    await publisher.aclose()
    return {**_percentiles(latencies), "expected": expected,
            "client_cpu_us_per_delivery": round(cpu / max(1, len(latencies)) * 1e6, 1)}


def _own_cpu() -> float:
    """This process's CPU seconds (the agents' or the floor's subscribers' side of the wire)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _live(db: Database, ports: list[int], pids: list[int], org: uuid.UUID, places: list, users: list, rate: int,
                seconds: float, departments: int) -> dict[str, float]:
    latencies: list[float] = []
    sockets: dict[int, ws_lite.WebSocket] = {}  # agent -> its WebSocket now
    ready = 0
    closed_early: Counter = Counter()  # close codes of sockets closed before their ready
    gate = asyncio.Semaphore(CONNECTING)

    async def open_socket(i: int, token: str, on_text: Any) -> ws_lite.WebSocket:
        port = ports[i % 2]
        async with gate:
            try:
                ws = await asyncio.wait_for(ws_lite.connect("127.0.0.1", port, f"/live?access_token={token}",
                                                            on_text), CONNECT_SECONDS)
            except (asyncio.TimeoutError, ws_lite.HandshakeFailed, OSError) as exc:
                raise ConnectFailed(f"agent {i}: the WebSocket to port {port} did not open within "
                                    f"{CONNECT_SECONDS:g} s ({len(sockets)} of {len(users)} open): "
                                    f"{type(exc).__name__} {exc}") from None
        sockets[i] = ws
        return ws

    async def agent(i: int, token: str) -> None:
        """Read the agent's socket; one closed before its ready (the server short of database
        connections, on a busy machine) is opened again, as the web app does, a few times."""
        got_ready = False

        def on_text(text: str) -> None:
            nonlocal ready, got_ready
            if text.startswith('{"type":"event"'):
                sent_at = _stamp(text)
                if sent_at is not None:
                    latencies.append(time.time() - sent_at)
            elif text.startswith('{"type":"ready"'):
                ready += 1
                got_ready = True

        for attempt in range(REOPENS + 1):
            ws = await open_socket(i, token, on_text)
            code = await ws.closed
            if got_ready:
                return
            closed_early[code] += 1
            if attempt < REOPENS:
                await asyncio.sleep(0.5 * (attempt + 1))

    readers = [asyncio.create_task(agent(i, token)) for i, (token, _) in enumerate(users)]
    deadline = time.perf_counter() + 300
    while ready < len(users) and time.perf_counter() < deadline:
        failed = next((t for t in readers if t.done() and t.exception() is not None), None)
        if failed is not None:
            for task in readers:
                task.cancel()
            raise SystemExit(str(failed.exception())) from None
        await asyncio.sleep(0.05)
    if ready < len(users):
        raise SystemExit(f"only {ready} of {len(users)} sockets ready; closed before it (close code: times): "
                         f"{dict(closed_early) or 'none'}")
    print(f"{ready} sockets ready; warming up, then measuring for {seconds:g} s", file=sys.stderr, flush=True)
    expected = 0
    audience = Counter(dep for _, dep in users)  # agents per department
    warm = True

    async def emit(first: int, n: int) -> None:
        nonlocal expected
        async with db.raw() as conn:
            async with conn.transaction():
                stamped = []
                for i in range(first, first + n):
                    d = i % departments
                    conversation = places[d][1]
                    stamped.append(event(org, "message.received", {
                        "message": {"conversation_id": str(conversation), "content": {"text": "oi"}, "n": i},
                        "sent_at": time.time(), "warm": warm}, conversation))
                    expected += 0 if warm else audience[d]
                await emit_conn(conn, *stamped)

    await _paced(rate, WARMUP, emit)  # not counted: connections, caches and the processes warm up
    warm = False
    cpu_before = sum(tree_cpu_seconds(p) for p in pids)
    client_before = _own_cpu()
    horizon: list[float] = []
    sampler = asyncio.create_task(_sample_horizon(db, horizon))
    await _paced(rate, seconds, emit)
    sampler.cancel()
    deadline = time.perf_counter() + 60
    while len(latencies) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    cpu = sum(tree_cpu_seconds(p) for p in pids) - cpu_before
    client_cpu = _own_cpu() - client_before
    await asyncio.gather(*(ws.close() for ws in sockets.values()))
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    return {**_percentiles(latencies), "expected": expected, "closed_before_ready": dict(closed_early),
            "server_cpu_us_per_delivery": round(cpu / max(1, len(latencies)) * 1e6, 1),
            "client_cpu_us_per_delivery": round(client_cpu / max(1, len(latencies)) * 1e6, 1),
            "horizon_held_ms": _percentiles(horizon)}


_OLDEST_WRITER = ("SELECT COALESCE(max(extract(epoch FROM clock_timestamp() - xact_start)), 0) FROM pg_stat_activity "
                  "WHERE backend_xid IS NOT NULL")


async def _sample_horizon(db: Database, ages: list[float]) -> None:
    """How long the oldest transaction holding a transaction id (in ANY database of the
    server) has been running: events committed after it started wait for it to end
    before any consumer sees them (the snapshot horizon, `api.events.consumer`)."""
    while True:
        async with db.raw() as conn:
            ages.append(float(await conn.fetchval(_OLDEST_WRITER)))
        await asyncio.sleep(0.05)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=500, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--departments", type=int, default=10)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    url = await fresh_database(normalize_database_url(server) or server, BENCH_DB)
    secret = "bench-" + uuid.uuid4().hex
    db = Database(url)
    processes: list[subprocess.Popen] = []
    try:
        org, places, users = await _seed(db, secret, args.agents, args.departments)
        floor = await _floor(redis_url, args.agents, args.departments, args.rate, args.seconds)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": url, "REDIS_URL": redis_url,
               "PYTAKE_SECRET_KEY": secret, "PYTAKE_ENCRYPTION_KEY": Fernet.generate_key().decode()}
        ports = [free_port(), free_port()]
        logs = [Path(tempfile.gettempdir()) / f"pytake_bench_inbox_api_{port}.log" for port in ports]
        processes += [_start_api(env, port, log) for port, log in zip(ports, logs)]
        processes.append(subprocess.Popen([sys.executable, "-c", PUBLISHER, url, redis_url], env=env, cwd=ROOT))
        for port in ports:
            await _healthy(f"http://127.0.0.1:{port}")
        try:
            live = await _live(db, ports, [p.pid for p in processes], org, places, users, args.rate, args.seconds,
                               args.departments)
        except SystemExit as exc:
            raise SystemExit(f"{exc}\nthe API processes' last warnings and errors:\n{_log_problems(logs)}") from None
        ratio = live["p99_ms"] / floor["p99_ms"] if floor["p99_ms"] else float("nan")
        print(f"agents: {args.agents} over 2 API processes, {args.departments} departments; "
              f"{args.rate} events/s for {args.seconds:g} s")
        print(f"live (commit -> agent's socket): deliveries {live['n']}/{live['expected']}, p50 {live['p50_ms']} ms, "
              f"p99 {live['p99_ms']} ms (target <= 100), max {live['max_ms']} ms; "
              f"CPU of the API processes and publisher: {live['server_cpu_us_per_delivery']} us per delivery; "
              f"of this process (agents and commits): {live['client_cpu_us_per_delivery']} us")
        if live["closed_before_ready"]:
            print(f"sockets closed before their ready and opened again (close code: times): "
                  f"{live['closed_before_ready']}")
        held = live["horizon_held_ms"]
        print(f"oldest write transaction on the server while measuring (holds every consumer back): "
              f"p50 {held['p50_ms']} ms, p99 {held['p99_ms']} ms, max {held['max_ms']} ms")
        print(f"floor (raw Redis pub/sub, one connection per agent, same audiences and rate): deliveries "
              f"{floor['n']}/{floor['expected']}, p50 {floor['p50_ms']} ms, p99 {floor['p99_ms']} ms; "
              f"CPU of this process (subscribers and publishes): {floor['client_cpu_us_per_delivery']} us per delivery")
        print(f"ratio p99 live / floor: {ratio:.2f}")
        print(json.dumps({"live": live, "floor": floor, "ratio_p99": round(ratio, 2)}))
        return 0 if live["n"] >= live["expected"] else 1
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        await db.dispose()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
