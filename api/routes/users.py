"""/users: the organization's users, managed by its org_admin. Passwords are hashed, never returned.

Deleting a user is a soft delete that also frees the e-mail: SCHEMA.md makes
``users.email`` UNIQUE across all rows, deleted ones included, so the deleted
row's address is rewritten to ``deleted+<user id>@invalid`` (`freed_email`;
``.invalid`` is a reserved domain that never receives mail). The original
address stays in the ``user.deleted`` audit entry (``before``). A new user —
or a signup — may then take the address; login never finds a deleted user
(it filters ``deleted_at``, and the address no longer matches anyway).

Every write obeys the role ceiling (`api.auth.role_ceiling`): nobody creates,
changes or deletes a user above their own role, nor grants such a role. A
password change, a role change, a deactivation and a deletion end every
session of the user at once (`api.auth.sessions`).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.passwords import hash_password_async
from api.auth.principal import Principal
from api.auth.role_ceiling import check_role_ceiling
from api.auth.sessions import end_user_sessions
from api.db.models import Conversation, User
from api.events import emit, event
from api.errors import Conflict, ValidationFailed
from api.resources import DateRange, Equals, Resource, crud_blueprint
from api.schemas.users import UserCreate, UserOut, UserUpdate
from api.services.plan_limits import ensure_room


async def _before_create(session: AsyncSession, principal: Principal, values: dict[str, Any]) -> None:
    check_role_ceiling(principal, granted_role=values.get("role") or "agent")
    values["password_hash"] = await hash_password_async(values.pop("password"))
    values["role"] = values.get("role") or "agent"
    if values["role"] == "agent":
        await ensure_room(session, principal.organization_id, "max_agents")


def ends_sessions(row: User, values: dict[str, Any]) -> bool:
    """Does this update end the user's sessions (password, role or deactivation)?"""
    return ("password_hash" in values
            or values.get("role", row.role) != row.role
            or values.get("is_active") is False)


async def _before_update(session: AsyncSession, principal: Principal, row: User, values: dict[str, Any]) -> None:
    check_role_ceiling(principal, target_role=row.role, granted_role=values.get("role"), has_target=True)
    if "password" in values:
        password = values.pop("password")
        if password is None:
            raise ValidationFailed("password", "password cannot be null")
        values["password_hash"] = await hash_password_async(password)
    if row.id == principal.user_id and (values.get("role", row.role) != row.role or values.get("is_active") is False):
        raise Conflict("you cannot change your own role or deactivate yourself", field="role"
                       if "role" in values else "is_active")
    if values.get("role") == "agent" and row.role != "agent":
        await ensure_room(session, principal.organization_id, "max_agents")
    if ends_sessions(row, values):
        await end_user_sessions(session, row.id)
    if values.get("is_active") is False and row.is_active is not False:
        await _release_conversations(session, row, "deactivated")


async def _release_conversations(session: AsyncSession, user: User, why: str) -> None:
    """A user who can no longer answer (deactivated, deleted) lets go of their open conversations:
    each goes back to its department's queue (``conversation.transferred``, which makes the
    assignment consumer give it to an online colleague), never left with nobody to answer it."""
    from api.routes.conversations import conversation_event_payload

    held = (await session.execute(
        select(Conversation).where(Conversation.organization_id == user.organization_id,
                                   Conversation.assigned_to == user.id,
                                   Conversation.status.notin_(("closed", "resolved")))
        .order_by(Conversation.id).with_for_update())).scalars().all()
    now = datetime.now(timezone.utc)
    for row in held:
        previous = {"department_id": str(row.department_id) if row.department_id else None,
                    "assigned_agent_id": str(user.id)}
        row.assigned_to = None
        row.assigned_at = None
        row.status = "waiting_in_queue"
        row.entered_queue_at = now
        row.is_bot_active = False
        row.updated_at = now
        payload = conversation_event_payload(row, f"the agent was {why}")
        payload["previous"] = previous
        await emit(session, event(row.organization_id, "conversation.transferred", payload, row.id))
    await session.flush()


def freed_email(user_id: uuid.UUID) -> str:
    """The placeholder a deleted user's e-mail is rewritten to (unique, never deliverable)."""
    return f"deleted+{user_id}@invalid"


async def _before_delete(session: AsyncSession, principal: Principal, row: User) -> None:
    check_role_ceiling(principal, target_role=row.role, has_target=True)
    if row.id == principal.user_id:
        raise Conflict("you cannot delete yourself")
    await end_user_sessions(session, row.id)
    await _release_conversations(session, row, "deleted")
    # the audit entry's ``before`` (taken before this hook) keeps the original
    row.email = freed_email(row.id)


resource = Resource(
    name="users",
    label="user",
    model=User,
    out=UserOut,
    path="/users",
    create=UserCreate,
    update=UserUpdate,
    filters=(
        Equals("role", User.role, choices=("super_admin", "org_admin", "agent", "viewer")),
        Equals("is_active", User.is_active, bool),
        Equals("is_online", User.is_online, bool),
        Equals("email", User.email),
        DateRange("created_at", User.created_at),
    ),
    sorts=("full_name", "email", "role", "created_at", "last_seen_at"),
    default_sort="full_name",
    before_create=_before_create,
    before_update=_before_update,
    before_delete=_before_delete,
)
blueprint = crud_blueprint(resource)
