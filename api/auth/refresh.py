"""Opaque refresh tokens: stored hashed, rotated on every use, reuse detected.

A refresh token is 48 random bytes (url-safe base64) given to the client once;
`refresh_tokens.token_hash` keeps only its SHA-256. Each use revokes it and
issues a new one (rotation).

Reuse detection: SCHEMA.md's ``refresh_tokens`` has no family column, so the
"family" of a token is taken to be *all the user's refresh tokens*. Presenting
a token that was already rotated or revoked (a sign it was stolen and one of
the two holders already used it) revokes every active refresh token of that
user: every session must log in again. Logout revokes a token the same way,
so replaying a logged-out token also ends the user's other sessions.

Ending a user's sessions (`api.auth.sessions`: password, role or activity
changed, user deleted) and reuse detection revoke the active tokens with
``expires_at`` brought down to the moment of revocation: such a token,
presented later, is "ended" (401 ``session_ended``), not a reuse, so it does
not sign out the sessions the user opened since.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.tokens import token_hash
from api.db.models import RefreshToken


def new_refresh_token_value() -> str:
    return secrets.token_urlsafe(48)


async def issue_refresh_token(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    ttl_seconds: int,
    user_agent: str | None = None,
    ip_address: str | None = None,
) -> str:
    """Store the hash of a new token for ``user_id``; return the token itself."""
    value = new_refresh_token_value()
    session.add(RefreshToken(
        user_id=user_id,
        token_hash=token_hash(value),
        expires_at=datetime.now(timezone.utc) + timedelta(seconds=ttl_seconds),
        user_agent=(user_agent or None),
        ip_address=ip_address,
    ))
    return value


@dataclass(frozen=True)
class Presented:
    """What a presented refresh token turned out to be."""

    status: str  # "valid" | "unknown" | "expired" | "reused" | "ended"
    user_id: uuid.UUID | None = None


async def consume_refresh_token(session: AsyncSession, value: str) -> Presented:
    """Revoke the presented token if it is valid (rotation); report what it was.

    Locks the row, so two concurrent uses of one token cannot both succeed:
    the second sees it revoked and counts as reuse.
    """
    row = (await session.execute(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash(value)).with_for_update()
    )).scalar_one_or_none()
    if row is None:
        return Presented("unknown")
    if row.revoked:
        if row.revoked_at is not None and row.expires_at <= row.revoked_at:
            return Presented("ended", row.user_id)  # by `revoke_all_for_user`, not by rotation
        return Presented("reused", row.user_id)
    now = datetime.now(timezone.utc)
    if row.expires_at <= now:
        return Presented("expired", row.user_id)
    row.revoked = True
    row.revoked_at = now
    return Presented("valid", row.user_id)


async def revoke_all_for_user(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Revoke every active refresh token of the user (marked "ended": ``expires_at`` =
    ``revoked_at``); return how many."""
    now = datetime.now(timezone.utc)
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked.is_not(True))
        .values(revoked=True, revoked_at=now, expires_at=func.least(RefreshToken.expires_at, now))
    )
    return result.rowcount or 0


async def revoke_token_of_user(session: AsyncSession, value: str, user_id: uuid.UUID) -> bool:
    """Revoke one token if it belongs to ``user_id`` (logout); True if one was revoked."""
    result = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == token_hash(value),
            RefreshToken.user_id == user_id,
            RefreshToken.revoked.is_not(True),
        )
        .values(revoked=True, revoked_at=datetime.now(timezone.utc))
    )
    return bool(result.rowcount)
