"""On the Redis Cluster too (`ResilientCluster` sends a script again after a connection
error): leases, send limits, due pops, heartbeats and typing run twice in a row answer and
leave what one run does (their memo keys share their slots)."""

from __future__ import annotations

import time
import types
import uuid

from api.live.audience import Viewer
from api.live.presence import beat
from api.live.typing_indicator import typing
from api.outbox.locks import conversation_lease, sender_lease
from api.outbox.send_rate_limit import Limit, SendRateLimiter
from api.redis_clients import cluster_client
from api.workers import maintenance
from tests.cluster.conftest import Cluster
from tests.redis_retry import scripts_run_twice

BURST_OF_3 = Limit(rate=10, per_seconds=3600, burst=3)  # per hour: nothing comes due meanwhile


async def test_leases_and_send_limits_run_twice_answer_as_once(redis_cluster: Cluster, cluster_redis) -> None:
    retrying = scripts_run_twice(cluster_client(redis_cluster.url))
    try:
        lease = conversation_lease(retrying, uuid.uuid4())
        assert await lease.acquire() is True and lease.token == 1
        await lease.release()
        assert lease.missed is False
        assert not await cluster_redis.exists(lease.key) and not await cluster_redis.exists(lease.key + ":missed")

        assert await SendRateLimiter(retrying).try_acquire_many("1065", "r", BURST_OF_3, None, n=2) == (2, 0.0)
        assert (await SendRateLimiter(cluster_redis).try_acquire_many("1065", "r", BURST_OF_3, None, n=3))[0] == 1

        # on a cluster the sender lease and the sends are two scripts (their slots differ)
        sender = sender_lease(retrying, uuid.uuid4())
        assert await SendRateLimiter(retrying).lease_and_take(sender, "1066", "r", BURST_OF_3, None, n=2) == 2
        assert sender.token == 1
        assert (await SendRateLimiter(cluster_redis).try_acquire_many("1066", "r", BURST_OF_3, None, n=3))[0] == 1
        await sender.release()
        assert sender.missed is False
    finally:
        await retrying.aclose()


async def test_pops_heartbeats_and_typing_run_twice_answer_as_once(redis_cluster: Cluster, cluster_redis) -> None:
    retrying = scripts_run_twice(cluster_client(redis_cluster.url))
    try:
        await cluster_redis.zadd("runtime:timeouts", {"due": 1, "later": time.time() + 3600})
        assert await maintenance.pop_due(types.SimpleNamespace(redis=retrying), "runtime:timeouts") == ["due"]
        assert await cluster_redis.zrange("runtime:timeouts", 0, -1) == [b"later"]

        process = uuid.uuid4().hex
        assert await beat(retrying, process, 5.0) is False and await beat(retrying, process, 5.0) is True

        viewer = Viewer(uuid.uuid4(), uuid.uuid4(), "agent", frozenset(), "Ana")
        row = {"department_id": None, "assigned_to": viewer.user_id}
        assert await typing(retrying, viewer, uuid.uuid4(), row) is True
    finally:
        await retrying.aclose()
