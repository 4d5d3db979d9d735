"""Every operation that touches several keys at once (a Lua script, a MULTI, a
multi-key command) touches keys of one hash slot, so it runs on a Redis Cluster.

Two proofs: the key sets the real key builders give map to one slot
(``redis.crc.key_slot``, as the cluster computes it), and each operation run
for real through a ``RedisCluster`` on the fixture's cluster does what it
does on one Redis (a cross-slot script is refused there with CROSSSLOT, an
undeclared key of another slot with "non local key").
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from redis.crc import key_slot

from api import redis_keys as rk
from api.analytics.flush import PENDING_ID_KEY, PENDING_KEY, flush_path_counts
from api.analytics.path import LIVE_KEY
from api.campaigns.runner import campaign_lease
from api.live import presence
from api.live.typing_indicator import indicator_key, typing_key
from api.outbox.locks import CONVERSATION_LEASE, SENDER_LEASE, Lease, conversation_lease, lease_key, sender_lease
from api.outbox.send_rate_limit import PAIR_LIMIT, Limit, SendRateLimiter, take_key
from api.redis_buffered_counts import BufferedCounts
from api.workers import maintenance
from api.workers.queue import DEFAULT, HIGH, LANES, LOW, encode_task

USER, OTHER, CONV, CAMPAIGN = (uuid.uuid4() for _ in range(4))
PROCESS = uuid.uuid4().hex


def _one_slot(keys: list[str]) -> bool:
    return len({key_slot(k.encode()) for k in keys}) == 1


def _lease_keys(lease: Lease) -> list[str]:
    return [lease.key, lease.key + ":fence", lease.key + ":missed", lease.key + ":released"]


# every multi-key operation of PyTake and the keys it touches together
MULTI_KEY_OPERATIONS = {
    "redis_keys.check_auth (script)": [rk.blacklist_key("ab12", USER), rk.user_auth_cache_key(USER),
                                       rk.sessions_valid_after_key(USER), rk.user_rate_key(USER)],
    "locks.Lease of a conversation (acquire/release scripts)": _lease_keys(conversation_lease(None, CONV)),
    "locks.Lease of a sender (acquire/release scripts)": _lease_keys(sender_lease(None, CONV)),
    "campaigns.runner lease (acquire/release scripts)": _lease_keys(
        campaign_lease(SimpleNamespace(redis=None), CAMPAIGN)),
    "SendRateLimiter GCRA (script)": [take_key("1065", uuid.uuid4().hex),
                                      *SendRateLimiter._buckets("1065", "5511999", Limit(80, 1, 80), PAIR_LIMIT)[0]],
    "presence join (script)": [presence.user_key(USER), presence.proc_users_key(PROCESS), presence.PROCS],
    "presence sweep (script; walks its users' sets)": [presence.proc_key(PROCESS), presence.proc_users_key(PROCESS),
                                                      presence.PROCS, presence.AWAY, presence.user_key(USER),
                                                      presence.user_key(OTHER)],
    "presence beat (script)": [presence.proc_key(PROCESS), presence.PROCS],
    "maintenance wake-up of a conversation (script)": [lease_key(CONVERSATION_LEASE, CONV),
                                                       f"{maintenance.WOKEN}process:{{{CONV}}}"],
    "maintenance delivery wake-up of a conversation (script)": [lease_key(SENDER_LEASE, CONV),
                                                                f"{maintenance.WOKEN}deliver:{{{CONV}}}"],
    "analytics flush (RENAME in a script)": [LIVE_KEY, PENDING_KEY, PENDING_ID_KEY],
    "Taskiq lanes (pop script, BRPOP)": list(LANES),
    "typing of a conversation (one SCAN, one node)": [typing_key(CONV, USER), typing_key(CONV, OTHER),
                                                      rk.typing_key(CONV, USER), indicator_key(CONV)],
    "ws:user of redis_keys and of the live presence (one structure)": [rk.ws_user_key(USER), presence.PROCS],
}


@pytest.mark.parametrize("name", sorted(MULTI_KEY_OPERATIONS))
def test_each_multi_key_operation_touches_one_slot(name: str) -> None:
    keys = MULTI_KEY_OPERATIONS[name]
    assert _one_slot(keys), {k: key_slot(k.encode()) for k in keys}


def test_schema_names_stay_recognisable() -> None:
    assert rk.user_rate_key("u1") == "ratelimit:user:{u1}"
    assert rk.sessions_valid_after_key("u1") == "session:valid_after:{u1}"
    assert rk.typing_key("c1", "u1") == "typing:{c1}:u1"
    assert conversation_lease(None, "c1").key == "lock:conversation:{c1}"
    assert take_key("1065", "t1") == "ratelimit:wa:take:{1065}:t1"
    assert presence.user_key("u1") == rk.ws_user_key("u1") == "{ws}:user:u1"
    assert HIGH == "pytake:{tasks}"


def test_different_entities_spread_over_slots() -> None:
    """The tags are per entity, not one tag for everything: the cluster shares the load."""
    slots = {key_slot(conversation_lease(None, uuid.uuid4()).key.encode()) for _ in range(50)}
    assert len(slots) > 40


# -- each operation, run on the real cluster ---------------------------------------------
async def test_auth_check_and_sessions_on_the_cluster(cluster_redis, redis_cluster) -> None:
    user = str(uuid.uuid4())
    await rk.cache_user_auth(cluster_redis, user, "org-1", "agent")
    check = await rk.check_auth(cluster_redis, "tok1", user, count_rate=True, issued_ms=1)
    assert check.user == ("org-1", "agent") and not check.revoked and check.rate.count == 1
    await rk.blacklist_token(cluster_redis, "tok1", datetime.now(timezone.utc) + timedelta(minutes=5), user)
    pipe = rk.auth_check_pipe(redis_cluster.url)  # the API's pipelined path takes a cluster URL too
    try:
        check = await rk.check_auth(cluster_redis, "tok1", user, count_rate=True, issued_ms=1, pipe=pipe)
        assert check.revoked and check.rate.count == 2
        await rk.end_sessions(cluster_redis, user, 10, 60)
        check = await rk.check_auth(cluster_redis, "tok2", user, count_rate=False, issued_ms=5, pipe=pipe)
        assert check.ended and check.rate is None
    finally:
        pipe.close()
    users = [str(uuid.uuid4()) for _ in range(10)]
    for u in users:
        await rk.cache_user_auth(cluster_redis, u, "org-1", "agent")
    await rk.forget_user_auth(cluster_redis, users)  # DEL of keys in many slots: split by the client
    assert not any([await cluster_redis.exists(rk.user_auth_cache_key(u)) for u in users])
    # the MULTI blocks of redis_keys (one key each)
    session = rk.UserSession("a", "r", datetime.now(timezone.utc), {"ua": "x"})
    await rk.put_user_session(cluster_redis, user, session)
    assert (await rk.get_user_session(cluster_redis, user)).device_info == {"ua": "x"}
    await rk.cache_contact(cluster_redis, "org-1", "c-1", {"name": "Ana"})
    assert await rk.cached_contact(cluster_redis, "org-1", "c-1") == {"name": "Ana"}
    await rk.put_temp_upload(cluster_redis, "up-1", rk.TempUpload("/tmp/x", "image/png", 3))
    assert (await rk.get_temp_upload(cluster_redis, "up-1")).size == 3


async def test_typing_users_are_found_on_the_cluster(cluster_redis) -> None:
    conv = uuid.uuid4()
    for user in ("agent-1", "agent-2"):
        await rk.set_typing(cluster_redis, conv, user)
    await rk.set_typing(cluster_redis, uuid.uuid4(), "agent-3")
    assert await rk.typing_users(cluster_redis, conv) == {"agent-1", "agent-2"}


async def test_leases_and_send_limits_on_the_cluster(cluster_redis) -> None:
    conv = uuid.uuid4()
    first, second = conversation_lease(cluster_redis, conv), conversation_lease(cluster_redis, conv)
    assert await first.acquire()
    assert not await second.acquire()  # taken: leaves its mark
    await first.release()
    assert first.missed  # the mark was seen
    limiter = SendRateLimiter(cluster_redis)
    limit = Limit(rate=1, per_seconds=1, burst=2)
    lease = sender_lease(cluster_redis, conv)
    assert await limiter.lease_and_take(lease, "1065", "5511999", limit, None, n=5) == 2  # the burst
    assert await limiter.lease_and_take(sender_lease(cluster_redis, conv), "1065", "5511999", limit) is None
    await lease.release()
    granted, wait = await limiter.try_acquire_many("1065", "5511999", limit, PAIR_LIMIT)
    assert granted == 0 and wait > 0


async def test_presence_on_the_cluster(cluster_redis, db) -> None:
    process = uuid.uuid4().hex
    org = uuid.uuid4()
    users = [uuid.uuid4() for _ in range(5)]
    assert await presence.beat(cluster_redis, process, 60) is False  # first beat: it was not there
    for n, user in enumerate(users):
        assert await presence.join(cluster_redis, process, f"{process}:{n}", user, org) == 1
    assert await presence.leave(cluster_redis, process, f"{process}:0", users[0], org, True) == 0
    await cluster_redis.delete(presence.proc_key(process))  # the process died: its heartbeat expired
    assert await presence.sweep(db, cluster_redis) == 4  # its users' sockets gone, marked away
    assert not any([await cluster_redis.exists(presence.user_key(u)) for u in users])


async def test_maintenance_scripts_on_the_cluster(cluster_redis) -> None:
    rt = SimpleNamespace(redis=cluster_redis)
    held, free = uuid.uuid4(), [uuid.uuid4() for _ in range(6)]
    lease = conversation_lease(cluster_redis, held)
    assert await lease.acquire()
    woken = await maintenance.to_wake(rt, CONVERSATION_LEASE, "process:", 60_000, [held, *free])
    assert sorted(woken) == sorted(str(c) for c in free)
    assert await maintenance.to_wake(rt, CONVERSATION_LEASE, "process:", 60_000, free) == []  # woken already
    await lease.release()
    await cluster_redis.zadd("runtime:timeouts", {"a": 1, "b": 2, "c": 9e12})
    assert sorted(await maintenance.pop_due(rt, "runtime:timeouts")) == ["a", "b"]


async def test_path_counts_flush_on_the_cluster(cluster_redis, redis_cluster, db) -> None:
    counts = BufferedCounts(redis_cluster.url, LIVE_KEY)
    counts.add("not-a-path-field", 3)
    await counts.push()
    await counts.aclose()
    assert await cluster_redis.hget(LIVE_KEY, '"not-a-path-field"') == b"3"
    assert await flush_path_counts(db, cluster_redis) == 0  # renamed to pending, recorded, dropped
    assert not await cluster_redis.exists(LIVE_KEY, PENDING_KEY, PENDING_ID_KEY)


async def test_task_lanes_on_the_cluster(cluster_redis, redis_cluster) -> None:
    from api.workers.tasks import BatchListQueueBroker

    for lane, name in ((LOW, "low"), (DEFAULT, "default"), (HIGH, "high")):
        await cluster_redis.lpush(lane, encode_task(name))
    broker = BatchListQueueBroker(redis_cluster.url, queue_name=HIGH, socket_timeout=None)
    got = []
    listen = broker.listen()
    try:
        for _ in range(4):
            if len(got) == 3:  # the next one blocks in BRPOP until a task comes
                await cluster_redis.lpush(DEFAULT, encode_task("later"))
            message = await asyncio.wait_for(listen.__anext__(), 60)
            data = message.data if hasattr(message, "data") else message
            got.append(__import__("json").loads(data)["task_name"])
    finally:
        await listen.aclose()
        await broker.shutdown()
    assert got == ["high", "default", "low", "later"]


async def test_the_live_channel_hears_publishes_from_every_node(cluster_redis, redis_cluster) -> None:
    """The hub's subscription (one node) gets what workers publish, whichever node
    their client sends the PUBLISH to."""
    from api.live.publisher import channel
    from api.redis_clients import pubsub_client

    client = await pubsub_client(redis_cluster.url, client_name="live-test")
    pubsub = client.pubsub()
    orgs = [uuid.uuid4() for _ in range(8)]  # channels whose names hash to different slots
    try:
        for org in orgs:
            await pubsub.subscribe(channel(org))
        got: list[str] = []
        while len(got) < len(orgs):  # the subscribe confirmations
            message = await pubsub.get_message(timeout=5.0)
            if message and message["type"] == "subscribe":
                got.append(message["channel"])
        for port in redis_cluster.ports:  # a PUBLISH sent to each node, primaries and replicas
            from tests.cluster.conftest import cli
            cli(port, "PUBLISH", channel(orgs[port % len(orgs)]), f"from-{port}")
        heard = set()
        while len(heard) < len(redis_cluster.ports):
            message = await pubsub.get_message(timeout=10.0)
            assert message is not None, f"only heard {heard}"
            if message["type"] == "message":
                heard.add(message["data"].decode())
        assert heard == {f"from-{port}" for port in redis_cluster.ports}
    finally:
        await pubsub.aclose()
        await client.aclose()


async def test_the_live_publisher_publishes_a_batch_on_the_cluster(cluster_redis, redis_cluster, db) -> None:
    """The worker's live publisher on a cluster (whose pipelines refuse PUBLISH): a
    batch of committed events reaches the organization's channel, in order, and an
    organization nobody listens to on any node is not published to."""
    from api.db.models import Organization
    from api.events import emit_conn, event
    from api.live.publisher import channel, publish_once, start_from_now
    from api.redis_clients import pubsub_client

    await start_from_now(db)
    async with db.transaction() as session:
        org = Organization(name="Live", slug=f"live-{uuid.uuid4().hex[:12]}")
        session.add(org)
        await session.flush()
        org_id = org.id
    client = await pubsub_client(redis_cluster.url, client_name="live-publisher-test")
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(channel(org_id))
        assert (await pubsub.get_message(timeout=5.0))["type"] == "subscribe"
        unheard = uuid.uuid4()  # an organization with no socket open anywhere
        probe = await pubsub_client(redis_cluster.url, client_name="live-publisher-probe")
        probe_sub = probe.pubsub()
        await probe_sub.psubscribe("live:org:*")  # hears every channel (a pattern is not counted by NUMSUB)
        assert (await probe_sub.get_message(timeout=5.0))["type"] == "psubscribe"
        async with db.raw() as conn:
            async with conn.transaction():
                await emit_conn(conn, *(event(org_id, "message.received", {"message": {"n": n}}) for n in range(3)),
                                event(unheard, "message.received", {"message": {"n": 9}}))
        handled = None
        while not handled:
            handled = await publish_once(db, cluster_redis)
        heard = []
        while len(heard) < 3:
            message = await pubsub.get_message(timeout=10.0)
            assert message is not None, f"heard only {heard}"
            if message["type"] == "message":
                lines = message["data"].split(b"\n")  # header line, the socket's text, header, text...
                heard += [json.loads(text)["event"]["data"]["message"]["n"] for text in lines[1::2]]
        assert heard == [0, 1, 2]
        # what the pattern heard: the subscribed organization's one PUBLISH, then (an absence:
        # a second of silence) nothing for the other one
        published: list[str] = []
        while True:
            message = await probe_sub.get_message(timeout=10.0 if not published else 1.0)
            if message is None:
                break
            if message["type"] == "pmessage":
                published.append(message["channel"].decode())
        assert published == [channel(org_id)]
        await probe_sub.aclose()
        await probe.aclose()
    finally:
        await pubsub.aclose()
        await client.aclose()
