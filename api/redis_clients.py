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

Redis Cluster: a URL ``redis+cluster://host:port[,host:port...][/0]`` (or
``rediss+cluster://`` for TLS; user and password as in ``redis://``) names a
cluster by one or more of its nodes: `redis_client` then gives a
``redis.asyncio.cluster.RedisCluster``, which learns the slot map from them,
sends each command to the primary of its key's slot and follows ``MOVED``
after a failover (retried with backoff for up to `CLUSTER_RETRY_SECONDS`, a
replica's promotion after its primary died). A cluster has one database (0);
its pools do not block (``wait_timeout`` is ignored: ``max_connections`` per
node, then an error).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

RETRIES = 5
HEALTH_CHECK_SECONDS = 30
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
CLUSTER_RETRIES = 20  # with the backoff below: ~15 s, more than a replica's promotion takes
CLUSTER_RETRY_SECONDS = 15


def is_cluster_url(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in CLUSTER_SCHEMES  # type: ignore[arg-type]


def is_cluster(redis: Any) -> bool:
    """Whether ``redis`` is a Redis Cluster client (`redis_client` of a cluster URL)."""
    return isinstance(redis, RedisCluster)


def cluster_client(url: str, *, max_connections: int | None = None, **kwargs: Any) -> RedisCluster:
    """A ``RedisCluster`` for ``redis+cluster://[user:password@]host:port[,host:port...][/0][?options]``."""
    parts = urlsplit(url)
    if parts.scheme not in CLUSTER_SCHEMES:
        raise ValueError(f"not a Redis Cluster URL (redis+cluster://host:port): {url!r}")
    netloc = parts.netloc
    credentials, _, hosts = netloc.rpartition("@")
    username, _, password = credentials.partition(":") if credentials else ("", "", "")
    nodes = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "6379")
        nodes.append(ClusterNode(name.strip("[]") or "localhost", int(port or 6379)))
    db = parts.path.strip("/")
    if db not in ("", "0"):
        raise ValueError(f"a Redis Cluster has only database 0, not {db!r}: {url!r}")
    options: dict[str, Any] = {
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), CLUSTER_RETRIES),
        "health_check_interval": HEALTH_CHECK_SECONDS,
        "socket_keepalive": True,
    }
    for key, value in parse_qsl(parts.query):
        if key in ("socket_timeout", "socket_connect_timeout"):
            options[key] = float(value)
    if username:
        options["username"] = unquote(username)
    if password:
        options["password"] = unquote(password)
    if parts.scheme.startswith("rediss"):
        options["ssl"] = True
    if max_connections is not None:
        options["max_connections"] = max_connections
    options.update(kwargs)
    for pool_only in ("retry_on_error", "connection_pool"):
        options.pop(pool_only, None)
    return RedisCluster(startup_nodes=nodes, **options)


def resilient_connection_kwargs(url: str) -> dict[str, Any]:
    """Connection options for a pool (``ConnectionPool.from_url(url, **these)``).
    TCP keep-alive only over TCP: a ``unix://`` connection (the embedded Redis of
    `make run`) refuses the option, and every connection would fail."""
    options: dict[str, Any] = {
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), RETRIES),
        "retry_on_error": [RedisConnectionError],
        "health_check_interval": HEALTH_CHECK_SECONDS,
    }
    if not url.startswith("unix:"):
        options["socket_keepalive"] = True
    return options


def redis_client(url: str, *, max_connections: int | None = None, wait_timeout: float | None = None,
                 **kwargs: Any) -> aioredis.Redis:
    """A client on its own pool; with ``wait_timeout`` the pool blocks (a burst
    waits that long for a free connection instead of failing). A cluster URL
    gives a ``RedisCluster`` (`cluster_client`)."""
    if is_cluster_url(url):
        return cluster_client(url, max_connections=max_connections, **kwargs)  # type: ignore[return-value]
    options = {**resilient_connection_kwargs(url), **kwargs}
    if max_connections is not None:
        options["max_connections"] = max_connections
    if wait_timeout is not None:
        pool = aioredis.BlockingConnectionPool.from_url(url, timeout=wait_timeout, **options)
    else:
        pool = aioredis.ConnectionPool.from_url(url, **options)
    return aioredis.Redis(connection_pool=pool)


async def pubsub_client(url: str, **kwargs: Any) -> Any:
    """A client for a subscription (``.pubsub()``): on a cluster a ``RedisCluster``,
    whose pub/sub is a connection to one node (a cluster forwards every ``PUBLISH``
    to every node, so any node hears them all), its slot map loaded (its pub/sub
    picks the node by it); else a plain ``from_url`` client."""
    if is_cluster_url(url):
        return await cluster_client(url, **kwargs).initialize()
    return aioredis.from_url(url, **kwargs)


async def pubsub_of(redis: Any, **kwargs: Any) -> Any:
    """``redis.pubsub(**kwargs)``, a cluster client's slot map loaded first."""
    if is_cluster(redis):
        await redis.initialize()
    return redis.pubsub(**kwargs)
