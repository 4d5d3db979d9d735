"""Scale-out benchmark (issue 18): the end-to-end load on 1 or 2 API processes and 1 or 2
workers, on a single server and on the cluster setup.

Setups:

- **single**: Redis at ``REDIS_URL`` (default the local server), PostgreSQL direct
  (``DATABASE_URL``'s server, default the local one);
- **cluster**: a Redis Cluster of 3 primaries + 3 replicas started here
  (``tests/cluster/conftest.py``'s `start_cluster`, ``REDIS_URL=redis+cluster://...``)
  and the same PostgreSQL through a PgBouncer in transaction mode started here
  (``tests/pgbouncer_process.py``; ``?pooler=pgbouncer-transaction``; ``--pgbouncer-pool``
  server connections, deploy/compose.yaml's 40 by default);
- **redis-cluster** and **pgbouncer** (``--setups``, not run by default): one of the two parts
  of the cluster setup alone, to tell their costs apart.

``--pooler pgbouncer-prepared`` runs PgBouncer with ``max_prepared_statements`` (PgBouncer
1.21+, ``PGBOUNCER_PREPARED=/path/to/pgbouncer``, which .ci/pgbouncer_prepared.sh builds;
Debian 12's is 1.18) and PyTake with its statement
caches kept (``?pooler=pgbouncer-prepared``, docs/runtime.md "PgBouncer"), each server
connection set to ``plan_cache_mode = force_generic_plan`` by PgBouncer's ``connect_query``
as PyTake sets its direct connections.

For each process count (``--shapes``, default 1+1, 2+1, 1+2, 2+2 API + worker processes) and
each setup, `pytake serve --no-worker` and `pytake worker` are started as processes
(bench/e2e.py's machinery: the sandbox and the customers run in this process) and
``--customers`` customers walk bench/e2e.py's 4-question flow in a closed loop, each starting a
new walk (a new customer) when its last reply came, until ``--messages`` inbound messages were
sent; a walk per customer first warms the processes up, not measured. The sandbox posts Meta's
status webhooks for every send (``--statuses off``: none).

Printed per run: inbound msg/s end to end (and per PyTake process, and per 1,000 pgbench tps:
the same-run floor, bench/pgbench_floor.py), and the CPU per inbound message of each process
kind: API, worker, PostgreSQL backends of the bench database, PgBouncer, Redis (INFO cpu of
every node: with the single server, that server's whole CPU, which includes any other client's).
The CPU window holds the run, then the status webhooks it caused and the events it left for
the workers' consumers (webhooks, live, logs, statistics...): a message's whole cost.

After each run the same processes are measured idle (``--idle-seconds``): a slower setup spreads
their timers and polls over fewer messages, so the CPU per message is also printed net of it.

Then, per process count, the cluster setup's CPU per message over the single server's: for the
PyTake processes (API + worker; the target is <= 1.15, "the cluster setup costs <= 15% per
message"; also net of idle CPU) and for everything counted.

    .venv/bin/python -P bench/scale.py [--customers 100] [--messages 1600] [--shapes 1x1,2x1,1x2,2x2] [--idle-seconds 5]
        [--setups single,cluster,redis-cluster,pgbouncer] [--pooler pgbouncer-transaction|pgbouncer-prepared]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import http_lite, pgbench_floor  # noqa: E402
from bench.e2e import (Customers, backend_cpu, backend_delta, create_database, drop_database,  # noqa: E402
                       make_sandbox, pytake_env, seed_bench, settle, start_pytake, stop_pytake, wait_http)
from bench.proc_stats import cpu_seconds, free_port, tree_cpu_seconds, tree_system_seconds  # noqa: E402

WEBHOOK_PATH = "/webhooks/whatsapp"
TARGET = 1.15  # cluster / single CPU per message
KINDS = ("api", "worker", "postgres", "pgbouncer", "redis")
EXTRA = ("api_system", "worker_system", "redis_commands")  # counted, not added to the CPU of "all"
SETUPS = {  # name: (Redis Cluster, PgBouncer)
    "single": (False, False),
    "cluster": (True, True),
    "redis-cluster": (True, False),  # to tell the two parts of the cluster setup's cost apart
    "pgbouncer": (False, True),
}
STUCK_SECONDS = 10.0  # an event consumer that has not moved for this long is reported, not waited for


@dataclass
class Setup:
    """Where the PyTake processes of a run connect, and what else is measured there."""

    name: str
    database_url: str
    redis_url: str
    redis_nodes: list[Any]  # one plain client per Redis server (INFO cpu)
    pgbouncer_pid: int | None = None

    async def redis_cpu(self) -> float:
        total = 0.0
        for node in self.redis_nodes:
            info = await node.info("cpu")
            total += float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
        return total

    async def redis_commands(self) -> int:
        """Commands the Redis primaries ran so far (INFO stats; with the single server, any client's;
        not a replica's, which runs its primary's writes again)."""
        total = 0
        for node in self.redis_nodes:
            if (await node.info("replication"))["role"] == "master":
                total += int((await node.info("stats"))["total_commands_processed"])
        return total


@dataclass
class Run:
    setup: str
    api: int
    workers: int
    messages: int
    elapsed: float
    cpu: dict[str, float] = field(default_factory=dict)  # seconds per kind over the window
    window: float = 0.0  # seconds of the CPU window (the run, its statuses and its events)
    idle: dict[str, float] = field(default_factory=dict)  # CPU seconds per second of the idle processes

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed

    def ms(self, *kinds: str) -> float:
        """CPU milliseconds per inbound message of these kinds."""
        return sum(self.cpu[k] for k in kinds) * 1000 / self.messages

    def net_ms(self, *kinds: str) -> float:
        """`ms` less what the processes spend idle (timers, polls) over the window: what each
        message adds, whatever the throughput the setup reached."""
        return sum(self.cpu[k] - self.idle[k] * self.window for k in kinds) * 1000 / self.messages


def parse_shapes(value: str) -> list[tuple[int, int]]:
    shapes = []
    for part in value.split(","):
        api, _, workers = part.strip().partition("x")
        try:
            shape = (int(api), int(workers))
        except ValueError:
            raise argparse.ArgumentTypeError(f"--shapes: {part!r} is not APIxWORKERS, e.g. 2x1") from None
        if min(shape) < 1:
            raise argparse.ArgumentTypeError(f"--shapes: {part!r} needs at least one process of each")
        shapes.append(shape)
    return shapes


async def quiet(db) -> dict[str, int]:  # noqa: ANN001
    """Wait until every event consumer has handled every committed event (the workers
    finished what the run left them), or until none has moved for `STUCK_SECONDS`
    (one failing round after round); the events each consumer still has then."""
    from sqlalchemy import text as sql

    last: dict[str, int] = {}
    moved = time.monotonic()
    while True:
        # the bench's one pooled session connection: backend_cpu leaves it out
        async with db.session() as s:
            waiting = {name: int(n) for name, n in (await s.execute(sql(
                "SELECT c.name, count(*) FROM event_consumers c JOIN events e "
                "ON (e.txid, e.id) > (c.cursor_txid, c.cursor_id) GROUP BY c.name"))).all()}
        if not waiting:
            return {}
        if waiting != last:
            last, moved = waiting, time.monotonic()
        elif time.monotonic() - moved > STUCK_SECONDS:
            return waiting
        await asyncio.sleep(0.1)


class RetryingCustomers(Customers):
    """bench/e2e.py's customers, with Meta's side of a failed webhook: a 5xx answer is
    delivered again (the message id is the same: stored once, answered once), counted in
    ``failures`` (each answer, with its status and a prefix of its body)."""

    RETRIES = 5

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failures: list[tuple[int, bytes]] = []

    async def post_signed(self, doc: dict) -> tuple[int, bytes]:
        for attempt in range(self.RETRIES + 1):
            status, answer = await super().post_signed(doc)
            if status < 500 or attempt == self.RETRIES:
                return status, answer
            self.failures.append((status, answer[:120]))
            await asyncio.sleep(0.1 * 2 ** attempt)
        raise AssertionError("unreachable")


async def drive(walkers: Customers, customers: int, walks: int, first: int) -> None:
    """``walks`` walks through the flow, ``customers`` at a time, each slot starting the next
    walk (a new customer) as soon as its last one ended."""
    ids = itertools.count(first)
    left = walks

    async def slot() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await walkers.walk(next(ids))

    await asyncio.gather(*(slot() for _ in range(min(customers, walks))))


async def snapshot(procs: list[subprocess.Popen], db, setup: Setup) -> dict[str, Any]:  # noqa: ANN001
    return {"api": tree_cpu_seconds(procs[0].pid), "worker": tree_cpu_seconds(procs[1].pid),
            "api_system": tree_system_seconds(procs[0].pid), "worker_system": tree_system_seconds(procs[1].pid),
            "postgres": await backend_cpu(db),
            "pgbouncer": cpu_seconds(setup.pgbouncer_pid) if setup.pgbouncer_pid else 0.0,
            "redis": await setup.redis_cpu(), "redis_commands": await setup.redis_commands()}


def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    out = {k: after[k] - before[k] for k in (*KINDS, *EXTRA) if k != "postgres"}
    out["postgres"] = backend_delta(before["postgres"], after["postgres"])
    return out


async def analyze(db) -> None:  # noqa: ANN001
    """ANALYZE the scratch database, as a production server's autovacuum keeps its statistics.
    A server run with ``autovacuum = off`` (as CI's often are) plans every run's statements
    on the statistics of an empty database: each connection's plan (PyTake's are generic,
    made once) then reads more the more the earlier runs wrote, and four identical runs cost
    PostgreSQL 5.6, 6.2, 8.2 and 10.8 ms per message."""
    from sqlalchemy import text

    async with db.session() as s:
        await s.execute(text("ANALYZE"))
        await s.commit()


async def run_once(setup: Setup, api: int, workers: int, args: argparse.Namespace, db, base: int) -> Run:  # noqa: ANN001
    await analyze(db)  # before the processes start: their plans are made on the data as it is now
    arrivals: dict[str, asyncio.Queue] = {}
    sandbox_port, api_port = free_port(), free_port()
    sandbox = make_sandbox(arrivals, api_port, WEBHOOK_PATH)
    sandbox_server = await http_lite.serve(sandbox.handle, "127.0.0.1", sandbox_port)
    procs = start_pytake(pytake_env(setup.database_url, setup.redis_url, sandbox_port, args.off), api_port, api, workers,
                         args.concurrency, log_prefix=f"scale-{setup.name}-{api}x{workers}-")
    walkers = RetryingCustomers(api_port, WEBHOOK_PATH, arrivals)
    walks = max(1, args.messages // len(walkers.steps))
    try:
        await wait_http(f"http://127.0.0.1:{api_port}/health")
        sandbox.state.config.send_statuses = args.statuses == "on"
        # warm-up, not measured: pools at their working size, the program cache, every
        # process of the shape reached (a walk per customer; the replies need the workers up)
        await drive(walkers, args.customers, args.customers, base)
        await settle(sandbox)
        await quiet(db)
        before = await snapshot(procs, db, setup)
        started = time.perf_counter()
        window_started = time.monotonic()
        await drive(walkers, args.customers, walks, base + args.customers)
        elapsed = time.perf_counter() - started
        await settle(sandbox)  # the statuses these messages caused are part of their cost
        stuck = await quiet(db)  # and so are the events they left to the workers
        after = await snapshot(procs, db, setup)
        window = time.monotonic() - window_started
        # the same processes idle: their timers and polls, which a slower run spreads over fewer messages
        idle_started, idle_before = time.monotonic(), [tree_cpu_seconds(p.pid) for p in procs[:2]]
        await asyncio.sleep(args.idle_seconds)
        idle_cpu = [tree_cpu_seconds(p.pid) - b for p, b in zip(procs[:2], idle_before)]
        idle_seconds = time.monotonic() - idle_started
        idle = {"api": idle_cpu[0] / idle_seconds, "worker": idle_cpu[1] / idle_seconds}
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{' '.join(proc.args[1:3])} exited during the run ({proc.returncode}): "
                                   "see .pytake/bench/scale-*.log")
    finally:
        stop_pytake(procs)
        walkers.close()
        sandbox_server.close()
        await sandbox.aclose()
    if walkers.failures:
        statuses = sorted({status for status, _ in walkers.failures})
        print(f"  WARNING: {len(walkers.failures)} webhook answers were {statuses} and delivered again, as Meta "
              f"does (first: {walkers.failures[0][1]!r}); see .pytake/bench/scale-{setup.name}-{api}x{workers}-api.log",
              flush=True)
    if stuck:
        print(f"  WARNING: event consumers not moving after the run ({STUCK_SECONDS:.0f} s), their backlog not counted: "
              + ", ".join(f"{name} {n}" for name, n in sorted(stuck.items()))
              + f"; see .pytake/bench/scale-{setup.name}-{api}x{workers}-worker.log", flush=True)
    return Run(setup.name, api, workers, walks * len(walkers.steps), elapsed, delta(before, after), window, idle)


def print_run(run: Run, floor: float) -> None:
    processes = run.api + run.workers
    print(f"{run.setup:13s} {run.api} API + {run.workers} worker: {run.messages} inbound messages in "
          f"{run.elapsed:.2f} s = {run.rate:.1f} msg/s ({run.rate / processes:.1f} per PyTake process; "
          f"{run.rate / floor:.0f} per 1,000 pgbench tps)", flush=True)
    print(f"  CPU per inbound message: API {run.ms('api'):.2f} ms ({run.ms('api') / run.api:.2f} per process), "
          f"worker {run.ms('worker'):.2f} ms ({run.ms('worker') / run.workers:.2f} per process), "
          f"PyTake {run.ms('api', 'worker'):.2f} ms; PostgreSQL backends {run.ms('postgres'):.2f} ms, "
          f"PgBouncer {run.ms('pgbouncer'):.2f} ms, Redis {run.ms('redis'):.2f} ms; "
          f"all {run.ms(*KINDS):.2f} ms", flush=True)
    print(f"  idle, the same processes: API {run.idle['api'] * 1000:.0f} ms/s, worker {run.idle['worker'] * 1000:.0f} "
          f"ms/s of CPU; net of it, per message: API {run.net_ms('api'):.2f} ms, worker {run.net_ms('worker'):.2f} ms, "
          f"PyTake {run.net_ms('api', 'worker'):.2f} ms", flush=True)
    print(f"  of which system time (the kernel's, e.g. sockets): API {run.ms('api_system'):.2f} ms, worker "
          f"{run.ms('worker_system'):.2f} ms; Redis commands per message "
          f"{run.cpu['redis_commands'] / run.messages:.1f}", flush=True)


def print_summary(runs: list[Run], floor: float) -> None:
    print()
    print("CPU ms per inbound message (cluster = Redis Cluster 3+3 and PgBouncer; redis-cluster and pgbouncer: "
          "one of the two; '/ single': the row above over the single server's)")
    print(f"{'processes':16s} {'setup':13s} {'msg/s':>7s} {'/proc':>6s} {'/1k tps':>7s} {'API':>6s} {'worker':>6s} "
          f"{'PyTake':>6s} {'PG':>6s} {'PgB':>6s} {'Redis':>6s} {'all':>6s}")
    columns = (("api",), ("worker",), ("api", "worker"), ("postgres",), ("pgbouncer",), ("redis",), KINDS)
    by_shape: dict[tuple[int, int], dict[str, Run]] = {}
    for run in runs:
        by_shape.setdefault((run.api, run.workers), {})[run.setup] = run
    for (api, workers), pair in by_shape.items():
        label = f"{api} API + {workers} wkr"
        for name in SETUPS:
            run = pair.get(name)
            if run is None:
                continue
            cells = " ".join(f"{run.ms(*kinds):6.2f}" for kinds in columns)
            print(f"{label:16s} {name:13s} {run.rate:7.1f} {run.rate / (api + workers):6.1f} "
                  f"{run.rate / floor:7.0f} {cells}")
            label = ""
            if name != "single" and "single" in pair:
                single = pair["single"]
                cells = " ".join(f"{run.ms(*k) / single.ms(*k):6.2f}" if single.ms(*k) > 0 else f"{'-':>6s}"
                                 for k in columns)
                print(f"{'':16s} {'  / single':13s} {run.rate / single.rate:7.2f} {'':6s} {'':7s} {cells}")
    pairs = [p for p in by_shape.values() if "single" in p and "cluster" in p]
    if not pairs:
        return
    print()
    for (api, workers), pair in by_shape.items():
        if "single" in pair and "cluster" in pair:
            ratio = pair["cluster"].ms("api", "worker") / pair["single"].ms("api", "worker")
            print(f"cluster / single PyTake CPU per message, {api} API + {workers} worker: {ratio:.2f}   "
                  f"(target <= {TARGET})")

    def per_message(name: str, *kinds: str) -> float:
        return sum(p[name].ms(*kinds) * p[name].messages for p in pairs) / sum(p[name].messages for p in pairs)

    for (api, workers), pair in by_shape.items():
        if "single" in pair and "cluster" in pair:
            ratio = pair["cluster"].net_ms("api", "worker") / pair["single"].net_ms("api", "worker")
            print(f"  net of idle CPU, {api} API + {workers} worker: {ratio:.2f}")
    pytake = per_message("cluster", "api", "worker") / per_message("single", "api", "worker")
    everything = per_message("cluster", *KINDS) / per_message("single", *KINDS)
    net = (sum(p["cluster"].net_ms("api", "worker") * p["cluster"].messages for p in pairs)
           / sum(p["single"].net_ms("api", "worker") * p["single"].messages for p in pairs))
    print(f"cluster / single over all process counts: PyTake CPU per message {pytake:.2f} (target <= {TARGET}: "
          f"{'met' if pytake <= TARGET else 'NOT met'}); net of idle CPU {net:.2f}; everything counted "
          f"{everything:.2f}")


async def start_distributed_setups(stack: contextlib.AsyncExitStack, database_url: str, single_redis: Any,
                                   redis_url: str, args: argparse.Namespace) -> list[Setup]:
    """The setups of ``args.setups`` other than single, each with what it needs started here."""
    import redis.asyncio as aioredis

    from tests.cluster.conftest import start_cluster
    from tests.pgbouncer_process import PGBOUNCER, pgbouncer_version, prepared_pgbouncer, running_pgbouncer, through

    wanted = [name for name in args.setups if name != "single"]
    if not wanted:
        return []
    root = Path(tempfile.mkdtemp(prefix="pytake-scale-"))
    stack.callback(shutil.rmtree, root, ignore_errors=True)
    cluster = nodes = None
    if any(SETUPS[name][0] for name in wanted):
        cluster = await asyncio.to_thread(start_cluster, root / "redis")
        stack.callback(cluster.stop)
        nodes = [aioredis.Redis(host="127.0.0.1", port=p) for p in cluster.ports]
        for node in nodes:
            stack.push_async_callback(node.aclose)
        print(f"Redis Cluster: REDIS_URL={cluster.url} ({len(cluster.ports)} nodes: "
              f"{', '.join(str(p) for p in cluster.ports)})", flush=True)
    bouncer_url = pid = None
    if any(SETUPS[name][1] for name in wanted):
        # a deployment's server pool (the tests' is deliberately tiny); connections not logged
        prepared = args.pooler == "pgbouncer-prepared"
        extra: dict[str, Any] = {}
        binary = PGBOUNCER
        if prepared:
            binary, why = prepared_pgbouncer()
            if binary is None:
                raise SystemExit(f"--pooler pgbouncer-prepared: {why}")
            extra = {"max_prepared_statements": 1000, "connect_query": "SET plan_cache_mode = force_generic_plan"}
        pgbouncer = await stack.enter_async_context(running_pgbouncer(
            database_url, root / "pgbouncer", default_pool_size=args.pgbouncer_pool, max_client_conn=2000,
            log_connections=0, log_disconnections=0, binary=binary, **extra))
        bouncer_url, pid = through(database_url, "127.0.0.1", pgbouncer.port, args.pooler), pgbouncer.pid
        version = ".".join(map(str, pgbouncer_version(binary)))
        print(f"PgBouncer {version}: DATABASE_URL={bouncer_url} (pid {pid}, transaction mode, "
              f"{args.pgbouncer_pool} server connections"
              f"{', max_prepared_statements 1000' if prepared else ''})", flush=True)
    setups = []
    for name in wanted:
        on_cluster, on_bouncer = SETUPS[name]
        setups.append(Setup(name, bouncer_url if on_bouncer else database_url,
                            cluster.url if on_cluster else redis_url,
                            nodes if on_cluster else [single_redis], pid if on_bouncer else None))
        print(f"{name} setup: Redis {'Cluster' if on_cluster else 'single server'}, PostgreSQL "
              f"{'through PgBouncer' if on_bouncer else 'direct'}", flush=True)
    return setups


async def main(args: argparse.Namespace) -> int:
    import signal

    import redis.asyncio as aioredis

    from api.db.session import Database
    from api.workers.queue import LANES

    # SIGTERM as SIGINT: the main task cancelled, and what was started is stopped and removed
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    server_db = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    database_url = await create_database(server_db)
    db = Database(database_url)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(drop_database, database_url)
        stack.push_async_callback(db.dispose)
        await seed_bench(db)
        single_redis = aioredis.from_url(redis_url)
        stack.push_async_callback(single_redis.aclose)
        await single_redis.delete(*LANES)
        floor_tps, floor_how = await pgbench_floor.insert_tps(database_url, seconds=args.floor_seconds)
        floor = floor_tps / 1000
        print(f"floor: {floor_tps:.0f} single-row insert transactions/s on this PostgreSQL ({floor_how}); "
              "'per 1,000 pgbench tps' figures divide by it", flush=True)
        setups = []
        if "single" in args.setups:
            setups.append(Setup("single", database_url, redis_url, [single_redis]))
            print(f"single setup: REDIS_URL={redis_url} (its CPU is the whole server's), "
                  f"DATABASE_URL={database_url} (direct)", flush=True)
        setups += await start_distributed_setups(stack, database_url, single_redis, redis_url, args)
        print(f"{args.customers} customers at a time, {args.messages} inbound messages per run after a warm-up walk "
              f"each; status webhooks {args.statuses}"
              + (f"; worker chores off in both setups: {args.off}" if args.off else ""), flush=True)
        runs: list[Run] = []
        base = 0
        for api, workers in args.shapes:
            for setup in setups:  # the setups back to back: the same machine load for their ratios
                run = await run_once(setup, api, workers, args, db, base)
                base += args.customers + args.messages
                print_run(run, floor)
                runs.append(run)
        print_summary(runs, floor)
        print(f"machine load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
              "(other processes compete for the same cores: figures indicative)")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100, help="customers walking the flow at a time")
    parser.add_argument("--messages", type=int, default=1600,
                        help="inbound messages measured per run (whole walks of 4 messages)")
    parser.add_argument("--shapes", type=parse_shapes, default=parse_shapes("1x1,2x1,1x2,2x2"),
                        help="API x worker process counts to run, comma-separated")
    parser.add_argument("--setups", type=lambda v: [s for s in v.split(",") if s], default=["single", "cluster"],
                        help="comma-separated: single, cluster (Redis Cluster and PgBouncer), redis-cluster "
                             "(Redis Cluster, PostgreSQL direct), pgbouncer (one Redis, PgBouncer)")
    parser.add_argument("--statuses", choices=("on", "off"), default="on",
                        help="the sandbox posts Meta's status webhooks (sent, delivered, read) for every send")
    parser.add_argument("--concurrency", type=int, default=200, help="tasks each worker process runs at once")
    parser.add_argument("--pgbouncer-pool", type=int, default=40,
                        help="PgBouncer's server connections per database and user (deploy/compose.yaml: 40)")
    parser.add_argument("--pooler", choices=("pgbouncer-transaction", "pgbouncer-prepared"),
                        default="pgbouncer-transaction",
                        help="how PyTake runs behind PgBouncer; pgbouncer-prepared needs PgBouncer 1.21+ "
                             "(PGBOUNCER_PREPARED=/path/to/pgbouncer)")
    parser.add_argument("--off", default="",
                        help="worker chores switched off in both setups (comma-separated, as bench/e2e.py --off: "
                             "live, logs, webhooks, statistics, path-counts, assignment, maintenance)")
    parser.add_argument("--floor-seconds", type=float, default=5.0, help="seconds of the pgbench floor")
    parser.add_argument("--idle-seconds", type=float, default=5.0,
                        help="seconds the processes are measured idle after each run")
    parsed = parser.parse_args()
    if parsed.customers < 1 or parsed.messages < 4:
        parser.error("--customers must be at least 1 and --messages at least 4 (one walk)")
    unknown = set(parsed.setups) - set(SETUPS)
    if unknown or not parsed.setups:
        parser.error(f"--setups: {', '.join(SETUPS)}, not {', '.join(sorted(unknown)) or 'nothing'}")
    from api.event_loop import run as run_loop

    sys.exit(run_loop(main(parsed)))
