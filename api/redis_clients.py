"""Redis clients that outlive a Redis restart.

A pooled connection opened before Redis restarted is dead, and the pool does
not know until it is used. redis-py retries a command on such an error only
when its connections carry a retry policy, and a pool built with
``ConnectionPool.from_url`` (as the runtime's, the webhook's and Taskiq's are)
has none: its first command after the restart failed. Every client here does:

- ``retry``: on a connection error the connection is dropped and the command
  sent again on a fresh one, up to `RETRIES` times with a short exponential
  backoff with jitter (up to ~1.7 s for a Redis still coming back), so the
  first command after a restart succeeds; not on timeouts (a command that
  timed out may have run; sending it again could run it twice);
- ``health_check_interval``: a connection idle longer than this is PINGed
  before its next command (no cost on busy connections);
- TCP keep-alive, so a peer that vanished without closing is noticed.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

RETRIES = 5
HEALTH_CHECK_SECONDS = 30


def resilient_connection_kwargs() -> dict[str, Any]:
    """Connection options for a pool (``ConnectionPool.from_url(url, **these)``)."""
    return {
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), RETRIES),
        "retry_on_error": [RedisConnectionError],
        "health_check_interval": HEALTH_CHECK_SECONDS,
        "socket_keepalive": True,
    }


def redis_client(url: str, *, max_connections: int | None = None, wait_timeout: float | None = None,
                 **kwargs: Any) -> aioredis.Redis:
    """A client on its own pool; with ``wait_timeout`` the pool blocks (a burst
    waits that long for a free connection instead of failing)."""
    options = {**resilient_connection_kwargs(), **kwargs}
    if max_connections is not None:
        options["max_connections"] = max_connections
    if wait_timeout is not None:
        pool = aioredis.BlockingConnectionPool.from_url(url, timeout=wait_timeout, **options)
    else:
        pool = aioredis.ConnectionPool.from_url(url, **options)
    return aioredis.Redis(connection_pool=pool)
