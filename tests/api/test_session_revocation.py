"""A password change, a role change, a deactivation and a deletion end every session at once.

For each trigger: the user's outstanding access tokens answer 401
``session_ended`` on the very next request, its refresh tokens are revoked
(401 ``session_ended``, durably in PostgreSQL), and a new login works.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from api import redis_keys
from api.db.models import RefreshToken

NEW_PASSWORD = "a completely new password"


@dataclass(frozen=True)
class Session:
    access: str
    refresh: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


async def sign_in(client, email, password):  # noqa: ANN001
    response = await client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, await response.get_json()
    body = await response.get_json()
    return Session(body["access_token"], body["refresh_token"])


async def error_code(response) -> tuple[int, str | None]:  # noqa: ANN001
    body = await response.get_json(silent=True) or {}
    return response.status_code, body.get("error", {}).get("code")


async def reactivate(client, admin, user):  # noqa: ANN001
    response = await client.patch(f"/users/{user.user_id}", headers=admin.headers, json={"is_active": True})
    assert response.status_code == 200


# trigger name -> (who acts: "admin" or "self", method, body, password afterwards, after-step)
TRIGGERS = {
    "password_by_admin": ("admin", "PATCH", {"password": NEW_PASSWORD}, NEW_PASSWORD, None),
    "password_by_self": ("self", "PATCH", {"password": NEW_PASSWORD}, NEW_PASSWORD, None),
    "role_change": ("admin", "PATCH", {"role": "viewer"}, None, None),
    "deactivation": ("admin", "PATCH", {"is_active": False}, None, reactivate),
    "deletion": ("admin", "DELETE", None, None, None),
}


@pytest.mark.parametrize("trigger", list(TRIGGERS))
async def test_trigger_ends_every_session_at_once(trigger, client, db, redis, super_admin, make_actor,
                                                  org_a):
    actor_kind, method, body, new_password, after = TRIGGERS[trigger]
    # an org_admin can change their own password (PATCH /users/{own id}); others are changed by the super_admin
    user = await make_actor(org_a, "org_admin" if actor_kind == "self" else "agent")
    laptop = await sign_in(client, user.email, user.password)
    phone = await sign_in(client, user.email, user.password)
    for session in (laptop, phone):
        assert (await client.get("/auth/me", headers=session.headers)).status_code == 200

    acting = laptop.headers if actor_kind == "self" else super_admin.headers
    kwargs = {"json": body} if body is not None else {}
    response = await client.open(f"/users/{user.user_id}", method=method, headers=acting, **kwargs)
    assert response.status_code in (200, 204), await response.get_json()

    for session in (laptop, phone):
        assert await error_code(await client.get("/auth/me", headers=session.headers)) == (401, "session_ended")
        assert await error_code(await client.get("/auth/me", headers=user.headers)) == (401, "session_ended")
        refreshed = await client.post("/auth/refresh", json={"refresh_token": session.refresh})
        assert await error_code(refreshed) == (401, "session_ended")
    async with db.session() as db_session:
        active = (await db_session.execute(select(RefreshToken.id).where(
            RefreshToken.user_id == user.user_id, RefreshToken.revoked.is_not(True)))).all()
    assert active == []  # durable: the refresh tokens are revoked in PostgreSQL

    if trigger == "deletion":
        assert (await client.post("/auth/login", json={"email": user.email, "password": user.password})
                ).status_code == 401
        return
    if after is not None:
        await after(client, super_admin, user)
    fresh = await sign_in(client, user.email, new_password or user.password)
    assert (await client.get("/auth/me", headers=fresh.headers)).status_code == 200
    # the ended tokens, presented again, do not count as reuse: the new session survives them
    await client.post("/auth/refresh", json={"refresh_token": laptop.refresh})
    rotated = await client.post("/auth/refresh", json={"refresh_token": fresh.refresh})
    assert rotated.status_code == 200
    newer = await rotated.get_json()
    assert (await client.get("/auth/me", headers={"Authorization": f"Bearer {newer['access_token']}"})
            ).status_code == 200


async def test_a_change_that_is_not_a_trigger_keeps_the_sessions(client, redis, org_admin, agent):
    session = await sign_in(client, agent.email, agent.password)
    response = await client.patch(f"/users/{agent.user_id}", headers=org_admin.headers,
                                  json={"full_name": "Just Renamed", "is_active": True})
    assert response.status_code == 200
    assert (await client.get("/auth/me", headers=session.headers)).status_code == 200
    assert (await client.post("/auth/refresh", json={"refresh_token": session.refresh})).status_code == 200
    assert await redis.get(redis_keys.sessions_valid_after_key(agent.user_id)) is None


async def test_the_session_marker_lives_as_long_as_an_access_token(client, redis, api_settings, org_admin,
                                                                  agent):
    response = await client.patch(f"/users/{agent.user_id}", headers=org_admin.headers,
                                  json={"password": NEW_PASSWORD})
    assert response.status_code == 200
    ttl = await redis.ttl(redis_keys.sessions_valid_after_key(agent.user_id))
    assert api_settings.access_token_ttl_seconds <= ttl <= api_settings.access_token_ttl_seconds + 60


async def test_ending_sessions_never_moves_the_marker_back(redis, agent):
    await redis_keys.end_sessions(redis, agent.user_id, 2_000, 900)
    await redis_keys.end_sessions(redis, agent.user_id, 1_000, 900)
    assert await redis_keys.sessions_valid_after(redis, agent.user_id) == 2_000
