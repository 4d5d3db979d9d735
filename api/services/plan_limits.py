"""Plan limits: refuse the change that would take an organization past its plan.

`ensure_room(session, org_id, "max_contacts")` locks the organization row
(``SELECT ... FOR UPDATE``) inside the caller's transaction, counts current
usage and raises `PlanLimitExceeded` when one more would not fit. Two
concurrent creates therefore queue on the lock and the second sees the
first's row: the limit holds under races. A NULL limit means unlimited.

| limit                  | counts                                                   |
|------------------------|----------------------------------------------------------|
| max_chatbots           | chatbots not deleted                                     |
| max_whatsapp_numbers   | WhatsApp numbers not deleted                             |
| max_contacts           | contacts not deleted                                     |
| max_agents             | users with role ``agent``, not deleted                   |
| max_departments        | departments                                              |
| monthly_message_limit  | outbound messages created since the start of the month (UTC) |
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import models as m
from api.errors import NotFound, PlanLimitExceeded


def month_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(timezone.utc)
    return now.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _usage_chatbots(org: uuid.UUID) -> Any:
    return select(func.count()).select_from(m.Chatbot).where(
        m.Chatbot.organization_id == org, m.Chatbot.deleted_at.is_(None))


def _usage_numbers(org: uuid.UUID) -> Any:
    return select(func.count()).select_from(m.WhatsAppNumber).where(
        m.WhatsAppNumber.organization_id == org, m.WhatsAppNumber.deleted_at.is_(None))


def _usage_contacts(org: uuid.UUID) -> Any:
    return select(func.count()).select_from(m.Contact).where(
        m.Contact.organization_id == org, m.Contact.deleted_at.is_(None))


def _usage_agents(org: uuid.UUID) -> Any:
    return select(func.count()).select_from(m.User).where(
        m.User.organization_id == org, m.User.role == "agent", m.User.deleted_at.is_(None))


def _usage_departments(org: uuid.UUID) -> Any:
    return select(func.count()).select_from(m.Department).where(m.Department.organization_id == org)


def _usage_messages(org: uuid.UUID) -> Any:
    conversations = select(m.Conversation.id).where(m.Conversation.organization_id == org)
    return select(func.count()).select_from(m.Message).where(
        m.Message.conversation_id.in_(conversations),
        m.Message.direction == "outbound",
        m.Message.created_at >= month_start(),
    )


USAGE: dict[str, Callable[[uuid.UUID], Any]] = {
    "max_chatbots": _usage_chatbots,
    "max_whatsapp_numbers": _usage_numbers,
    "max_contacts": _usage_contacts,
    "max_agents": _usage_agents,
    "max_departments": _usage_departments,
    "monthly_message_limit": _usage_messages,
}
LIMITS = tuple(USAGE)


async def lock_organization(session: AsyncSession, organization_id: uuid.UUID) -> m.Organization:
    """The organization row, locked until the caller's transaction ends."""
    stmt = select(m.Organization).where(m.Organization.id == organization_id).with_for_update()
    org = (await session.execute(stmt)).scalar_one_or_none()
    if org is None:
        raise NotFound("organization")
    return org


async def room_left(session: AsyncSession, organization_id: uuid.UUID, limit_name: str) -> int | None:
    """How many more fit under ``limit_name`` (None: unlimited). Locks the organization row."""
    if limit_name not in USAGE:
        raise KeyError(f"unknown plan limit {limit_name!r}")
    org = await lock_organization(session, organization_id)
    limit = getattr(org, limit_name)
    if limit is None:
        return None
    used = (await session.execute(USAGE[limit_name](organization_id))).scalar_one()
    return max(0, int(limit) - int(used))


async def ensure_room(session: AsyncSession, organization_id: uuid.UUID, limit_name: str, adding: int = 1) -> None:
    """Raise `PlanLimitExceeded` unless ``adding`` more fit under ``limit_name``."""
    left = await room_left(session, organization_id, limit_name)
    if left is not None and adding > left:
        org = await session.get(m.Organization, organization_id)
        raise PlanLimitExceeded(limit_name, int(getattr(org, limit_name)))
