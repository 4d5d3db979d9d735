"""When the cached (organization, role) of users is dropped.

Authentication (`api.auth.permissions.authenticate_request`) reads a user's
organization and role from Redis (``cache:auth:user:{id}``, 60 s) instead of
the database on every request. These are the API's writes that can change
what that entry says — a user's role, activity or deletion, an organization's
activity or deletion (by its own admins, or by the platform operator's
``PATCH /admin/organizations/{id}``) — and after any of them succeeds the entries concerned
are deleted, before the response leaves, so the very next request reads the
database again. A change made outside the API (SQL by hand) shows within the
entry's 60 s.
"""

from __future__ import annotations

import uuid

from quart import Quart, Response, g, request
from sqlalchemy import select

from api import redis_keys
from api.context import get_db, get_redis
from api.db.models import User

USER_ENDPOINTS = frozenset({"users.create_user", "users.update_user", "users.delete_user"})
ORGANIZATION_ENDPOINTS = frozenset({"organization.update_organization", "organization.delete_organization"})
# the platform operator's changes of any organization: its id is in the path
PLATFORM_ORGANIZATION_ENDPOINTS = frozenset({"admin.update_organization"})


async def users_of(organization_id: uuid.UUID) -> list[uuid.UUID]:
    async with get_db().reading() as conn:
        rows = await conn.execute(select(User.id).where(User.organization_id == organization_id))
        return [row[0] for row in rows]


async def forget_organization_users(organization_id: uuid.UUID) -> None:
    await redis_keys.forget_user_auth(get_redis(), await users_of(organization_id))


def register(app: Quart) -> None:
    @app.after_request
    async def forget_changed_users(response: Response) -> Response:
        endpoint = request.endpoint
        if response.status_code >= 400 or endpoint is None:
            return response
        if endpoint in USER_ENDPOINTS:
            item_id = (request.view_args or {}).get("item_id")
            if item_id is not None:
                await redis_keys.forget_user_auth(get_redis(), [item_id])
        elif endpoint in ORGANIZATION_ENDPOINTS:
            principal = g.get("principal")
            if principal is not None:
                await forget_organization_users(principal.organization_id)
        elif endpoint in PLATFORM_ORGANIZATION_ENDPOINTS:
            organization_id = (request.view_args or {}).get("organization_id")
            if organization_id is not None:
                await forget_organization_users(organization_id)
        return response
