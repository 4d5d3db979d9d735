"""User look-ups the auth layer needs on every request (kept to one small query)."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, or_, select

from api.context import get_db
from api.db.models import Organization, User


def user_is_usable():
    """SQL condition: the user and its organization are active and not deleted."""
    return and_(
        or_(User.is_active.is_(None), User.is_active.is_(True)),
        User.deleted_at.is_(None),
        or_(Organization.is_active.is_(None), Organization.is_active.is_(True)),
        Organization.deleted_at.is_(None),
    )


async def load_active_user_role(user_id: uuid.UUID) -> tuple[uuid.UUID, str] | None:
    """``(organization_id, role)`` of a usable user, or None (deleted, inactive, unknown).

    Read on every authenticated request so that deactivating a user or
    changing a role takes effect at once, not when the access token expires.
    """
    stmt = (
        select(User.organization_id, User.role)
        .join(Organization, Organization.id == User.organization_id)
        .where(User.id == user_id, user_is_usable())
    )
    async with get_db().reading() as conn:  # Core, autocommit: one round trip on the hot path
        row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    return row.organization_id, row.role or "agent"
