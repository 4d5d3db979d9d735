"""`pytake serve --processes N`: N processes serve one port, each on its own
SO_REUSEPORT socket, and stop together."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

PYTAKE = Path(sys.executable).parent / "pytake"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> int:
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            count += 1
    return count


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _env(database_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    return os.environ | {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "PYTAKE_DATA_DIR": str(tmp_path)}


def _serve_args(port: int) -> list[str]:
    return [str(PYTAKE), "serve", "--processes", "2", "--no-worker", "--no-migrate", "--port", str(port)]


async def _serving_on_two_sockets(database_url: str, redis_url: str, tmp_path: Path) -> tuple[subprocess.Popen, int]:
    """`pytake serve --processes 2`, once both children listen."""
    port = _free_port()
    proc = subprocess.Popen(_serve_args(port), env=_env(database_url, redis_url, tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while _listening(port) < 2:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("two listening sockets never appeared: " + proc.stderr.read().decode())
        await asyncio.sleep(0.1)
    return proc, port


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads listening sockets from Linux's /proc")
async def test_two_processes_serve_one_port_and_stop_with_the_parent(database_url, redis_url, tmp_path):
    proc, port = await _serving_on_two_sockets(database_url, redis_url, tmp_path)
    try:
        children = _children(proc.pid)  # the two servers (and multiprocessing's resource tracker)
        assert len(children) >= 2

        # many fresh connections: every one is answered, whichever process takes it
        async def health() -> int:
            async with httpx.AsyncClient(timeout=60) as client:
                return (await client.get(f"http://127.0.0.1:{port}/health")).status_code

        assert await asyncio.gather(*(health() for _ in range(20))) == [200] * 20

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        deadline = time.monotonic() + 60  # the resource tracker exits when it sees its pipe close
        while [pid for pid in children if _alive(pid)] and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not [pid for pid in children if _alive(pid)]
        assert _listening(port) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads listening sockets from Linux's /proc")
async def test_children_stop_when_the_parent_is_killed(database_url, redis_url, tmp_path):
    proc, port = await _serving_on_two_sockets(database_url, redis_url, tmp_path)
    try:
        children = _children(proc.pid)
        proc.kill()  # no chance to forward anything
        proc.wait()
        deadline = time.monotonic() + 60
        while ([pid for pid in children if _alive(pid)] or _listening(port)) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not [pid for pid in children if _alive(pid)], "orphaned servers kept running"
        assert _listening(port) == 0
    finally:
        for pid in _children(proc.pid) if proc.poll() is None else []:
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads listening sockets from Linux's /proc")
async def test_a_child_that_cannot_start_stops_the_others(database_url, redis_url, tmp_path):
    with socket.socket() as taken:  # a port held without SO_REUSEPORT: no child can bind it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(_serve_args(port), env=_env(database_url, redis_url, tmp_path),
                              capture_output=True, timeout=180)
    assert proc.returncode == 1
    assert b"Address already in use" in proc.stderr
