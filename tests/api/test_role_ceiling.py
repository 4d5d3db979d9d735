"""The role ceiling, walked: every route that writes a user x every (actor role, target role).

Nobody may create, change (password, role, profile), deactivate or delete a
user whose role is above their own, nor grant a role above their own
(`api.auth.role_ceiling`). Each case checks the answer and, when refused,
that nothing changed: the user's row, its refresh tokens, its access token,
the organization's users.

The ``/auth`` routes (signup, login, refresh, logout, me) act only on the
caller's own account (signup creates a new organization's first user), so
they have no target to walk; `test_every_route_that_writes_users_is_walked`
fails if a route that writes users appears without being added here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from sqlalchemy import func, select, update

from api import redis_keys
from api.auth.permissions import allowed
from api.auth.principal import ROLES
from api.auth.refresh import issue_refresh_token
from api.auth.role_ceiling import outranks
from api.db.models import Organization, RefreshToken, User

from .route_walk import all_routes, offline_app


@dataclass(frozen=True)
class Change:
    """One kind of write on an existing user: how to ask for it, which permission it needs."""

    method: str
    permission: str
    body: Callable[[str], dict[str, Any] | None]  # target's role -> request body


def _other_role(role: str) -> str:
    return "agent" if role == "viewer" else "viewer"  # both at or below every admin


CHANGES = {
    "reset_password": Change("PATCH", "users:write", lambda _role: {"password": "a brand new password"}),
    "change_role": Change("PATCH", "users:write", lambda role: {"role": _other_role(role)}),
    "change_profile": Change("PATCH", "users:write", lambda _role: {"full_name": "Renamed By Someone"}),
    "deactivate": Change("PATCH", "users:write", lambda _role: {"is_active": False}),
    "delete": Change("DELETE", "users:delete", lambda _role: None),
}
WALKED_ENDPOINTS = {"users.create_user", "users.update_user", "users.delete_user"}
GRANTABLE = ("org_admin", "agent", "viewer")  # api.schemas.users.AssignableRole


def expected(actor: str, permission: str, target: str | None = None, granted: str | None = None) -> str:
    if not allowed(actor, permission):
        return "forbidden"
    if granted is not None and granted not in GRANTABLE:
        return "validation_error"  # super_admin is never granted through the API, by anyone
    if (target is not None and outranks(target, actor)) or (granted is not None and outranks(granted, actor)):
        return "role_ceiling"
    return "allowed"


async def outcome(response) -> str:  # noqa: ANN001
    if response.status_code < 300:
        return "allowed"
    body = await response.get_json()
    return body["error"]["code"]


@pytest.fixture
async def unlimited(db, org_a):  # noqa: ANN001
    """Organization A without an agent limit: the walk creates and promotes many agents."""
    async with db.transaction() as session:
        await session.execute(update(Organization).where(Organization.id == org_a).values(max_agents=None))
    return org_a


async def user_state(db, redis, user_id: uuid.UUID) -> dict[str, Any]:  # noqa: ANN001
    """Everything a refused write must leave as it was."""
    async with db.session() as session:
        user = (await session.execute(select(User).where(User.id == user_id))).scalar_one()
        row = {c.name: getattr(user, c.key) for c in User.__table__.columns}
        tokens = (await session.execute(
            select(RefreshToken.id, RefreshToken.revoked, RefreshToken.expires_at)
            .where(RefreshToken.user_id == user_id).order_by(RefreshToken.id))).all()
    return {"row": row, "refresh_tokens": [tuple(t) for t in tokens],
            "sessions_valid_after": await redis.get(redis_keys.sessions_valid_after_key(user_id))}


async def signed_in_target(db, make_actor, org_id, role):  # noqa: ANN001
    """A user of ``role`` with an access token and an active refresh token."""
    target = await make_actor(org_id, role)
    async with db.transaction() as session:
        await issue_refresh_token(session, target.user_id, ttl_seconds=3600)
    return target


async def assert_untouched(client, db, redis, target, before) -> None:  # noqa: ANN001
    assert await user_state(db, redis, target.user_id) == before
    assert (await client.get("/auth/me", headers=target.headers)).status_code == 200


@pytest.mark.parametrize("change_name", list(CHANGES))
async def test_changing_a_user_obeys_the_role_ceiling(change_name, client, db, redis, actors, make_actor,
                                                     unlimited):
    change = CHANGES[change_name]
    seen, wanted = {}, {}
    for actor_role in ROLES:
        actor = actors[actor_role]
        for target_role in ROLES:
            target = await signed_in_target(db, make_actor, unlimited, target_role)
            before = await user_state(db, redis, target.user_id)
            body = change.body(target_role)
            kwargs = {"json": body} if body is not None else {}
            response = await client.open(f"/users/{target.user_id}", method=change.method,
                                         headers=actor.headers, **kwargs)
            pair = (actor_role, target_role)
            seen[pair] = await outcome(response)
            wanted[pair] = expected(actor_role, change.permission, target=target_role)
            if seen[pair] != "allowed":
                assert response.status_code == 403, (pair, await response.get_json())
                await assert_untouched(client, db, redis, target, before)
    assert seen == wanted


async def test_creating_a_user_obeys_the_role_ceiling(client, db, actors, unlimited):
    seen, wanted = {}, {}
    for actor_role in ROLES:
        for granted in ROLES:
            email = f"new-{uuid.uuid4().hex[:8]}@example.com"
            async with db.session() as session:
                count_before = await session.scalar(select(func.count()).select_from(User))
            response = await client.post("/users", headers=actors[actor_role].headers, json={
                "email": email, "password": "a long enough password", "full_name": "New User",
                "role": granted})
            pair = (actor_role, granted)
            seen[pair] = await outcome(response)
            wanted[pair] = expected(actor_role, "users:write", granted=granted)
            if seen[pair] != "allowed":
                async with db.session() as session:
                    assert await session.scalar(select(func.count()).select_from(User)) == count_before
    assert seen == wanted


async def test_granting_a_role_on_update_obeys_the_role_ceiling(client, db, redis, actors, make_actor,
                                                               unlimited):
    seen, wanted = {}, {}
    for actor_role in ROLES:
        for granted in ROLES:
            target = await signed_in_target(db, make_actor, unlimited, "viewer")
            before = await user_state(db, redis, target.user_id)
            response = await client.patch(f"/users/{target.user_id}", headers=actors[actor_role].headers,
                                          json={"role": granted})
            pair = (actor_role, granted)
            seen[pair] = await outcome(response)
            wanted[pair] = expected(actor_role, "users:write", granted=granted)
            if seen[pair] != "allowed":
                await assert_untouched(client, db, redis, target, before)
    assert seen == wanted


async def test_the_probe_finding_is_refused(client, db, redis, org_admin, super_admin):
    """The reported escalation: an org_admin resets or demotes their super_admin."""
    before = await user_state(db, redis, super_admin.user_id)
    for body in ({"password": "taken over by org admin"}, {"role": "agent"}, {"is_active": False}):
        response = await client.patch(f"/users/{super_admin.user_id}", headers=org_admin.headers, json=body)
        error = (await response.get_json())["error"]
        assert (response.status_code, error["code"]) == (403, "role_ceiling")
        assert "super_admin" in error["message"]
    refused = await client.delete(f"/users/{super_admin.user_id}", headers=org_admin.headers)
    assert refused.status_code == 403
    await assert_untouched(client, db, redis, super_admin, before)
    login = await client.post("/auth/login", json={"email": super_admin.email,
                                                    "password": "taken over by org admin"})
    assert login.status_code == 401


def test_every_route_that_writes_users_is_walked():
    writers = {r.endpoint for r in all_routes(offline_app())
               if r.method != "GET" and (r.permission or "").startswith("users:")}
    assert writers == WALKED_ENDPOINTS
