"""The cluster the tests and bench/scale.py start survives a port taken under its feet: on a busy
machine an outgoing connection can get a port between `_free_port`'s look and redis-server's bind."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.cluster import conftest


def test_a_node_whose_port_was_taken_starts_again_on_another(tmp_path: Path, monkeypatch) -> None:
    if not Path(conftest.REDIS_SERVER).exists():
        pytest.fail(f"{conftest.REDIS_SERVER} is needed for the Redis Cluster tests")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        real, handed = conftest._free_port, []

        def free_port() -> int:  # the first node gets a port somebody else holds
            handed.append(port if not handed else real())
            return handed[-1]

        monkeypatch.setattr(conftest, "_free_port", free_port)
        cluster = conftest.start_cluster(tmp_path)
        try:
            assert port not in cluster.ports and len(cluster.ports) == 6
            assert sorted(cluster.alive()) == sorted(cluster.ports)
            assert conftest.cli(cluster.ports[0], "CLUSTER", "INFO").count("cluster_state:ok") == 1
        finally:
            cluster.stop()
