"""The role matrix (one table) and the `@require` decorator that enforces it.

Permission names are ``<resource>:<read|write|delete>``. `MATRIX` below is the
only place that says which role may do what; `docs/permissions.md` documents
it and `tests/api/test_roles_matrix.py` walks it against the real routes.
"""

from __future__ import annotations

import uuid
from functools import wraps
from typing import Any, Awaitable, Callable, TypeVar

from quart import request
from quart_schema.extension import QUART_SCHEMA_SECURITY_ATTRIBUTE

from api import redis_keys
from api.auth.principal import ROLES, Principal, set_principal
from api.errors import Forbidden, Unauthorized

ACTIONS = ("read", "write", "delete")
_LETTER = {"r": "read", "w": "write", "d": "delete"}

# resource            super_admin  org_admin  agent   viewer
MATRIX: dict[str, tuple[str, str, str, str]] = {
    "organization":     ("rwd",       "rw",      "r",    "r"),
    "users":            ("rwd",       "rwd",     "r",    "r"),
    "whatsapp_numbers": ("rwd",       "rwd",     "r",    "r"),
    "departments":      ("rwd",       "rwd",     "r",    "r"),
    "agent_greetings":  ("rwd",       "rwd",     "rw",   "r"),
    "chatbots":         ("rwd",       "rwd",     "r",    "r"),
    "flows":            ("rwd",       "rwd",     "r",    "r"),
    "contacts":         ("rwd",       "rwd",     "rw",   "r"),
    "tags":             ("rwd",       "rwd",     "rw",   "r"),
    "conversations":    ("rwd",       "rwd",     "rw",   "r"),
    "messages":         ("rwd",       "rwd",     "rw",   "r"),
    "campaigns":        ("rwd",       "rwd",     "r",    "r"),
    "templates":        ("rwd",       "rwd",     "r",    "r"),
    "integrations":     ("rwd",       "rwd",     "",     ""),
    "webhooks":         ("rwd",       "rwd",     "",     ""),
    "quick_replies":    ("rwd",       "rwd",     "rw",   "r"),
    "audit_logs":       ("r",         "r",       "",     ""),
    "platform":         ("rw",        "",        "",     ""),
}

# Resources whose routes reach across organizations (the platform operator's
# `/admin/...`, `api.routes.admin`): the one exception to "every query is
# scoped to the caller's organization". tests/api/test_tenant_walk.py walks
# them apart: every role without the permission is refused whatever the ids.
CROSS_ORGANIZATION = frozenset({"platform"})

RESOURCES = tuple(MATRIX)
PERMISSIONS = tuple(f"{resource}:{action}" for resource in RESOURCES for action in ACTIONS)

# Attribute set on a view function by `require`: the permission it checks.
REQUIRED_PERMISSION_ATTR = "_pytake_permission"
BEARER_SECURITY = [{"bearer": []}]


def allowed(role: str, permission: str) -> bool:
    """Does ``role`` hold ``permission``? Unknown roles and permissions hold nothing."""
    resource, _, action = permission.partition(":")
    letters = MATRIX.get(resource)
    if letters is None or role not in ROLES or action not in ACTIONS:
        return False
    return action[0] in letters[ROLES.index(role)]


def is_cross_organization(permission: str | None) -> bool:
    """Is ``permission`` one of the platform's, not scoped to the caller's organization?"""
    return permission is not None and permission.partition(":")[0] in CROSS_ORGANIZATION


def role_permissions(role: str) -> set[str]:
    return {p for p in PERMISSIONS if allowed(role, p)}


def _check_permission_name(permission: str) -> None:
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}; see api.auth.permissions.MATRIX")


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def require(permission: str | None = None) -> Callable[[F], F]:
    """Authenticate the bearer token, then check ``permission`` against `MATRIX`.

    ``@require()`` (no permission) only authenticates. Sets the request's
    `Principal` (see `api.auth.principal.current_principal`) and applies the
    per-user rate limit. 401 without a valid token, 403 when the role lacks
    the permission.
    """
    if permission is not None:
        _check_permission_name(permission)

    def decorator(func: F) -> F:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = await authenticate_request()
            if permission is not None and not allowed(principal.role, permission):
                raise Forbidden()
            return await func(*args, **kwargs)

        setattr(wrapper, REQUIRED_PERMISSION_ATTR, permission)
        setattr(wrapper, QUART_SCHEMA_SECURITY_ATTRIBUTE, BEARER_SECURITY)
        return wrapper  # type: ignore[return-value]

    return decorator


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    return token.strip()


async def authenticate_request() -> Principal:
    """Check the bearer token and the user behind it; set and return the principal
    (`authenticate_token`, counting the request against the per-user rate limit)."""
    principal = await authenticate_token(bearer_token())
    set_principal(principal)
    return principal


async def authenticate_token(token: str, *, count_rate: bool = True) -> Principal:
    """The principal of an access token, or `Unauthorized` (invalid, expired, revoked,
    session ended, user gone or inactive); with ``count_rate``, the per-user rate limit too.

    One round trip to Redis (logout blacklist, the user's ended sessions
    (`api.auth.sessions`), the user's cached organization and role, and the
    per-user rate count, in one script); the database only
    when the user is not cached (`api.auth.user_cache`: entries live 60 s and
    are dropped by any change to the user or its organization, so a demotion
    or deactivation takes effect at once). The live channel (`api.routes.live`)
    checks its token here too, without counting.
    """
    from api.auth.tokens import SESSION_ENDED, decode_access_token, issued_ms, token_hash  # local: avoids an import cycle
    from api.auth.users import load_active_user_role
    from api.context import get_auth_pipe, get_redis, get_settings
    from api.ratelimit import check_rate

    settings = get_settings()
    claims = decode_access_token(settings.secret_key, token)
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except (KeyError, ValueError) as exc:
        raise Unauthorized("invalid token", code="invalid_token") from exc
    limit = settings.ratelimit_user_per_minute if count_rate else 0
    redis = get_redis()
    check = await redis_keys.check_auth(redis, token_hash(token), user_id, count_rate=limit > 0,
                                        issued_ms=issued_ms(claims), pipe=get_auth_pipe())
    if check.revoked:
        raise Unauthorized("token revoked", code="token_revoked")
    if check.ended:
        raise Unauthorized(SESSION_ENDED, code="session_ended")
    if check.user is not None:
        organization_id, role = uuid.UUID(check.user[0]), check.user[1]
    else:
        found = await load_active_user_role(user_id)
        if found is None:
            raise Unauthorized("invalid token", code="invalid_token")
        organization_id, role = found
        await redis_keys.cache_user_auth(redis, user_id, organization_id, role)
    principal = Principal(
        user_id=user_id,
        organization_id=organization_id,
        role=role,
        token_jti=claims.get("jti"),
        token_expires_at=claims.get("exp_datetime"),
    )
    if check.rate is not None:
        check_rate(check.rate, limit)
    return principal
