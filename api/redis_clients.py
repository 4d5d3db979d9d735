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
`ResilientCluster` (a ``redis.asyncio.cluster.RedisCluster``), which learns
the slot map from them, sends each command to the primary of its key's slot
and rides out a failover (`ResilientCluster` says how). A cluster has one
database (0); its pools do not block (``wait_timeout`` is ignored:
``max_connections`` per node, then an error).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import BusyLoadingError, ClusterDownError, ClusterError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError, SlotNotCoveredError, TryAgainError

log = logging.getLogger("pytake.redis")

RETRIES = 5
HEALTH_CHECK_SECONDS = 30
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
CLUSTER_RETRIES = 20  # redis-py's own retries (immediate; 0.25 s apart on CLUSTERDOWN): all a pipeline gets
CLUSTER_RETRY_SECONDS = 15.0  # then `ResilientCluster` tries again with backoff this long: more than a promotion takes


def is_cluster_url(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in CLUSTER_SCHEMES  # type: ignore[arg-type]


def is_cluster(redis: Any) -> bool:
    """Whether ``redis`` is a Redis Cluster client (`redis_client` of a cluster URL)."""
    return isinstance(redis, RedisCluster)


# errors after which a command was not run (or, for a lost connection, maybe run: as
# on one Redis, PyTake's commands and scripts tolerate being sent again); exact types:
# not AuthenticationError (a ConnectionError); not TimeoutError (it may have run;
# redis-py's own retries still resend it)
_CLUSTER_TRANSIENT = (RedisConnectionError, MaxConnectionsError, BusyLoadingError, ClusterDownError,
                      SlotNotCoveredError, TryAgainError, ClusterError)
# redis-py's methods that close the client to reload the slot map: on CLUSTERDOWN
# (`RedisCluster._execute_command`) and between a pipeline's tries (`execute`)
_REFRESHING_CALLERS = frozenset({"_execute_command", "execute"})
# where a connection closed under a command fails with a transport's internals
# (redis-py issue #4287; AttributeError '_writer' is None: a slot-map refresh
# closed it between the command's health check and its write)
_TRANSPORT_FILES = tuple(os.path.join(*parts) for parts in (
    ("redis", "asyncio", "connection.py"), ("asyncio", "streams.py"), ("asyncio", "selector_events.py"),
    ("asyncio", "sslproto.py"), ("asyncio", "transports.py")))


def _closed_under_us(exc: BaseException) -> bool:
    """``exc`` (an AttributeError or TypeError) came from a connection's or a
    transport's internals, torn down while the command used them."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.endswith(_TRANSPORT_FILES)


class ResilientCluster(RedisCluster):
    """A ``RedisCluster`` that rides out a failover.

    What redis-py's own does (8.x), and what this one changes:

    - A command meeting ``MOVED`` (its slot now served by the promoted replica)
      is sent to the new primary at once; redis-py also closed the whole client
      every fifth ``MOVED`` (``reinitialize_steps=5``), cutting the commands
      other tasks had in flight on every node. One of those, a script already
      run whose reply was lost, was sent again: a lease's acquire then found the
      lease taken (by itself) and the work was skipped, a wake-up lost. Here
      ``MOVED`` only updates that slot (``reinitialize_steps=0``); a lost node
      still makes the next command reload the whole slot map.
    - On ``CLUSTERDOWN`` (every node answers it while a dead primary's slots
      wait for its replica) redis-py closes the whole client too, for the same
      harm; here it only reloads the slot map before the next command (`aclose`
      called by redis-py itself), and connections are renewed as each finishes
      its command. `aclose` called by anyone else closes the client.
    - redis-py retries a command after a lost connection or ``CLUSTERDOWN``
      ``retry`` times at once (0.25 s apart on ``CLUSTERDOWN``): all spent
      within a killed primary's detection time. Here a command that still
      fails is sent again with exponential backoff and jitter (50 ms up to 1 s)
      for up to `CLUSTER_RETRY_SECONDS` (15 s), the slot map reloaded each
      time: a killed primary's replica is promoted within the cluster's node
      timeout plus about a second. Not after a timeout (the command may have
      run), nor for commands sent to named nodes (``target_nodes``).
    - A connection closed under a command (by a refresh as above, or by the
      peer: redis-py issue #4287) raised ``AttributeError: 'NoneType' object
      has no attribute 'writelines'`` (or a ``TypeError`` from the transport),
      which no retry and no ``except RedisError`` caught: the failover test's
      lost replies on main. Here it is a ``ConnectionError``: the command was
      not written; it is sent again.
    """

    retry_seconds = CLUSTER_RETRY_SECONDS

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if "target_nodes" in kwargs:
            return await super().execute_command(*args, **kwargs)
        send = super().execute_command
        return await self.riding_out_failover(lambda: send(*args, **kwargs), args[0])

    async def riding_out_failover(self, call: Callable[[], Awaitable[Any]], what: Any) -> Any:
        """``await call()``, called again with backoff while it fails on a transient
        cluster error, for up to `retry_seconds` (not after a timeout: it may have run)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_seconds
        backoff = ExponentialWithJitterBackoff(base=0.05, cap=1.0)
        failures = 0
        while True:
            try:
                return await call()
            except _CLUSTER_TRANSIENT as exc:
                if type(exc) not in _CLUSTER_TRANSIENT:  # e.g. AuthenticationError
                    raise
                left = deadline - loop.time()
                if left <= 0:
                    raise
                failures += 1
                if failures == 1:
                    log.info("Redis Cluster: %s failed (%s: %s); trying again for up to %.0f s",
                             what, type(exc).__name__, exc, self.retry_seconds)
                await asyncio.sleep(min(backoff.compute(failures), left))

    async def aclose(self) -> None:
        caller = sys._getframe(1)
        if caller.f_globals.get("__name__") == RedisCluster.__module__ and caller.f_code.co_name in _REFRESHING_CALLERS:
            self._initialize = True  # redis-py reacting to CLUSTERDOWN: reload the slot map, cut nothing
            return
        await super().aclose()

    async def _execute_command(self, target_node: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._execute_command(target_node, *args, **kwargs)
        except (AttributeError, TypeError) as exc:
            if not _closed_under_us(exc):
                raise
            raise RedisConnectionError(
                f"connection to {getattr(target_node, 'name', target_node)} closed while in use: {exc!r}") from exc


def cluster_client(url: str, *, max_connections: int | None = None, **kwargs: Any) -> ResilientCluster:
    """A `ResilientCluster` for ``redis+cluster://[user:password@]host:port[,host:port...][/0][?options]``."""
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
        "reinitialize_steps": 0,  # a MOVED updates its slot; it never closes the client (`ResilientCluster`)
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
    return ResilientCluster(startup_nodes=nodes, **options)


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


async def pipelined(redis: Any, fill: Callable[[Any], Any], *, transaction: bool = False) -> list[Any]:
    """The replies of the commands ``fill(pipe)`` queues, sent as one pipeline.

    On a `ResilientCluster` a pipeline that fails on a transient error (its
    primary dead and not yet replaced) is built and sent again with backoff, as
    a single command is (`ResilientCluster.riding_out_failover`); redis-py's
    own pipeline retries are immediate and spent within a node timeout. Only
    for commands that may run twice (SET, HSET, EXPIRE, DEL, reads), since a
    pipeline whose connection dropped after it was written may have run."""
    cluster = isinstance(redis, ResilientCluster)

    async def once() -> list[Any]:
        async with redis.pipeline(transaction=transaction) as pipe:
            strategy = getattr(pipe, "_execution_strategy", None)
            if cluster and transaction and hasattr(strategy, "_retry"):
                # redis-py 8 retries a cluster transaction on the node it first picked, with
                # the client's backoff (20 tries, ~15 s): all spent on a dead primary.
                # Fail at once; the loop below reloads the slot map between tries.
                strategy._retry = Retry(NoBackoff(), 0)
            fill(pipe)
            return await pipe.execute()

    if not cluster:
        return await once()
    tries = 0

    async def again() -> list[Any]:
        nonlocal tries
        tries += 1
        if tries > 1:  # a pipeline's node comes from the slot map, which may still name the dead primary
            redis._initialize = True
            await redis.initialize()
        return await once()

    return await redis.riding_out_failover(again, "a pipeline")


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
