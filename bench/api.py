"""API benchmark: listing conversations and logging in, over real HTTP.

Creates a separate database (`pytake_bench_api`) on DATABASE_URL's server (or
the embedded PostgreSQL), migrates it and loads, in SQL, one organization with
an org_admin and 10,000 conversations (with their contacts). Starts
`pytake serve --processes N` (one per CPU) on loopback, then drives it with
50 concurrent keep-alive HTTP/1.1 clients (a tiny asyncio client, so the load
generator costs little CPU next to the server) and prints p50/p99 latency and
requests per second for:

- ``GET /conversations?per_page=50`` (authenticated; a page of 50 with its total),
- ``POST /auth/login`` (Argon2id verification dominates, by design).

Targets: list p99 <= 30 ms and >= 1,000 list requests/s.

Floor, measured in the same run: the same clients against the smallest ASGI
server answering every request with the same list page (`bench/minimal_asgi.py`,
hypercorn on uvloop, as many processes). The list's req/s and p99 are printed
as ratios to it, so machines of different speed can be compared.

The per-user rate limit (600/min by default) and the login limit are turned
off for the run (PYTAKE_RATELIMIT_*=0): they would otherwise answer 429 to a
benchmark that is, by definition, one user hammering the API.

    .venv/bin/python bench/api.py                 # reuses a loaded bench database
    .venv/bin/python bench/api.py --reload        # drops and loads it again
    .venv/bin/python bench/api.py --processes 2 --duration 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from api import embedded  # noqa: E402
from api.auth.passwords import hash_password  # noqa: E402
from api.db import migrations  # noqa: E402
from api.settings import Settings  # noqa: E402
from bench.http_lite import Connection  # noqa: E402
from bench.pgbench_floor import server_address  # noqa: E402
from bench.proc_stats import cpu_seconds, free_port, tree_cpu_seconds  # noqa: E402

BENCH_DB = "pytake_bench_api"
CONVERSATIONS = 10_000
EMAIL, PASSWORD = "admin@bench.example", "bench-password-123"
ORG_ID = "00000000-0000-0000-0000-0000000000b1"
LIST_PATH = "/conversations?per_page=50"
TARGET_P99_MS, TARGET_RPS = 30.0, 1000.0


def _connect_kwargs(url: str, database: str) -> dict:
    u = make_url(url)
    host, port = server_address(u)
    kwargs = {"user": u.username, "password": u.password, "host": host, "port": port, "database": database}
    return {k: v for k, v in kwargs.items() if v is not None}


async def fresh_database(server_url: str, name: str) -> str:
    """Drop and create database `name` on the server, migrate it; its URL."""
    admin = await asyncpg.connect(**_connect_kwargs(server_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(migrations.upgrade, url)
    return url


def load_sql(password_hash: str) -> list[str]:
    return [
        f"""INSERT INTO organizations (id, name, slug, max_contacts)
            VALUES ('{ORG_ID}', 'Bench Org', 'bench-org', 1000000)""",
        f"""INSERT INTO users (organization_id, email, password_hash, full_name, role)
            VALUES ('{ORG_ID}', '{EMAIL}', '{password_hash}', 'Bench Admin', 'org_admin')""",
        f"""INSERT INTO contacts (organization_id, whatsapp_id, name, last_message_at)
            SELECT '{ORG_ID}', '55119' || lpad(g::text, 8, '0'), 'Contato ' || g,
                   now() - (g || ' minutes')::interval
            FROM generate_series(1, {CONVERSATIONS}) g""",
        f"""INSERT INTO conversations (organization_id, contact_id, status, priority,
                                       last_message_at, message_count, created_at, tags)
            SELECT organization_id, id,
                   (ARRAY['open', 'pending', 'assigned', 'resolved', 'closed',
                          'waiting_in_queue'])[1 + (row_number() OVER ()) % 6],
                   (ARRAY['low', 'normal', 'high', 'urgent'])[1 + (row_number() OVER ()) % 4],
                   last_message_at, 3, last_message_at - interval '1 hour', ARRAY['bench']
            FROM contacts WHERE organization_id = '{ORG_ID}'""",
        "VACUUM ANALYZE",  # what autovacuum does in production: index-only counts
    ]


async def prepare_database(server_url: str, reload: bool) -> str:
    bench_url = make_url(server_url).set(database=BENCH_DB).render_as_string(hide_password=False)
    if not reload:
        try:
            conn = await asyncpg.connect(**_connect_kwargs(server_url, BENCH_DB))
            try:
                if await conn.fetchval("SELECT count(*) FROM conversations") == CONVERSATIONS:
                    print(f"reusing database {BENCH_DB} ({CONVERSATIONS:,} conversations)")
                    await asyncio.to_thread(migrations.upgrade, bench_url)  # new indexes, if any
                    return bench_url
            finally:
                await conn.close()
        except (asyncpg.InvalidCatalogNameError, asyncpg.PostgresError):
            pass
    await fresh_database(server_url, BENCH_DB)
    conn = await asyncpg.connect(**_connect_kwargs(server_url, BENCH_DB))
    try:
        started = time.perf_counter()
        for sql in load_sql(hash_password(PASSWORD)):
            await conn.execute(sql)
        print(f"loaded {CONVERSATIONS:,} conversations in {time.perf_counter() - started:.1f} s")
    finally:
        await conn.close()
    return bench_url


def start_server(database_url: str, redis_url: str, port: int, processes: int) -> subprocess.Popen:
    """`pytake serve --processes N`, as production runs it: N hypercorn
    processes on uvloop, each with its own SO_REUSEPORT socket on the port."""
    data_dir = tempfile.mkdtemp(prefix="pytake-bench-")
    env = os.environ | {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PYTAKE_DATA_DIR": data_dir,
        "PYTAKE_SECRET_KEY": "bench-secret-key-" + os.urandom(8).hex(),
        "PYTAKE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PYTAKE_RATELIMIT_USER_PER_MINUTE": "0",
        "PYTAKE_RATELIMIT_LOGIN_PER_MINUTE": "0",
    }
    pytake = str(Path(sys.executable).parent / "pytake")
    return subprocess.Popen(
        [pytake, "serve", "--processes", str(processes), "--no-worker", "--no-migrate",
         "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )


ESTABLISHED, LISTEN = "01", "0A"  # socket states in /proc/net/tcp


def _local_sockets(port: int, state: str) -> list[str]:
    """Inodes of the TCP sockets on local ``port`` in ``state`` (Linux's /proc)."""
    inodes = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == state:
                inodes.append(fields[9])
    return inodes


def connections_per_process(server: subprocess.Popen, port: int) -> list[int]:
    """Established connections on ``port`` held by each serving process: the
    kernel spreads connections over the SO_REUSEPORT sockets by hash, so 50
    clients rarely split 25/25, and the busier process sets the p99."""
    inodes = set(_local_sockets(port, ESTABLISHED))
    counts = []
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    for pid in (children.read_text().split() if children.exists() else []):
        held = 0
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held += 1
        if held:
            counts.append(held)
    return sorted(counts, reverse=True)


def listening_sockets(port: int) -> int:
    """Sockets in LISTEN on ``port`` (one per serving process with SO_REUSEPORT)."""
    return len(_local_sockets(port, LISTEN))


# --- CPU accounting (robust to other load on the machine) ----------------------------


def database_pids() -> list[int]:
    """PostgreSQL backends serving the bench database."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f" {BENCH_DB} ".encode() in cmdline.read_bytes():
                pids.append(int(cmdline.parent.name))
        except OSError:
            pass
    return pids


def cpu_snapshot(server: subprocess.Popen) -> dict[str, float]:
    return {"server": tree_cpu_seconds(server.pid),
            "postgres": sum(cpu_seconds(p) for p in database_pids())}


async def wait_ready(port: int, processes: int, timeout: float = 30.0) -> None:
    """Until every process listens (else the first one up would get all the
    keep-alive clients) and the API answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listening_sockets(port) < processes:
            await asyncio.sleep(0.2)
            continue
        try:
            status, _ = await Connection(port).request("GET", "/health", {})
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the API did not become ready")


async def run_load(port: int, method: str, path: str, headers: dict[str, str], body: bytes,
                   concurrency: int, duration: float, warmup: float,
                   server: subprocess.Popen | None = None) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    measuring = False
    stop_at = time.monotonic() + warmup + duration

    async def client() -> None:
        conn = Connection(port)
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            status, _ = await conn.request(method, path, headers, body)
            elapsed = time.perf_counter() - started
            if measuring:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    tasks = [asyncio.create_task(client()) for _ in range(concurrency)]
    await asyncio.sleep(warmup)
    measuring = True
    split = connections_per_process(server, port) if server is not None else []
    measured_from = time.monotonic()
    cpu_before = cpu_snapshot(server) if server is not None else {}
    client_before = time.process_time()
    await asyncio.gather(*tasks)
    wall = time.monotonic() - measured_from
    client_cpu = time.process_time() - client_before
    cpu_after = cpu_snapshot(server) if server is not None else {}
    latencies.sort()
    per_request = {name: (cpu_after[name] - cpu_before[name]) * 1000 / max(len(latencies), 1)
                   for name in cpu_before}
    per_request["client"] = client_cpu * 1000 / max(len(latencies), 1)
    return {
        "cpu_ms": per_request,
        "requests": len(latencies),
        "rps": len(latencies) / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "max_ms": latencies[-1] * 1000,
        "statuses": statuses,
        "split": split,
    }


def start_floor(port: int, processes: int, body: bytes) -> subprocess.Popen:
    """`bench/minimal_asgi.py` under hypercorn: HTTP alone, on the same cores."""
    body_file = Path(tempfile.mkdtemp(prefix="pytake-bench-floor-")) / "body.json"
    body_file.write_bytes(body)
    env = os.environ | {"PYTAKE_BENCH_BODY_FILE": str(body_file), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "hypercorn", "--workers", str(processes), "--worker-class", "uvloop",
         "--bind", f"127.0.0.1:{port}", "bench.minimal_asgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


async def measure_floor(processes: int, body: bytes, concurrency: int, duration: float,
                        warmup: float) -> dict:
    port = free_port()
    floor = start_floor(port, processes, body)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _ = await Connection(port).request("GET", LIST_PATH, {})
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the floor server did not start")
            await asyncio.sleep(0.2)
        return await run_load(port, "GET", LIST_PATH, {}, b"", concurrency, duration, warmup, None)
    finally:
        floor.terminate()
        try:
            floor.wait(timeout=10)
        except subprocess.TimeoutExpired:
            floor.kill()


def report(name: str, result: dict, targets: bool = False) -> bool:
    print(f"{name}: {result['requests']:,} requests, {result['rps']:,.0f} req/s, "
          f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
          f"max {result['max_ms']:.1f} ms, statuses {result['statuses']}")
    print("  CPU per request: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in result["cpu_ms"].items()))
    if result.get("split"):
        print("  connections per server process: " + " / ".join(str(n) for n in result["split"]))
    if not targets:
        return True
    ok = result["p99_ms"] <= TARGET_P99_MS and result["rps"] >= TARGET_RPS
    print(f"  target p99 <= {TARGET_P99_MS:.0f} ms and >= {TARGET_RPS:,.0f} req/s: "
          f"{'met' if ok else 'NOT met'}")
    return ok


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reload", action="store_true", help="drop and reload the bench database")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="API processes (default: CPU count)")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per scenario")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--no-login", action="store_true", help="measure the list only")
    args = parser.parse_args()

    settings = Settings.from_env()
    server_url, redis_url = await embedded.ensure_servers(settings)
    database_url = await prepare_database(server_url, args.reload)
    port = free_port()
    server = start_server(database_url, redis_url, port, args.processes)
    try:
        await wait_ready(port, args.processes)
        print(f"pytake serve on 127.0.0.1:{port}, {args.processes} process(es), "
              f"{args.concurrency} concurrent clients, {os.cpu_count()} CPUs")
        login_body = json.dumps({"email": EMAIL, "password": PASSWORD}).encode()
        json_headers = {"Content-Type": "application/json"}
        status, payload = await Connection(port).request("POST", "/auth/login", json_headers,
                                                         login_body)
        if status != 200:
            raise RuntimeError(f"login failed: {status} {payload[:200]!r}")
        token = json.loads(payload)["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        status, list_body = await Connection(port).request("GET", LIST_PATH, auth)
        page = json.loads(list_body)
        print(f"GET {LIST_PATH}: {len(page['items'])} items of {page['total']:,}")

        listing = await run_load(port, "GET", LIST_PATH, auth, b"", args.concurrency,
                                 args.duration, args.warmup, server)
        ok = report(f"list conversations (GET {LIST_PATH})", listing, targets=True)
        floor = await measure_floor(args.processes, list_body, args.concurrency, args.duration, args.warmup)
        report("floor: the same page from a minimal ASGI server (bench/minimal_asgi.py)", floor)
        print(f"  list as a ratio to the floor: {listing['rps'] / floor['rps']:.2f}x its req/s, "
              f"{listing['p99_ms'] / floor['p99_ms']:.1f}x its p99")
        if args.no_login:
            return 0 if ok else 1
        login = await run_load(port, "POST", "/auth/login", json_headers, login_body,
                               args.concurrency, args.duration, args.warmup, server)
        report("login (POST /auth/login, Argon2id)", login)
        return 0 if ok else 1
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
