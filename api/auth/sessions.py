"""Ending every session of a user at once.

A password change (by the user or by an admin), a deactivation, a role change
and a deletion call `end_user_sessions` inside the change's transaction:

- PostgreSQL: every active refresh token of the user is revoked
  (`api.auth.refresh.revoke_all_for_user`), durably and atomically with the
  change; presenting one later answers ``401 session_ended``, without the
  "reuse" alarm that would also sign out the user's new sessions.
- Redis: ``session:valid_after:{user_id}`` is set to now (epoch ms); the one
  script every authenticated request already runs
  (`api.redis_keys.check_auth`) refuses an access token issued at or before it
  with ``401 session_ended``: no extra round trip. The key lives as long as an
  access token, after which every token issued before it has expired anyway.

The Redis write happens before the transaction commits, so the change never
lands while the old tokens still work; if the transaction then fails, the
user only has to sign in again. A new login (its tokens are issued later)
works at once.
"""

from __future__ import annotations

import time
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api import redis_keys
from api.auth.refresh import revoke_all_for_user
from api.context import get_redis, get_settings
from api.db.models import User


async def end_user_sessions(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Revoke the user's refresh tokens (in ``session``) and refuse its access tokens issued until now.

    Locks the user's row first (held already by a user's update or deletion), as a refresh does
    (`api.auth.refresh.consume_refresh_token`): a refresh in flight finishes first, and the two
    never deadlock."""
    await session.execute(select(User.id).where(User.id == user_id).with_for_update())
    await revoke_all_for_user(session, user_id, grace_seconds=get_settings().refresh_token_rotation_grace_seconds)
    await redis_keys.end_sessions(get_redis(), user_id, int(time.time() * 1000),
                                  get_settings().access_token_ttl_seconds)
