"""What an organization uses now, beside its plan's limits (for the platform operator).

`usage_of(session, org_id)` counts everything in one statement (one scalar
subquery per count). The counts a limit is checked against are the very
queries of `api.services.plan_limits.USAGE`, so the operator sees what the
limit sees. Messages are counted over the current UTC month only, bounded on
both sides so PostgreSQL reads one monthly partition of ``messages``, through
the organization's conversations (``idx_messages_recent``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import models as m
from api.services.plan_limits import USAGE, month_start


def next_month_start(start: datetime) -> datetime:
    """The first instant of the month after ``start`` (itself the first instant of a month)."""
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def _users(org: uuid.UUID) -> Any:
    return select(func.count()).select_from(m.User).where(
        m.User.organization_id == org, m.User.deleted_at.is_(None))


def _messages_this_month(org: uuid.UUID) -> Any:
    start = month_start()
    return (
        select(func.count()).select_from(m.Message)
        .join(m.Conversation, m.Conversation.id == m.Message.conversation_id)
        .where(m.Conversation.organization_id == org,
               m.Message.created_at >= start, m.Message.created_at < next_month_start(start))
    )


COUNTS: dict[str, Callable[[uuid.UUID], Any]] = {
    "users": _users,
    "agents": USAGE["max_agents"],
    "whatsapp_numbers": USAGE["max_whatsapp_numbers"],
    "chatbots": USAGE["max_chatbots"],
    "contacts": USAGE["max_contacts"],
    "departments": USAGE["max_departments"],
    "messages_this_month": _messages_this_month,
    "outbound_messages_this_month": USAGE["monthly_message_limit"],
}


async def usage_of(session: AsyncSession, organization_id: uuid.UUID) -> dict[str, int]:
    """Every count of `COUNTS` for the organization, by name."""
    stmt = select(*(count(organization_id).scalar_subquery().label(name)
                    for name, count in COUNTS.items()))
    row = (await session.execute(stmt)).one()
    return {name: int(value) for name, value in row._mapping.items()}
