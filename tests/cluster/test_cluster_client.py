"""`api.redis_clients.ResilientCluster` on the fixture's real cluster: a command sent
while the primary of its slot is dead waits for the promoted replica instead of
failing; a command whose connection is closed under it (as redis-py's own refresh
does) is sent again instead of failing with a transport's ``AttributeError``."""

from __future__ import annotations

import asyncio

from redis.asyncio.cluster import RedisCluster

from api.redis_clients import CLUSTER_RETRY_SECONDS, ResilientCluster, cluster_client
from tests.cluster.conftest import Cluster


async def test_a_command_to_a_killed_primary_waits_for_its_replica(redis_cluster: Cluster, cluster_redis) -> None:
    client = cluster_client(redis_cluster.url)
    assert isinstance(client, ResilientCluster) and isinstance(client, RedisCluster)
    killed = None
    try:
        await client.set("failover:{k}", "before")
        primary = redis_cluster.primary_of("failover:{k}")
        replica = redis_cluster.replica_of(primary)
        await asyncio.to_thread(redis_cluster.replicated, primary)  # the write is on the replica
        killed = primary
        redis_cluster.processes[primary].kill()
        redis_cluster.processes[primary].wait()
        # sent at once: the primary is dead and not yet replaced (its node timeout runs)
        await client.set("failover:{k}", "after")
        assert await client.get("failover:{k}") == b"after"
        assert redis_cluster.primary_of("failover:{k}") == replica  # answered by the promoted replica
    finally:
        await client.aclose()
        if killed is not None:
            await asyncio.to_thread(redis_cluster.restart, killed)
    assert CLUSTER_RETRY_SECONDS >= 10  # more than a node timeout (2 s here) plus an election


async def test_a_connection_closed_under_its_command_is_a_connection_error_and_the_command_goes_again(
        redis_cluster: Cluster, cluster_redis, monkeypatch) -> None:
    """redis-py closes every connection of a cluster client on ``CLUSTERDOWN`` (and, with
    its default ``reinitialize_steps``, on every fifth ``MOVED``), those other tasks are
    using too. A command whose connection is closed between its checks and its write
    (here: just before the write, as the failover test met it during a connection's
    handshake) failed with ``AttributeError: 'NoneType' object has no attribute
    'writelines'``, which nothing retried; it is sent again on a fresh connection."""
    from redis.asyncio.connection import Connection

    write = Connection._send_packed_command
    cuts: list[Connection] = []

    async def closed_just_before_the_write(self: Connection, command) -> None:  # noqa: ANN001
        if not cuts:
            cuts.append(self)
            await self.disconnect(nowait=True)  # what the client's close does to a connection in use
        return await write(self, command)

    client = cluster_client(redis_cluster.url, socket_timeout=5.0)  # a timeout: the write goes through wait_for
    try:
        await client.set("closed:{k}", "1")
        monkeypatch.setattr(Connection, "_send_packed_command", closed_just_before_the_write)
        await client.set("closed:{k}", "2")
        assert cuts, "the connection was not closed under the command"
        assert await client.get("closed:{k}") == b"2"
    finally:
        monkeypatch.undo()
        await client.aclose()


async def test_a_pipeline_to_a_killed_primary_waits_for_its_replica(redis_cluster: Cluster, cluster_redis) -> None:
    """A sign-in stores its session as a pipeline (DEL, HSET, EXPIRE in MULTI). redis-py
    retries a cluster pipeline at once, and its tries were spent before the dead
    primary's replica took over: the sign-in failed. `pipelined` rides it out."""
    from datetime import datetime, timedelta, timezone

    from api.redis_keys import UserSession, get_user_session, put_user_session, user_session_key

    client = cluster_client(redis_cluster.url)
    # the budget, not the mechanism, is the product's 15 s: on a loaded machine the promotion
    # itself can take longer (redis-py's own tries never leave the dead primary, whatever the budget)
    client.retry_seconds = 120
    killed = None
    try:
        key = user_session_key("u-failover")
        await client.set(key, "placeholder")
        primary = redis_cluster.primary_of(key)
        replica = redis_cluster.replica_of(primary)
        await asyncio.to_thread(redis_cluster.replicated, primary)
        killed = primary
        redis_cluster.processes[primary].kill()
        redis_cluster.processes[primary].wait()
        # sent at once: the primary is dead and not yet replaced (its node timeout runs)
        session = UserSession("access", "refresh", datetime.now(timezone.utc) + timedelta(hours=1), {"ua": "x"})
        await put_user_session(client, "u-failover", session)
        stored = await get_user_session(client, "u-failover")
        assert stored is not None and (stored.access_token, stored.device_info) == ("access", {"ua": "x"})
        assert 0 < await client.ttl(key)
        assert redis_cluster.primary_of(key) == replica
    finally:
        await client.aclose()
        if killed is not None:
            await asyncio.to_thread(redis_cluster.restart, killed)
