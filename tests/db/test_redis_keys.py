"""SCHEMA.md's Redis structures, on a real Redis."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from api import redis_keys as rk


async def test_blacklisted_token_is_reported_until_it_expires(redis):
    await rk.blacklist_token(redis, "abc123", datetime.now(timezone.utc) + timedelta(minutes=10), "u1")
    assert await rk.is_blacklisted(redis, "abc123", "u1")
    assert not await rk.is_blacklisted(redis, "other", "u1")
    assert await redis.get("session:blacklist:{u1}:abc123") == b"revoked"
    assert 590 <= await redis.ttl("session:blacklist:{u1}:abc123") <= 600


async def test_already_expired_token_is_not_stored(redis):
    await rk.blacklist_token(redis, "old", datetime.now(timezone.utc) - timedelta(seconds=1), "u1")
    assert not await rk.is_blacklisted(redis, "old", "u1")


async def test_rate_counter_counts_within_one_window(redis):
    first = await rk.hit_ip_rate(redis, "203.0.113.7", "/api/v1/auth/login")
    second = await rk.hit_ip_rate(redis, "203.0.113.7", "/api/v1/auth/login")
    assert (first.count, second.count) == (1, 2)
    assert 0 < second.ttl <= 60
    assert await redis.ttl("ratelimit:203.0.113.7:/api/v1/auth/login") > 0


async def test_rate_counter_restarts_when_the_window_ends(redis):
    user = uuid.uuid4()
    await rk.hit_user_rate(redis, user)
    await redis.delete(f"ratelimit:user:{{{user}}}")  # what expiry does at the window's end
    assert (await rk.hit_user_rate(redis, user)).count == 1


async def test_rate_counter_without_ttl_gets_one(redis):
    await redis.set("ratelimit:user:{u1}", 5)  # e.g. left by a crashed writer
    hit = await rk.hit_user_rate(redis, "u1")
    assert hit.count == 6 and await redis.ttl("ratelimit:user:{u1}") > 0


async def test_open_conversations_cache_round_trips_json(redis):
    org = uuid.uuid4()
    data = [{"id": str(uuid.uuid4()), "status": "open", "contact": "João"}]
    await rk.cache_open_conversations(redis, org, data)
    assert await rk.cached_open_conversations(redis, org) == data
    assert 0 < await redis.ttl(f"cache:conversations:{org}:open") <= 300
    await rk.invalidate_open_conversations(redis, org)
    assert await rk.cached_open_conversations(redis, org) is None


async def test_contact_cache_is_a_hash_of_fields(redis):
    org, contact = uuid.uuid4(), uuid.uuid4()
    data = {"name": "Maria", "tags": ["vip"], "attributes": {"city": "São Paulo"}}
    await rk.cache_contact(redis, org, contact, data)
    key = f"cache:contacts:{org}:{contact}"
    assert await redis.type(key) == b"hash"
    assert await rk.cached_contact(redis, org, contact) == data
    assert 0 < await redis.ttl(key) <= 900


async def test_websocket_set_disappears_with_last_socket(redis):
    user = uuid.uuid4()
    await rk.ws_add(redis, user, "sock-1")
    await rk.ws_add(redis, user, "sock-2")
    assert await rk.ws_sockets(redis, user) == {"sock-1", "sock-2"}
    await rk.ws_remove(redis, user, "sock-1")
    await rk.ws_remove(redis, user, "sock-2")
    assert not await redis.exists(f"{{ws}}:user:{user}")


async def test_typing_indicator_lasts_five_seconds(redis):
    conv = uuid.uuid4()
    await rk.set_typing(redis, conv, "agent-1")
    await rk.set_typing(redis, conv, "agent-2")
    assert await rk.is_typing(redis, conv, "agent-1")
    assert await rk.typing_users(redis, conv) == {"agent-1", "agent-2"}
    assert 0 < await redis.ttl(f"typing:{{{conv}}}:agent-1") <= 5
    await rk.clear_typing(redis, conv, "agent-1")
    assert await rk.typing_users(redis, conv) == {"agent-2"}


async def test_temp_upload_round_trips(redis):
    upload = rk.TempUpload("/tmp/u/abc.jpg", "image/jpeg", 48213)
    await rk.put_temp_upload(redis, "up-1", upload)
    assert await rk.get_temp_upload(redis, "up-1") == upload
    assert 0 < await redis.ttl("temp:upload:up-1") <= 3600
    assert await rk.get_temp_upload(redis, "missing") is None


async def test_user_session_hash_round_trips(redis):
    user = uuid.uuid4()
    session = rk.UserSession("acc", "ref", datetime(2030, 1, 1, tzinfo=timezone.utc),
                             {"browser": "Firefox"})
    await rk.put_user_session(redis, user, session)
    assert await rk.get_user_session(redis, user) == session
    assert 0 < await redis.ttl(f"user:session:{{{user}}}") <= 7 * 24 * 3600


async def test_each_test_starts_with_an_empty_redis_database(redis):
    assert await redis.dbsize() == 0
    await redis.set("left-behind", 1)
