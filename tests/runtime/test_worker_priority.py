"""`pytake worker --nice`: a bulk worker lowers its own CPU priority, so on a
machine it shares with the API and live workers the kernel runs them first;
a live worker keeps its priority; nobody may raise theirs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.runtime.test_recovery import PYTAKE


def _start(args: list[str], database_url: str, redis_url: str, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    env = os.environ | {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "PYTAKE_DATA_DIR": str(tmp_path)}
    log = tmp_path / "worker.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([str(PYTAKE), "worker", "--concurrency", "2", *args], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    return proc, log


def _niceness_line(proc: subprocess.Popen, log: Path, timeout: float = 120) -> str:
    """The worker process's log line saying the niceness it now runs at (once its servers are up)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in log.read_text().splitlines() if f"worker process {proc.pid} at niceness" in line]
        if lines:
            return lines[0]
        assert proc.poll() is None, f"the worker exited: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, "the worker did not start in time"
        time.sleep(0.05)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(("args", "lowered_by"), [
    (["--lanes", "bulk"], 10),
    (["--lanes", "live"], 0),
    ([], 0),
    (["--lanes", "bulk", "--nice", "3"], 3),
    (["--lanes", "live", "--nice", "5"], 5),
])
def test_a_bulk_worker_runs_at_a_lower_cpu_priority_than_a_live_one(args, lowered_by, database_url, redis_url,
                                                                     tmp_path):
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    proc, log = _start(args, database_url, redis_url, tmp_path)
    try:
        line = _niceness_line(proc, log)
        expected = min(19, ours + lowered_by)
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == expected
        assert line.rstrip().endswith(f"at niceness {expected}")
        assert f"niceness +{lowered_by}" in log.read_text()  # the start line says what it adds
    finally:
        _stop(proc)


@pytest.mark.parametrize("value", ["-5", "20", "high"])
def test_a_worker_may_not_raise_its_priority_or_take_a_niceness_out_of_range(value, tmp_path):
    done = subprocess.run([str(PYTAKE), "worker", "--nice", value], capture_output=True, text=True, timeout=120,
                          env=os.environ | {"PYTAKE_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert "--nice" in done.stderr
