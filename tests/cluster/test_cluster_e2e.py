"""The whole message path on a Redis Cluster: signed webhook → Taskiq lane →
flow → outbox (leases, send limits) → sandbox, with ``REDIS_URL`` a
``redis+cluster://`` URL for the API, the worker and the runtime; and a
primary failing over in the middle of a stream of conversations, cleanly
(``CLUSTER FAILOVER``) or killed (SIGKILL, the cluster promoting its replica
by itself), loses nothing and sends nothing twice."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from typing import AsyncIterator, Awaitable, Callable

import pytest

from api.redis_clients import redis_client
from api.workers.queue import HIGH
from tests.cluster.conftest import Cluster
from tests.runtime.conftest import _forget_numbers, add, flows, query, seeded, settings  # noqa: F401
from tests.runtime import conftest as runtime_fixtures


@pytest.fixture
def redis_url(redis_cluster: Cluster) -> str:  # the runtime fixtures' Redis is the cluster
    return redis_cluster.url


@pytest.fixture
async def redis(cluster_redis) -> AsyncIterator:
    yield cluster_redis


@pytest.fixture
async def servers(db, redis, database_url, redis_url, tmp_path, seeded, monkeypatch) -> AsyncIterator:
    """tests/runtime's ``servers`` (API, sandbox, in-process worker), whose servers keep
    idle connections longer than the Graph client's keep-alive (30 s): with hypercorn's
    default 5 s, a send on a connection idle ~5 s (the pause of a failover) can meet the
    server closing it, an outcome PyTake rightly never guesses at (delivery_unknown)."""
    from hypercorn.config import Config

    class LongKeepAlive(Config):
        keep_alive_timeout = 120

    monkeypatch.setattr("hypercorn.config.Config", LongKeepAlive)
    async for value in runtime_fixtures.servers.__wrapped__(db, redis, database_url, redis_url, tmp_path, seeded, {}):
        yield value


def _texts(servers, wa_id: str) -> list[str]:  # noqa: ANN001
    return [m["payload"]["text"]["body"] for m in servers.inbox(wa_id) if m["payload"].get("type") == "text"]


async def test_a_conversation_runs_end_to_end_on_the_cluster(servers, add, flows, redis_cluster):
    assert servers.settings.redis_url.startswith("redis+cluster://")
    await add("cadastro", flows["name"])
    assert (await servers.customer_says("5511911112222", "oi", profile_name="Ana")).status_code == 200
    await servers.wait_for(lambda: _texts(servers, "5511911112222"), timeout=120)
    assert _texts(servers, "5511911112222") == ["Qual seu nome?"]
    await servers.customer_says("5511911112222", "Ana Souza")
    await servers.wait_for(lambda: len(_texts(servers, "5511911112222")) >= 2, timeout=120)
    assert _texts(servers, "5511911112222") == ["Qual seu nome?", "Obrigado, Ana Souza!"]


CUSTOMERS = 6
ROUNDS = 6
NUMBER_LIMITS = "ratelimit:wa:number:{100200300}"  # the seeded number's send limits (api/outbox/send_rate_limit.py)
# the kill test's maintenance sweep (docs/runtime.md "Recovery"): a wake-up lost with
# the killed primary's unreplicated writes is found this long after its message was stored
SWEEP_SECONDS = 0.5
STALE_SECONDS = 2.0


@pytest.fixture
async def sweeping(servers) -> AsyncIterator[None]:  # noqa: ANN001
    """The maintenance loop as every worker runs it (`servers` starts its worker
    without it), on its own runtime (pool and Redis client, as another worker
    process), with a short sweep: unprocessed inbound and unsent outbound rows
    older than `STALE_SECONDS` on conversations nobody holds are enqueued again."""
    from api.runtime_context import Runtime
    from api.workers.maintenance import run_forever

    settings = dataclasses.replace(servers.settings, runtime_sweep_seconds=SWEEP_SECONDS,
                                   runtime_stale_seconds=STALE_SECONDS)
    runtime = Runtime.open(settings)
    stop = asyncio.Event()
    chores = asyncio.create_task(run_forever(runtime, stop))
    try:
        yield
    finally:
        stop.set()
        await chores
        await runtime.close()


async def _stream_with(servers, add, flows, redis_cluster,  # noqa: ANN001
                       disrupt: Callable[[], Awaitable[list[int]]]) -> dict[str, list[float]]:
    """`CUSTOMERS` customers talk to the echo flow, each message after the previous
    reply, for `ROUNDS` messages; once every customer is mid-conversation ``disrupt()``
    runs (in a thread's time: the conversations go on meanwhile); after the last reply
    and once the task lanes are empty, every message must have exactly one echo.
    Each customer's reply times (seconds from the message to its reply), for the report."""
    await add("eco", flows["echo"])
    customers = [f"55119000000{n:02d}" for n in range(CUSTOMERS)]
    midway = asyncio.Event()
    in_round: Counter = Counter()
    waits: dict[str, list[float]] = {c: [] for c in customers}

    async def talk(wa_id: str) -> None:
        for n in range(ROUNDS):
            expected = 1 if n == 0 else 2 * n + 1  # the question, then an echo and the question again per answer
            said = time.monotonic()
            response = await servers.customer_says(wa_id, f"{wa_id}-{n}")
            assert response.status_code == 200, response.text
            await servers.wait_for(lambda: len(_texts(servers, wa_id)) >= expected, timeout=180)
            waits[wa_id].append(time.monotonic() - said)
            in_round[n] += 1
            if in_round[1] == CUSTOMERS:
                midway.set()
            if n == 1:
                await midway.wait()  # everyone is mid-conversation when the failover starts

    async def disrupting() -> list[int]:
        await midway.wait()
        return await disrupt()

    failing = asyncio.create_task(disrupting())
    try:
        await asyncio.gather(*(talk(c) for c in customers))
        promoted = await failing
    finally:
        if not failing.done():
            failing.cancel()
    assert all(port in redis_cluster.primaries() for port in promoted)  # the failovers did happen

    lanes = redis_client(redis_cluster.url)  # a client of the cluster as it is now
    try:
        async def settled() -> bool:  # nothing more in flight: the queue lanes are empty
            return not await lanes.llen(HIGH)
        await servers.wait_for(settled, timeout=60)
    finally:
        await lanes.aclose()
    for wa_id in customers:
        texts = _texts(servers, wa_id)
        echoes = Counter(t for t in texts if t.startswith("eco: "))
        assert echoes == Counter(f"eco: {wa_id}-{n}" for n in range(1, ROUNDS)), texts  # each once, none lost
        assert texts.count("Diga algo") == ROUNDS, texts
    slowest = max(w for ws in waits.values() for w in ws)
    print(f"{CUSTOMERS * ROUNDS} messages, each answered once; the slowest reply took {slowest:.2f} s")
    return waits


async def test_a_primary_failover_mid_stream_loses_nothing_and_sends_nothing_twice(
        servers, add, flows, redis_cluster):
    """The primary holding the task lanes is failed over to its replica (``CLUSTER
    FAILOVER``, a clean hand-over), then the one holding the number's send limits,
    while the customers talk; no maintenance sweep runs: a clean failover loses no
    wake-up, so every message is answered without it."""
    async def failovers() -> list[int]:
        promoted = []
        for key in (HIGH, NUMBER_LIMITS):
            primary = await asyncio.to_thread(redis_cluster.primary_of, key)
            promoted.append(await asyncio.to_thread(redis_cluster.failover, primary))
        return promoted

    await _stream_with(servers, add, flows, redis_cluster, failovers)


async def test_a_primary_killed_mid_stream_loses_nothing_and_sends_nothing_twice(
        servers, sweeping, add, flows, redis_cluster):
    """The redis-server holding the task lanes is killed (SIGKILL) while the customers
    talk; the cluster marks it failed after its node timeout and promotes its replica
    by itself. Tasks queued on it and not yet replicated are gone with it (asynchronous
    replication): PostgreSQL still holds their messages, and the maintenance sweep
    enqueues them again. Every message is still answered, exactly once."""
    async def kill() -> list[int]:
        primary = await asyncio.to_thread(redis_cluster.primary_of, HIGH)
        try:
            return [await asyncio.to_thread(redis_cluster.kill, primary)]
        finally:
            killed.append(primary)

    killed: list[int] = []
    try:
        await _stream_with(servers, add, flows, redis_cluster, kill)
    finally:
        for port in killed:  # back as a replica: the next tests get a whole cluster
            await asyncio.to_thread(redis_cluster.restart, port)
