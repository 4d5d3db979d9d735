"""Authentication reads the user's organization and role from a short Redis
cache and reuses verified tokens; neither may delay a change a user makes
through the API, nor keep an expired token alive."""

from __future__ import annotations

import time

from api import redis_keys
from api.auth import tokens


async def me(client, actor) -> tuple[int, dict]:  # noqa: ANN001
    response = await client.get("/auth/me", headers=actor.headers)
    return response.status_code, await response.get_json()


async def test_the_user_is_cached_in_redis_for_a_minute(client, redis, agent) -> None:
    assert (await me(client, agent))[0] == 200
    key = redis_keys.user_auth_cache_key(agent.user_id)
    value = await redis.get(key)
    assert value is not None and str(agent.org_id) in (value.decode() if isinstance(value, bytes) else value)
    assert 0 < await redis.ttl(key) <= redis_keys.USER_AUTH_CACHE_TTL


async def test_a_demotion_through_the_api_applies_to_the_next_request(client, org_admin, agent) -> None:
    status, body = await me(client, agent)
    assert status == 200 and "conversations:write" in body["permissions"]
    response = await client.patch(f"/users/{agent.user_id}", headers=org_admin.headers, json={"role": "viewer"})
    assert response.status_code == 200
    status, body = await me(client, agent)  # a role change ends the user's sessions (api.auth.sessions)
    assert status == 401 and body["error"]["code"] == "session_ended"
    login = await client.post("/auth/login", json={"email": agent.email, "password": agent.password})
    headers = {"Authorization": f"Bearer {(await login.get_json())['access_token']}"}
    body = await (await client.get("/auth/me", headers=headers)).get_json()
    assert "conversations:write" not in body["permissions"]
    assert (await client.post(f"/conversations/{agent.user_id}/close", headers=headers,
                              json={})).status_code == 403


async def test_deactivating_or_deleting_a_user_refuses_its_token_at_once(client, org_admin, agent, viewer) -> None:
    assert (await me(client, agent))[0] == 200 and (await me(client, viewer))[0] == 200
    response = await client.patch(f"/users/{agent.user_id}", headers=org_admin.headers, json={"is_active": False})
    assert response.status_code == 200
    assert (await me(client, agent))[0] == 401
    assert (await client.delete(f"/users/{viewer.user_id}", headers=org_admin.headers)).status_code == 204
    assert (await me(client, viewer))[0] == 401


async def test_deleting_the_organization_signs_out_every_user_at_once(client, super_admin, agent) -> None:
    assert (await me(client, agent))[0] == 200
    assert (await client.delete("/organization", headers=super_admin.headers)).status_code == 204
    assert (await me(client, agent))[0] == 401


async def test_a_verified_token_still_expires(client, agent, monkeypatch) -> None:
    assert (await me(client, agent))[0] == 200  # verified once, now reused
    later = time.time() + 3600
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    monkeypatch.setattr(tokens.jwt.api_jwt, "datetime", _FrozenDatetime(later))
    status, body = await me(client, agent)
    assert status == 401 and body["error"]["code"] == "token_expired"


async def test_logout_refuses_a_token_that_was_verified_before(client, agent) -> None:
    assert (await me(client, agent))[0] == 200
    assert (await client.post("/auth/logout", headers=agent.headers, json={})).status_code in (200, 204)
    status, body = await me(client, agent)
    assert status == 401 and body["error"]["code"] == "token_revoked"


class _FrozenDatetime:
    """PyJWT's clock (``datetime.now``) moved to ``timestamp``."""

    def __init__(self, timestamp: float) -> None:
        import datetime as dt

        self._now = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
        self._dt = dt.datetime

    def now(self, tz=None):  # noqa: ANN001, ANN201
        return self._now

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._dt, name)
