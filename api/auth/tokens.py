"""Access tokens: short-lived HS256 JWTs, revocable through a Redis blacklist.

Claims: ``sub`` (user id), ``org`` (organization id), ``role``, ``jti``,
``iat``, ``iat_ms`` (``iat`` in milliseconds: a token issued just before its
user's sessions were ended is told from one issued just after, see
`api.auth.sessions`), ``exp``, ``typ`` = ``"access"``. Only HS256 is accepted,
so a token signed with ``alg: none`` or another algorithm is refused, as is a
token signed with another key, an expired one, one blacklisted by logout, or
one issued before its user's sessions were ended.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt

from api import redis_keys
from api.context import get_redis, get_settings
from api.errors import Unauthorized

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"
SESSION_ENDED = "session ended (password, role or account changed); sign in again"


def token_hash(token: str) -> str:
    """The SHA-256 hex digest under which a token is blacklisted or stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_access_token(
    secret_key: str,
    *,
    user_id: uuid.UUID,
    organization_id: uuid.UUID,
    role: str,
    ttl_seconds: int,
    now: datetime | None = None,
) -> tuple[str, datetime]:
    """A signed access token and its expiry time."""
    issued = now or datetime.now(timezone.utc)
    expires = issued + timedelta(seconds=ttl_seconds)
    claims = {
        "sub": str(user_id),
        "org": str(organization_id),
        "role": role,
        "jti": uuid.uuid4().hex,
        "typ": ACCESS_TOKEN_TYPE,
        "iat": int(issued.timestamp()),
        "iat_ms": int(issued.timestamp() * 1000),
        "exp": int(expires.timestamp()),
    }
    return jwt.encode(claims, secret_key, algorithm=ALGORITHM), expires


# Tokens whose signature this process has verified, newest last: a client sends
# the same token with every request for its lifetime (15 min), and checking the
# HMAC and decoding the JSON again each time cost more than the rest of the
# authentication. Expiry is checked on every use; only verified tokens get in.
_VERIFIED_MAX = 4096
_verified: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()


def decode_access_token(secret_key: str, token: str) -> dict[str, Any]:
    """Verify signature, algorithm, expiry and type; raise `Unauthorized` otherwise.

    The result is shared between calls with the same token: do not change it."""
    key = (secret_key, token)
    claims = _verified.get(key)
    if claims is not None:
        if claims["exp"] > time.time():
            return claims
        del _verified[key]  # expired: let PyJWT say so below
    claims = _decode(secret_key, token)
    _verified[key] = claims
    if len(_verified) > _VERIFIED_MAX:
        _verified.popitem(last=False)
    return claims


def _decode(secret_key: str, token: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            token, secret_key, algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "sub", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("token expired", code="token_expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("invalid token", code="invalid_token") from exc
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise Unauthorized("invalid token", code="invalid_token")
    claims["exp_datetime"] = datetime.fromtimestamp(claims["exp"], timezone.utc)
    return claims


def issued_ms(claims: dict[str, Any]) -> int:
    """When the token was issued, in epoch milliseconds (``iat_ms``, else ``iat``)."""
    value = claims.get("iat_ms")
    return int(value) if isinstance(value, int) else int(claims["iat"]) * 1000


async def verify_access_token(token: str) -> dict[str, Any]:
    """`decode_access_token` plus the logout blacklist and ended sessions, with
    the app's key and redis (the per-request check is `redis_keys.check_auth`)."""
    claims = decode_access_token(get_settings().secret_key, token)
    redis = get_redis()
    if await redis_keys.is_blacklisted(redis, token_hash(token), claims["sub"]):
        raise Unauthorized("token revoked", code="token_revoked")
    after = await redis_keys.sessions_valid_after(redis, claims["sub"])
    if after is not None and issued_ms(claims) <= after:
        raise Unauthorized(SESSION_ENDED, code="session_ended")
    return claims


async def blacklist_access_token(token: str, expires_at: datetime, user_id: Any) -> None:
    """Refuse ``token`` (``user_id``'s) from now until it would have expired anyway."""
    await redis_keys.blacklist_token(get_redis(), token_hash(token), expires_at, user_id)
