"""A real local Redis Cluster for the tests in this directory.

``redis_cluster`` (session): six ``redis-server`` processes (Debian's
``/usr/bin/redis-server``, ``cluster-enabled yes``, free ports, data under a
temporary directory) formed into a cluster of 3 primaries with one replica
each by ``redis-cli --cluster create``; the fixture waits until every node
reports ``cluster_state:ok`` and every primary has a replica done with its
first sync, and stops the processes at the end. Tests get a `Cluster` (its nodes, the
``redis+cluster://`` URL PyTake takes, and helpers for a failover: a clean
hand-over with ``CLUSTER FAILOVER``, or a primary killed with SIGKILL and
the cluster failing over by itself after `NODE_TIMEOUT_MS`, then the killed
node started again, to rejoin as a replica).
``cluster_redis``: a ``RedisCluster`` client on it, in the test's loop, the
cluster emptied (FLUSHALL on each primary: the cluster is this session's own).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
START_TIMEOUT = 120.0  # a loaded 2-core machine forms a cluster slowly
# a primary that stops answering is marked failed after this and its replica
# promoted about a second later (the replica's election delay): short, so a
# killed primary is replaced within seconds; long enough that a node merely
# slowed down by a loaded machine is not failed over
NODE_TIMEOUT_MS = 2000


def _free_port() -> int:
    """A port free for itself and its cluster bus (port + 10000)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def cli(port: int, *args: str, timeout: float = 30.0) -> str:
    return subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(port), *args], capture_output=True,
                          text=True, timeout=timeout, check=True).stdout


def _info(port: int, section: str) -> dict[str, str]:
    out = cli(port, "CLUSTER", "INFO") if section == "cluster" else cli(port, "INFO", section)
    return dict(line.split(":", 1) for line in out.replace("\r", "").splitlines() if ":" in line)


@dataclass
class Cluster:
    ports: list[int]
    processes: dict[int, subprocess.Popen] = field(default_factory=dict)
    commands: dict[int, list[str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]}/0"

    def alive(self) -> list[int]:
        """The ports whose redis-server runs."""
        return [port for port in self.ports if self.processes[port].poll() is None]

    def nodes(self) -> list[dict[str, str]]:
        """Every node as ``CLUSTER NODES`` sees it (asked of a running node): port, role, primary id, flags."""
        rows = []
        for line in cli(self.alive()[0], "CLUSTER", "NODES").splitlines():
            parts = line.split()
            rows.append({"id": parts[0], "port": parts[1].split("@")[0].split(":")[-1],
                         "flags": parts[2], "master": parts[3], "slots": " ".join(parts[8:])})
        return rows

    def primaries(self) -> list[int]:
        return [int(n["port"]) for n in self.nodes() if "master" in n["flags"] and "fail" not in n["flags"]]

    def primary_of(self, key: str) -> int:
        """The port of the primary serving ``key``'s slot now (from ``CLUSTER NODES``)."""
        slot = int(cli(self.alive()[0], "CLUSTER", "KEYSLOT", key).strip())
        for node in self.nodes():
            if "master" not in node["flags"] or "fail" in node["flags"]:
                continue
            for span in node["slots"].split():
                if span.startswith("["):  # a slot being migrated
                    continue
                low, _, high = span.partition("-")
                if int(low) <= slot <= int(high or low):
                    return int(node["port"])
        raise LookupError(f"no primary serves slot {slot}")

    def replica_of(self, primary_port: int) -> int:
        nodes = self.nodes()
        primary = next(n for n in nodes if int(n["port"]) == primary_port)
        return next(int(n["port"]) for n in nodes if n["master"] == primary["id"] and "fail" not in n["flags"])

    def healthy(self) -> bool:
        try:
            if len(self.alive()) < len(self.ports):
                return False
            if any(_info(p, "cluster").get("cluster_state") != "ok" for p in self.processes):
                return False
            nodes = self.nodes()
        except (subprocess.SubprocessError, OSError):
            return False
        primaries = [n for n in nodes if "master" in n["flags"] and n["slots"]]
        replicas = [n for n in nodes if "slave" in n["flags"] and "fail" not in n["flags"]]
        if not (len(primaries) >= 3 and len(replicas) >= 3
                and all(any(r["master"] == p["id"] for r in replicas) for p in primaries)):
            return False
        # a replica is listed as soon as it is told its primary, but holds the data (and
        # may be promoted: a replica that never synced is "disconnected for too long" and
        # never stands for election) only once its first sync is done
        try:
            return all(_info(int(r["port"]), "replication").get("master_link_status") == "up" for r in replicas)
        except (subprocess.SubprocessError, OSError):
            return False

    def replicated(self, primary_port: int, timeout_ms: int = 30_000) -> None:
        """Wait until ``primary_port``'s replica acknowledged every write made to it so far."""
        acknowledged = int(cli(primary_port, "WAIT", "1", str(timeout_ms)).strip())
        if acknowledged < 1:
            raise RuntimeError(f"no replica of {primary_port} acknowledged its writes within {timeout_ms} ms")

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach cluster_state:ok:\n"
                                   + cli(self.alive()[0], "CLUSTER", "NODES"))
            time.sleep(0.2)

    def failover(self, primary_port: int) -> int:
        """Promote ``primary_port``'s replica (``CLUSTER FAILOVER`` on it, a clean
        hand-over); wait until it is a primary; its port."""
        replica = self.replica_of(primary_port)
        cli(replica, "CLUSTER", "FAILOVER")
        deadline = time.monotonic() + START_TIMEOUT
        while _info(replica, "replication").get("role") != "master":
            if time.monotonic() > deadline:
                raise RuntimeError(f"replica {replica} was not promoted")
            time.sleep(0.1)
        return replica

    def kill(self, primary_port: int) -> int:
        """SIGKILL the redis-server on ``primary_port`` (no goodbye to its peers, its
        unreplicated writes lost); wait until the cluster promoted its replica on its
        own (after `NODE_TIMEOUT_MS`) and is ``cluster_state:ok`` again; that replica's port."""
        replica = self.replica_of(primary_port)
        process = self.processes[primary_port]
        process.send_signal(signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if (_info(replica, "replication").get("role") == "master"
                        and all(_info(p, "cluster").get("cluster_state") == "ok" for p in self.alive())):
                    return replica
            except subprocess.SubprocessError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"replica {replica} of the killed {primary_port} was not promoted")
            time.sleep(0.1)

    def restart(self, port: int) -> None:
        """Start a killed node again (same port, its nodes.conf): it rejoins as a replica of
        the primary that took its slots; wait until the cluster is whole and healthy."""
        if self.processes[port].poll() is None:
            return
        self.processes[port] = subprocess.Popen(self.commands[port], stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL)
        self.wait_healthy()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _launch(cluster: Cluster, root: Path) -> int:
    """Start one node on a free port (its own data directory); its port."""
    port = _free_port()
    cluster.ports.append(port)
    data = root / str(port)
    data.mkdir(parents=True)
    cluster.commands[port] = [
        REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
        "--cluster-config-file", str(data / "nodes.conf"), "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
        "--repl-diskless-sync-delay", "0",  # a replica syncs at once (Redis 7 waits 5 s for others)
        "--dir", str(data), "--save", "", "--appendonly", "no", "--protected-mode", "no",
        "--logfile", str(data / "redis.log")]
    cluster.processes[port] = subprocess.Popen(cluster.commands[port], stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL)
    return port


def _log_tail(root: Path, port: int) -> str:
    try:
        return " | ".join((root / str(port) / "redis.log").read_text().splitlines()[-3:])
    except OSError:
        return "no log"


def start_cluster(root: Path, nodes: int = 6, attempts: int = 5) -> Cluster:
    """Six nodes (three primaries, a replica each), healthy. A node that exits before it answers
    (its port, or its bus port, taken between `_free_port`'s look and the server's bind: on a busy
    machine any outgoing connection may get it) is started again on another port."""
    cluster = Cluster(ports=[])
    try:
        for _ in range(nodes):
            _launch(cluster, root)
        deadline = time.monotonic() + START_TIMEOUT
        waiting, failures = list(cluster.ports), 0
        while waiting:
            port = waiting[0]
            try:
                if cli(port, "PING").strip() == "PONG":
                    waiting.pop(0)
                    continue
            except subprocess.SubprocessError:
                pass
            if cluster.processes[port].poll() is not None:  # it exited: another port
                failures += 1
                if failures > attempts:
                    raise RuntimeError(f"redis-server on {port} exited: {_log_tail(root, port)}")
                cluster.ports.remove(port)
                del cluster.processes[port], cluster.commands[port]
                waiting[0] = _launch(cluster, root)
                continue
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on {port} did not start: {_log_tail(root, port)}")
            time.sleep(0.1)
        subprocess.run([REDIS_CLI, "--cluster", "create", *(f"127.0.0.1:{p}" for p in cluster.ports),
                        "--cluster-replicas", "1", "--cluster-yes"],
                       capture_output=True, text=True, timeout=START_TIMEOUT, check=True)
        cluster.wait_healthy()
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not Path(REDIS_SERVER).exists():
        pytest.fail(f"{REDIS_SERVER} is needed for the Redis Cluster tests")
    cluster = start_cluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def cluster_redis(redis_cluster: Cluster) -> AsyncIterator:
    from redis.asyncio.cluster import RedisCluster

    redis_cluster.wait_healthy()
    for port in redis_cluster.primaries():
        cli(port, "FLUSHALL")
    client = RedisCluster(host="127.0.0.1", port=redis_cluster.primaries()[0])
    try:
        yield client
    finally:
        await client.aclose()
