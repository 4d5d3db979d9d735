"""Rate limits: per IP and endpoint for login, per user for authenticated calls."""

from __future__ import annotations

from dataclasses import replace

import pytest

from api.app import create_app


@pytest.fixture
async def limited_client(api_settings, redis):
    settings = replace(api_settings, ratelimit_login_per_minute=3, ratelimit_user_per_minute=5)
    application = create_app(settings)
    async with application.test_app():
        yield application.test_client()


def from_ip(ip: str) -> dict:
    return {"scope_base": {"client": (ip, 50000)}}


async def attempt_login(client, ip="198.51.100.1"):
    return await client.post("/auth/login", json={"email": "x@example.com", "password": "nope"},
                             **from_ip(ip))


async def test_login_over_the_limit_is_429_with_retry_after(limited_client):
    for _ in range(3):
        assert (await attempt_login(limited_client)).status_code == 401
    response = await attempt_login(limited_client)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert (await response.get_json())["error"]["code"] == "rate_limited"


async def test_login_limit_counts_per_ip(limited_client):
    for _ in range(4):
        await attempt_login(limited_client, ip="198.51.100.1")
    assert (await attempt_login(limited_client, ip="198.51.100.2")).status_code == 401


async def test_login_window_is_stored_under_the_schema_key(limited_client, redis):
    await attempt_login(limited_client, ip="198.51.100.9")
    assert await redis.get("ratelimit:198.51.100.9:login") == b"1"
    assert 0 < await redis.ttl("ratelimit:198.51.100.9:login") <= 60


async def test_a_new_window_allows_requests_again(limited_client, redis):
    for _ in range(4):
        await attempt_login(limited_client)
    await redis.delete("ratelimit:198.51.100.1:login")  # the window's TTL ran out
    assert (await attempt_login(limited_client)).status_code == 401


async def test_authenticated_calls_are_limited_per_user(limited_client, make_actor, org_a):
    alice = await make_actor(org_a, "agent")
    bob = await make_actor(org_a, "agent")
    for _ in range(5):
        assert (await limited_client.get("/auth/me", headers=alice.headers)).status_code == 200
    over = await limited_client.get("/auth/me", headers=alice.headers)
    assert over.status_code == 429
    assert int(over.headers["Retry-After"]) >= 1
    assert (await limited_client.get("/auth/me", headers=bob.headers)).status_code == 200


async def test_default_limits_let_normal_use_through(client, agent):
    for _ in range(20):
        assert (await client.get("/auth/me", headers=agent.headers)).status_code == 200
