"""Login lockout: 5 failed passwords in a row lock the account for 15 minutes.

State lives on the user row (``failed_login_attempts``, ``locked_until``) and
is changed with single UPDATE statements, so concurrent attempts count
correctly without holding a row lock while the password hash is checked.
When a lock has expired, the next failure starts a fresh count.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, case, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.models import User

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


def is_locked(locked_until: datetime | None, now: datetime | None = None) -> bool:
    return locked_until is not None and locked_until > (now or datetime.now(timezone.utc))


async def record_failure(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Count one failed password; lock the account at the fifth. Returns the new count."""
    lock_expired = and_(User.locked_until.is_not(None), User.locked_until <= func.now())
    new_count = case(
        (lock_expired, 1),
        else_=func.coalesce(User.failed_login_attempts, 0) + 1,
    )
    stmt = (
        update(User)
        .where(User.id == user_id)
        .values(
            failed_login_attempts=new_count,
            locked_until=case(
                (new_count >= MAX_FAILED_LOGINS, func.now() + LOCKOUT),
                (lock_expired, None),
                else_=User.locked_until,
            ),
        )
        .returning(User.failed_login_attempts)
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(stmt)).scalar_one())


async def record_success(session: AsyncSession, user_id: uuid.UUID, ip: str | None) -> None:
    """Clear the failure count and note when and from where the user logged in."""
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(failed_login_attempts=0, locked_until=None,
                last_login_at=func.now(), last_login_ip=ip)
        .execution_options(synchronize_session=False)
    )
