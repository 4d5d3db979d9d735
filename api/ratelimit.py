"""Fixed-window rate limits in Redis, so they hold across API processes.

Two kinds, both one-minute windows (SCHEMA.md's Redis keys):
- per client IP and endpoint (``ratelimit:{ip}:{endpoint}``) for the
  unauthenticated routes that guess passwords or create things: login,
  signup, refresh — `@rate_limit("login")`;
- per authenticated user (``ratelimit:user:{user_id}``), applied by
  `api.auth.permissions.require` to every authenticated request.

Over the limit → 429 ``rate_limited`` with ``Retry-After`` (seconds until the
window resets). Limits come from `Settings` (``PYTAKE_RATELIMIT_*``); 0
disables one.
"""

from __future__ import annotations

import math
import uuid
from functools import wraps
from typing import Any, Awaitable, Callable, TypeVar

from quart import request

from api import redis_keys
from api.context import get_redis, get_settings
from api.errors import RateLimited


def _limit_for(endpoint: str) -> int:
    return int(getattr(get_settings(), f"ratelimit_{endpoint}_per_minute"))


def check_rate(count: redis_keys.RateCount, limit: int) -> None:
    """429 (with Retry-After) when ``count`` is over ``limit``."""
    if count.count > limit:
        raise RateLimited(retry_after=math.ceil(count.ttl))


_check = check_rate


def client_ip() -> str:
    return request.remote_addr or "unknown"


async def enforce_ip_limit(endpoint: str) -> None:
    limit = _limit_for(endpoint)
    if limit > 0:
        _check(await redis_keys.hit_ip_rate(get_redis(), client_ip(), endpoint), limit)


async def enforce_user_limit(user_id: uuid.UUID) -> None:
    limit = get_settings().ratelimit_user_per_minute
    if limit > 0:
        _check(await redis_keys.hit_user_rate(get_redis(), user_id), limit)


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def rate_limit(endpoint: str) -> Callable[[F], F]:
    """Limit a route per client IP, with ``Settings.ratelimit_<endpoint>_per_minute``."""

    def decorator(func: F) -> F:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            await enforce_ip_limit(endpoint)
            return await func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
