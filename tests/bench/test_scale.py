"""bench/scale.py at a tiny size: both setups (single server; Redis Cluster + PgBouncer) with
one and two processes of each kind carry real messages end to end, the figures and the
cluster/single ratios are printed, and nothing it started is left behind."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
RUN = re.compile(r"^(single|cluster)\s+(\d) API \+ (\d) worker: (\d+) inbound messages in [\d.]+ s = ([\d.]+) msg/s "
                 r"\(([\d.]+) per PyTake process; (\d+) per 1,000 pgbench tps\)$", re.M)
CPU = re.compile(r"CPU per inbound message: API ([\d.]+) ms .*worker ([\d.]+) ms .*PyTake ([\d.]+) ms; "
                 r"PostgreSQL backends ([\d.]+) ms, PgBouncer ([\d.]+) ms, Redis ([\d.]+) ms; all ([\d.]+) ms")


def _closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


async def _bench_databases(server_url: str, pid: int) -> list[str]:
    url = make_url(server_url)
    conn = await asyncpg.connect(user=url.username, password=url.password, host=url.host, port=url.port,
                                 database="postgres")
    try:
        return [r[0] for r in await conn.fetch("SELECT datname FROM pg_database WHERE datname = $1",
                                               f"pytake_bench_{pid}")]
    finally:
        await conn.close()


def test_scale_bench_runs_both_setups_and_prints_the_ratios(_servers, redis_url) -> None:  # noqa: ANN001
    env = {**os.environ, "DATABASE_URL": _servers[0], "REDIS_URL": redis_url, "PYTHONPATH": str(REPO)}
    # --off live: on a Redis Cluster the live publisher's pipelined PUBLISH is refused by
    # redis-py's cluster pipeline, round after round (api/live/publisher.py, open in issue 18);
    # the other consumers must drain what each run left (no WARNING below)
    proc = subprocess.Popen([sys.executable, "-P", str(REPO / "bench" / "scale.py"), "--customers", "2",
                             "--messages", "8", "--shapes", "1x1,2x2", "--floor-seconds", "1", "--off", "live"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=1200)
    assert proc.returncode == 0, f"{out}\n{err}"

    assert re.search(r"^floor: \d+ single-row insert transactions/s", out, re.M), out
    assert "WARNING" not in out, out
    runs = RUN.findall(out)
    cpus = CPU.findall(out)
    assert [(r[0], r[1], r[2]) for r in runs] == [
        ("single", "1", "1"), ("cluster", "1", "1"), ("single", "2", "2"), ("cluster", "2", "2")], out
    assert len(cpus) == len(runs), out
    for (setup, api, workers, messages, rate, per_process, _), cpu in zip(runs, cpus):
        assert int(messages) == 8 and float(rate) > 0
        assert abs(float(per_process) - float(rate) / (int(api) + int(workers))) < 0.1
        api_ms, worker_ms, pytake_ms, _, pgbouncer_ms, redis_ms, _ = map(float, cpu)
        assert api_ms > 0 and worker_ms > 0 and abs(pytake_ms - api_ms - worker_ms) < 0.02, cpu
        if setup == "cluster":  # the messages went through PgBouncer and the cluster's nodes
            assert pgbouncer_ms > 0 and redis_ms > 0, cpu
        else:
            assert pgbouncer_ms == 0, cpu
    for shape in ("1 API + 1 worker", "2 API + 2 worker"):
        assert re.search(rf"^cluster / single PyTake CPU per message, {re.escape(shape)}: \d+\.\d\d   \(target <= 1.15\)$",
                         out, re.M), out
    assert re.search(r"^cluster / single over all process counts: PyTake CPU per message \d+\.\d\d "
                     r"\(target <= 1.15: (met|NOT met)\); everything counted \d+\.\d\d$", out, re.M), out

    # what it started is gone: the cluster's nodes, PgBouncer, the scratch database
    cluster = re.search(r"^cluster setup: REDIS_URL=redis\+cluster://127\.0\.0\.1:\d+/0 \(6 nodes: ([\d, ]+)\), "
                        r"DATABASE_URL=\S+\?pooler=pgbouncer-transaction \(PgBouncer pid (\d+),", out, re.M)
    assert cluster, out
    assert all(_closed(int(port)) for port in cluster.group(1).split(", "))
    assert not Path(f"/proc/{cluster.group(2)}").exists()
    assert asyncio.run(_bench_databases(_servers[0], proc.pid)) == []
