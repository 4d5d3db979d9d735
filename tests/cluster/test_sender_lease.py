"""The sender's lease and the number's send limits on a Redis Cluster: two round trips
(their slots differ). When the second fails, the lease taken by the first is let go:
else its renewal kept it for ever and the conversation's replies were never sent
(no sender could take it, and the sweep skips a conversation whose lease is held)."""

from __future__ import annotations

import uuid

import pytest
from redis.exceptions import ResponseError

from api.outbox.locks import sender_lease
from api.outbox.send_rate_limit import Limit, SendRateLimiter
from api.redis_clients import cluster_client
from tests.cluster.conftest import Cluster


async def test_a_failed_send_limit_lets_the_sender_lease_go(redis_cluster: Cluster, cluster_redis) -> None:
    client = cluster_client(redis_cluster.url)
    try:
        conversation = uuid.uuid4()
        # the number's bucket holds a list: the limits' script fails (WRONGTYPE) after the lease was taken
        await client.lpush("ratelimit:wa:number:{1065}", "not a bucket")
        lease = sender_lease(client, conversation, 4000)
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await SendRateLimiter(client).lease_and_take(lease, "1065", "5511999990000", Limit(80), None)
        assert not await client.exists(lease.key)  # released, not renewed for ever
        assert lease.token is None

        await client.delete("ratelimit:wa:number:{1065}")
        again = sender_lease(client, conversation, 4000)  # the next sender takes it at once
        assert await SendRateLimiter(client).lease_and_take(again, "1065", "5511999990000", Limit(80), None) == 1
        await again.release()
    finally:
        await client.aclose()
