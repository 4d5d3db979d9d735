"""Redis on a unix socket, as the embedded Redis of `make run` serves it (``unix://``):
the API answers ``/ready``, the Taskiq broker takes tasks, and a conversation runs
from the signed webhook to the reply at the sandbox. Every other test talks to Redis
over TCP, where options that a unix-socket connection refuses (``socket_keepalive``)
went unnoticed and broke the quickstart's whole message path."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest

from api.redis_clients import pubsub_client, redis_client
from tests.runtime.conftest import _forget_numbers, add, flows, seeded, settings  # noqa: F401
from tests.runtime import conftest as runtime_fixtures
from tests.runtime.test_recovery import REDIS_SERVER


@pytest.fixture
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of this test's own, listening on a unix socket only."""
    directory = tmp_path_factory.mktemp("unix-redis")
    socket_path = directory / "redis.sock"
    proc = subprocess.Popen([REDIS_SERVER, "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
                             "--dir", str(directory), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _answers(socket_path):
            assert proc.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not answer on its socket"
            time.sleep(0.02)
        yield f"unix://{socket_path}"
    finally:
        proc.kill()
        proc.wait()


def _answers(socket_path: Path) -> bool:
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture
async def servers(db, redis, database_url, redis_url, tmp_path, seeded) -> AsyncIterator:  # noqa: ANN001
    async for value in runtime_fixtures.servers.__wrapped__(db, redis, database_url, redis_url, tmp_path, seeded, {}):
        yield value


async def test_the_pooled_and_the_pubsub_clients_talk_over_a_unix_socket(redis_url) -> None:  # noqa: ANN001
    client = redis_client(redis_url, max_connections=4, wait_timeout=5)
    try:
        assert await client.ping()
    finally:
        await client.aclose()
    sub = await pubsub_client(redis_url)
    try:
        assert await sub.ping()
    finally:
        await sub.aclose()


async def test_ready_and_a_conversation_end_to_end_on_a_unix_socket_redis(servers, add, flows) -> None:  # noqa: ANN001
    assert servers.settings.redis_url.startswith("unix://")
    ready = await servers.client.get(servers.pytake_url + "/ready")
    assert ready.status_code == 200, ready.text
    await add("cadastro", flows["name"])
    assert (await servers.customer_says("5511933334444", "oi", profile_name="Ana")).status_code == 200
    texts = lambda: [m["payload"]["text"]["body"] for m in servers.inbox("5511933334444")  # noqa: E731
                     if m["payload"].get("type") == "text"]
    await servers.wait_for(texts, timeout=120)
    assert texts() == ["Qual seu nome?"]
