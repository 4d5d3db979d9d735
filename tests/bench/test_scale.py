"""bench/scale.py at a tiny size: every setup (single server; Redis Cluster + PgBouncer; each of
the two alone) with one and two processes of each kind carries real messages end to end, the
figures and the ratios to the single server are printed, and nothing it started is left behind."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg

from tests.conftest import _asyncpg_kwargs as asyncpg_kwargs

REPO = Path(__file__).resolve().parents[2]
RUN = re.compile(r"^(single|cluster|redis-cluster|pgbouncer)\s+(\d) API \+ (\d) worker: (\d+) inbound messages in [\d.]+ s = ([\d.]+) msg/s "
                 r"\(([\d.]+) per PyTake process; (\d+) per 1,000 pgbench tps\)$", re.M)
CPU = re.compile(r"CPU per inbound message: API ([\d.]+) ms .*worker ([\d.]+) ms .*PyTake ([\d.]+) ms; "
                 r"PostgreSQL backends ([\d.]+) ms, PgBouncer ([\d.]+) ms, Redis ([\d.]+) ms; all ([\d.]+) ms")
IDLE = re.compile(r"idle, the same processes: API \d+ ms/s, worker \d+ ms/s of CPU; net of it, per message: "
                  r"API -?[\d.]+ ms, worker -?[\d.]+ ms, PyTake -?[\d.]+ ms")
SYSTEM = re.compile(r"of which system time \(the kernel's, e\.g\. sockets\): API [\d.]+ ms, worker [\d.]+ ms; "
                    r"Redis commands per message ([\d.]+)")


def _closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


async def _bench_databases(server_url: str, pid: int) -> list[str]:
    conn = await asyncpg.connect(**asyncpg_kwargs(server_url, "postgres"))  # a socket URL's too
    try:
        return [r[0] for r in await conn.fetch("SELECT datname FROM pg_database WHERE datname = $1",
                                               f"pytake_bench_{pid}")]
    finally:
        await conn.close()


def test_scale_bench_runs_both_setups_and_prints_the_ratios(_servers, redis_url) -> None:  # noqa: ANN001
    env = {**os.environ, "DATABASE_URL": _servers[0], "REDIS_URL": redis_url, "PYTHONPATH": str(REPO)}
    # every event consumer must drain what each run left, on every setup (no WARNING below)
    proc = subprocess.Popen([sys.executable, "-P", str(REPO / "bench" / "scale.py"), "--customers", "2",
                             "--messages", "8", "--shapes", "1x1,2x2", "--floor-seconds", "1", "--idle-seconds", "0.5",
                             "--setups", "single,cluster,redis-cluster,pgbouncer"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=1200)
    assert proc.returncode == 0, f"{out}\n{err}"

    assert re.search(r"^floor: \d+ single-row insert transactions/s", out, re.M), out
    assert "WARNING" not in out, out
    runs = RUN.findall(out)
    cpus = CPU.findall(out)
    setups = ("single", "cluster", "redis-cluster", "pgbouncer")
    assert [(r[0], r[1], r[2]) for r in runs] == [(s, n, n) for n in "12" for s in setups], out
    assert len(cpus) == len(runs) and len(IDLE.findall(out)) == len(runs), out
    commands = SYSTEM.findall(out)
    assert len(commands) == len(runs) and all(float(c) > 0 for c in commands), out  # every setup uses Redis
    for (setup, api, workers, messages, rate, per_process, _), cpu in zip(runs, cpus):
        assert int(messages) == 8 and float(rate) > 0
        assert abs(float(per_process) - float(rate) / (int(api) + int(workers))) < 0.1
        api_ms, worker_ms, pytake_ms, _, pgbouncer_ms, redis_ms, _ = map(float, cpu)
        assert api_ms > 0 and worker_ms > 0 and abs(pytake_ms - api_ms - worker_ms) < 0.02, cpu
        if setup in ("cluster", "pgbouncer"):  # the messages went through PgBouncer
            assert pgbouncer_ms > 0, cpu
        else:
            assert pgbouncer_ms == 0, cpu
        if setup in ("cluster", "redis-cluster"):  # and through the cluster's nodes
            assert redis_ms > 0, cpu
    # each setup but the single server over the single server's, per shape
    assert len(re.findall(r"^\s+/ single\s+\d+\.\d\d ", out, re.M)) == 2 * (len(setups) - 1), out
    for shape in ("1 API + 1 worker", "2 API + 2 worker"):
        assert re.search(rf"^cluster / single PyTake CPU per message, {re.escape(shape)}: \d+\.\d\d   \(target <= 1.15\)$",
                         out, re.M), out
    assert re.search(r"^cluster / single over all process counts: PyTake CPU per message \d+\.\d\d "
                     r"\(target <= 1.15: (met|NOT met)\); net of idle CPU -?\d+\.\d\d; everything counted "
                     r"\d+\.\d\d$", out, re.M), out

    # what it started is gone: the cluster's nodes, PgBouncer, the scratch database
    cluster = re.search(r"^Redis Cluster: REDIS_URL=redis\+cluster://127\.0\.0\.1:\d+/0 \(6 nodes: ([\d, ]+)\)$",
                        out, re.M)
    bouncer = re.search(r"^PgBouncer [\d.]+: DATABASE_URL=\S+\?pooler=pgbouncer-transaction \(pid (\d+),", out, re.M)
    assert cluster and bouncer, out
    assert all(_closed(int(port)) for port in cluster.group(1).split(", "))
    assert not Path(f"/proc/{bouncer.group(1)}").exists()
    assert asyncio.run(_bench_databases(_servers[0], proc.pid)) == []
