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

Rotation grace: a token rotated at most ``grace_seconds`` ago (the setting
``refresh_token_rotation_grace_seconds``, 30; 0 turns it off) still gets a new
pair, and is no alarm. Two tabs of the web app share one token pair; when
their access token expires together both spend the same refresh token, and
the second use, a moment after the first, was taken for theft and signed the
user out everywhere. So was a refresh whose answer never reached its tab (the
tab closed, the network dropped). A thief replaying a token within the grace
gets a pair of its own, undetected, as Okta's and Auth0's grace periods allow;
after it, a replay is the alarm above.

Ending a user's sessions (`api.auth.sessions`: password, role or activity
changed, user deleted) and reuse detection revoke the active tokens with
``expires_at`` brought down to the moment of revocation: such a token,
presented later, is "ended" (401 ``session_ended``), not a reuse, so it does
not sign out the sessions the user opened since.

How a revoked row says why (no column for it in SCHEMA.md), from ``expires_at``
against ``revoked_at``: equal, its sessions were ended; earlier (one
microsecond), logged out; later (the token's own expiry, untouched), rotated.
Migration 0031 brought earlier rows to this reading.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.tokens import token_hash
from api.db.models import RefreshToken, User


LOGGED_OUT = timedelta(microseconds=1)  # a logged-out token's expires_at, before its revoked_at


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

    status: str  # "valid" | "rotated" (within the grace) | "unknown" | "expired" | "reused" | "ended"
    user_id: uuid.UUID | None = None


async def consume_refresh_token(session: AsyncSession, value: str, *, grace_seconds: float = 0) -> Presented:
    """Revoke the presented token if it is valid (rotation); report what it was.

    Locks the row, so two concurrent uses of one token cannot both be "valid":
    the second sees it rotated ("rotated" within ``grace_seconds`` of the
    first, else "reused").
    """
    digest = token_hash(value)
    user_id = (await session.execute(
        select(RefreshToken.user_id).where(RefreshToken.token_hash == digest))).scalar_one_or_none()
    if user_id is None:
        return Presented("unknown")
    # the user's row first, as ending its sessions does (`api.auth.sessions`): one refresh of a
    # user at a time, so the alarm's revocation sees every token issued before it (one a refresh
    # in flight inserted was invisible to it); locked in this one order, a refresh and a password
    # change do not deadlock
    await session.execute(select(User.id).where(User.id == user_id).with_for_update())
    row = (await session.execute(
        select(RefreshToken).where(RefreshToken.token_hash == digest).with_for_update()
    )).scalar_one_or_none()
    if row is None:  # the user was deleted meanwhile
        return Presented("unknown")
    now = datetime.now(timezone.utc)
    if row.revoked:
        if row.revoked_at is not None and row.expires_at == row.revoked_at:
            return Presented("ended", row.user_id)  # by `revoke_all_for_user`
        if row.revoked_at is not None and row.expires_at > row.revoked_at and _within(now - row.revoked_at, grace_seconds):
            return Presented("rotated" if row.expires_at > now else "expired", row.user_id)
        return Presented("reused", row.user_id)
    if row.expires_at <= now:
        return Presented("expired", row.user_id)
    row.revoked = True
    row.revoked_at = now
    return Presented("valid", row.user_id)


def _within(elapsed: timedelta, grace_seconds: float) -> bool:
    """A rotation ``elapsed`` ago is within the grace: never with grace 0; one dated ahead of this
    server's clock (another server's runs ahead) by at most the grace."""
    grace = timedelta(seconds=grace_seconds)
    return grace_seconds > 0 and -grace <= elapsed <= grace


def _rotated_within(now: datetime, grace_seconds: float) -> Any:
    """SQL: a row rotated within the grace (so it would still get a pair)."""
    return and_(RefreshToken.revoked.is_(True), RefreshToken.expires_at > RefreshToken.revoked_at,
                RefreshToken.revoked_at >= now - timedelta(seconds=max(0, grace_seconds)))


async def revoke_all_for_user(session: AsyncSession, user_id: uuid.UUID, *, grace_seconds: float = 0) -> int:
    """Revoke every refresh token of the user not revoked yet (expired ones too), and every one
    rotated within the last ``grace_seconds`` (else it would still get a pair), marked "ended":
    ``expires_at`` = ``revoked_at``. Return how many."""
    now = datetime.now(timezone.utc)
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id,
               or_(RefreshToken.revoked.is_not(True), _rotated_within(now, grace_seconds)))
        .values(revoked=True, revoked_at=now, expires_at=now)
    )
    return result.rowcount or 0


async def revoke_token_of_user(session: AsyncSession, value: str, user_id: uuid.UUID, *,
                               grace_seconds: float = 0) -> bool:
    """Logout: revoke one token if it belongs to ``user_id`` and has not expired, marked "logged
    out" (``expires_at`` a microsecond before ``revoked_at``: no rotation grace, and presented
    again it is the reuse alarm); True if one was. The user's tokens rotated within the grace
    (the one this token replaced, or this token itself when a tab spent it a moment ago) are
    ended, so none of them gets a pair after the logout."""
    now = datetime.now(timezone.utc)
    digest = token_hash(value)
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, _rotated_within(now, grace_seconds),
               RefreshToken.token_hash != digest)
        .values(revoked_at=now, expires_at=now)
    )
    result = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == digest,
            RefreshToken.user_id == user_id,
            or_(and_(RefreshToken.revoked.is_not(True), RefreshToken.expires_at > now),
                _rotated_within(now, grace_seconds)),
        )
        .values(revoked=True, revoked_at=now, expires_at=now - LOGGED_OUT)
    )
    return bool(result.rowcount)
