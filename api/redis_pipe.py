"""One Redis script, called by every request of a process over one pipelined connection.

Each authenticated API request runs `redis_keys.check_auth`'s script. Through
redis-py that is a pool checkout, a retry wrapper, command packing and the
parser: about a tenth of a list request's CPU. Redis answers the commands of
one connection in the order they came, so a process can send every request's
call down a single connection as it comes and hand each answer to the oldest
caller still waiting: no pool, no lock, one ``write`` per call. Replies are
parsed by hiredis (already a dependency, redis-py's own parser).

- The connection is opened on first use (AUTH and SELECT from the URL; the
  script is loaded then) and again after it is lost; a call in flight when it
  drops fails with redis-py's ``ConnectionError``, as through redis-py.
- ``NOSCRIPT`` (Redis restarted or flushed its scripts) → the call is sent
  again as ``EVAL`` with the script's text.
- A caller cancelled while waiting leaves its answer to be read and dropped,
  so the order stays right for everyone else.
- A Redis Cluster URL (``redis+cluster://``, `api.redis_clients`): one node's
  connection cannot serve every slot, so the calls go through a
  ``RedisCluster`` client's registered script instead (same replies: bytes).
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl as ssl_module
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.asyncio.connection import SSLConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from api.redis_clients import is_cluster_url, redis_client


def _pack(*parts: Any) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        if isinstance(part, bytes):
            data = part
        elif isinstance(part, str):
            data = part.encode()
        else:
            data = str(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            future = self.waiting.popleft()
            if future.done():  # its caller was cancelled
                continue
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(ResponseError(str(reply)))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = RedisConnectionError(f"connection to Redis lost: {exc or 'closed'}")
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(self.lost)

    def call(self, packed: bytes) -> asyncio.Future:
        if self.lost is not None or self.transport is None:
            raise self.lost or RedisConnectionError("not connected to Redis")
        future = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        self.transport.write(packed)
        return future


class ScriptPipe:
    """``await pipe(keys, args)``: the script's reply, as hiredis gives it."""

    def __init__(self, url: str, script: str) -> None:
        self._cluster_url = url if is_cluster_url(url) else None
        self._cluster: Any = None  # RedisCluster, opened on first use (in the caller's loop)
        self._cluster_script: Any = None
        self._options = {} if self._cluster_url else parse_url(url)
        self._script = script.encode()
        self._sha = hashlib.sha1(self._script).hexdigest().encode()
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None

    async def __call__(self, keys: Sequence[str], args: Sequence[Any] = ()) -> Any:
        if self._cluster_url is not None:
            if self._cluster is None:
                self._cluster = redis_client(self._cluster_url)
                self._cluster_script = self._cluster.register_script(self._script)
            return await self._cluster_script(keys=list(keys), args=list(args))
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connect()
        try:
            return await protocol.call(_pack(b"EVALSHA", self._sha, len(keys), *keys, *args))
        except ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            return await protocol.call(_pack(b"EVAL", self._script, len(keys), *keys, *args))

    async def _connect(self) -> _Protocol:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._protocol is not None and self._protocol.lost is None:
                return self._protocol  # another caller connected meanwhile
            loop = asyncio.get_running_loop()
            options = self._options
            try:
                if options.get("path"):
                    _, protocol = await loop.create_unix_connection(_Protocol, options["path"])
                else:
                    context = None
                    if options.get("connection_class") is SSLConnection:
                        context = ssl_module.create_default_context()
                    _, protocol = await loop.create_connection(
                        _Protocol, options.get("host", "localhost"), options.get("port", 6379), ssl=context)
            except OSError as exc:
                raise RedisConnectionError(f"cannot connect to Redis: {exc}") from exc
            handshake = []
            if options.get("password"):
                credentials = [options["username"]] if options.get("username") else []
                handshake.append(protocol.call(_pack(b"AUTH", *credentials, options["password"])))
            if options.get("db"):
                handshake.append(protocol.call(_pack(b"SELECT", options["db"])))
            handshake.append(protocol.call(_pack(b"SCRIPT", b"LOAD", self._script)))
            try:
                await asyncio.gather(*handshake)
            except BaseException:
                protocol.transport.close()
                raise
            self._protocol = protocol
            return protocol

    def close(self) -> None:
        if self._cluster is not None:
            cluster, self._cluster = self._cluster, None
            try:
                asyncio.get_running_loop().create_task(cluster.aclose())
            except RuntimeError:  # no loop: its connections go with the process
                pass
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None
