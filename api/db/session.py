"""`Database`: one async engine (asyncpg) and its session factory.

Create it inside the event loop that will use it (asyncpg connections belong
to a loop) and ``await db.dispose()`` when done.

`Database.raw()` lends a plain asyncpg connection from a small pool of its
own, for the WhatsApp runtime's hot statements (one webhook, one processing
step, one send): SQLAlchemy's execution machinery (compile cache key,
result objects, greenlet hop, pool events) costs more CPU than asyncpg's own
round trip for such one-line statements. `named` turns a ``:name`` statement
into asyncpg's ``$n`` form once.

Behind PgBouncer in transaction mode (``?pooler=pgbouncer-transaction`` on the
database URL, see docs/runtime.md "PgBouncer") a server connection is ours only
for one transaction: no named prepared statement outlives it, and startup
settings other than PgBouncer's few are refused. So both drivers run unnamed
statements (asyncpg pipelines Parse with Bind/Execute: one round trip, one
server), SQLAlchemy's adapter prepares under unique names inside the
transaction it always opens, `reading()` is a short transaction instead of
autocommit, and no ``plan_cache_mode`` is sent at connect.

``?pooler=pgbouncer-prepared`` is for PgBouncer 1.21+ with
``max_prepared_statements`` set: PgBouncer then tracks each client's named
statements and prepares them again on whichever server connection it lends,
so both statement caches stay on (a statement is parsed and planned once per
server connection, not per execution) and reads stay in autocommit; only the
startup settings are still left out.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, AsyncIterator, Mapping

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from api.settings import DATABASE_POOLERS as POOLERS
from api.settings import normalize_database_url

PGBOUNCER_TRANSACTION = "pgbouncer-transaction"
PGBOUNCER_PREPARED = "pgbouncer-prepared"


def split_pooler(url: str) -> tuple[str, str | None]:
    """``(url without its ?pooler=..., the pooler or None)``; an unknown pooler is a ValueError."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    pooler = parsed.query.get("pooler")
    if pooler is None:
        return url, None
    if pooler not in POOLERS:
        raise ValueError(f"DATABASE_URL: pooler={pooler!r} is not one of {', '.join(POOLERS)}")
    return parsed.difference_update_query(["pooler"]).render_as_string(hide_password=False), pooler


def pooler_connect_args(connect_args: Mapping[str, Any] | None = None,
                        pooler: str = PGBOUNCER_TRANSACTION) -> dict[str, Any]:
    """SQLAlchemy ``connect_args`` for a transaction-mode pooler: no startup
    ``server_settings``; and unless the pooler keeps prepared statements
    (`PGBOUNCER_PREPARED`), no statement cache in asyncpg or in SQLAlchemy's
    adapter and a unique name for each statement the adapter prepares (inside
    its transaction)."""
    args = {k: v for k, v in (connect_args or {}).items() if k != "server_settings"}
    if pooler != PGBOUNCER_PREPARED:
        args.update(statement_cache_size=0, prepared_statement_cache_size=0,
                    prepared_statement_name_func=_unique_statement_name)
    return args


def create_engine_for(url: str, **engine_kwargs: Any) -> AsyncEngine:
    """An async engine for a PyTake database URL (``postgres://`` spellings,
    ``?pooler=``): what migrations use; `Database` adds its pools on top."""
    url, pooler = split_pooler(normalize_database_url(url) or url)
    if pooler:
        engine_kwargs["connect_args"] = pooler_connect_args(engine_kwargs.get("connect_args"), pooler)
    return create_async_engine(url, **engine_kwargs)


def _unique_statement_name() -> str:
    return f"__pytake_{uuid.uuid4().hex}__"


class Database:
    """An engine plus ``session()`` (you commit) and ``transaction()`` (commits
    on success, rolls back on error)."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url, self.pooler = split_pooler(normalize_database_url(url) or url)
        if self.pooler:
            engine_kwargs["connect_args"] = pooler_connect_args(engine_kwargs.get("connect_args"), self.pooler)
        # raw() pool: as many connections as the engine may open (they are opened lazily)
        raw_size = engine_kwargs.pop("raw_pool_size", None)
        self.raw_pool_size: int = raw_size or (engine_kwargs.get("pool_size", 5) + engine_kwargs.get("max_overflow", 10))
        self._raw_pool: RawPool | None = None
        engine_kwargs.setdefault("pool_pre_ping", True)
        self.engine: AsyncEngine = create_async_engine(self.url, **engine_kwargs)
        event.listen(self.engine.sync_engine, "checkout", _drop_closed_connection)
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False)

    @property
    def unnamed(self) -> bool:
        """Behind a pooler that keeps no prepared statements: statements live only within
        a transaction (no caches; reads in a transaction)."""
        return self.pooler == PGBOUNCER_TRANSACTION

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            async with session.begin():
                yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A pooled Core connection in autocommit, for single-statement reads.

        No ORM session and no BEGIN/ROLLBACK round trips around the query:
        each statement sees its own snapshot, which is all a one-statement
        read needs (a list page and its total are one statement).
        Behind a transaction-mode pooler that keeps no prepared statements: one
        short transaction (committed on success), as SQLAlchemy's statements are
        prepared under a name that only lives as long as the server connection
        is ours.
        """
        if self.unnamed:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    def single_statement(self):
        """An autocommit connection for one write statement that holds the whole
        change (its CTEs): atomic by itself, one round trip instead of three."""
        return self.reading()

    def raw(self) -> "RawConnection":
        """``async with db.raw() as conn:`` a plain asyncpg connection (autocommit;
        ``conn.transaction()`` for more than one statement). jsonb/json come back
        decoded; jsonb parameters are passed as JSON text, as with SQLAlchemy."""
        if self._raw_pool is None:
            self._raw_pool = RawPool(self._connect_raw, self.raw_pool_size)
        return RawConnection(self._raw_pool)

    async def _connect_raw(self) -> Any:
        import asyncpg

        from api.json_codec import loads_json

        _, opts = self.engine.dialect.create_connect_args(self.engine.url)
        for key in ("prepared_statement_cache_size", "prepared_statement_name_func", "async_fallback"):
            opts.pop(key, None)
        # the hot statements are key lookups, prepared once per connection and run
        # thousands of times: a generic plan (pruned at run time) instead of a fresh
        # plan per execution; "auto" keeps replanning statements on the partitioned
        # `messages` table, whose custom plans look cheaper (pruned at plan time)
        settings = dict(opts.pop("server_settings", None) or {})
        settings.setdefault("plan_cache_mode", "force_generic_plan")
        if self.pooler:  # PgBouncer refuses other startup settings
            settings = {}
        if self.unnamed:
            opts.update(statement_cache_size=0)
        conn = await asyncpg.connect(**opts, server_settings=settings or None)
        for name in ("jsonb", "json"):  # parameters: JSON text; results: decoded
            await conn.set_type_codec(name, schema="pg_catalog", encoder=_json_text, decoder=loads_json)
        return conn

    async def dispose(self) -> None:
        if self._raw_pool is not None:
            pool, self._raw_pool = self._raw_pool, None
            await pool.close()
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"


def _drop_closed_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection the server closed (restart, ``pg_terminate_backend``,
    idle timeout) is replaced at checkout instead of failing its first statement.
    asyncpg notices the close as it happens (it keeps reading the socket), so
    this is a local check, not the round trip ``pool_pre_ping`` costs per
    checkout. `RawPool.acquire` does the same for raw connections."""
    raw = getattr(dbapi_connection, "_connection", None)
    if raw is not None and raw.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


class RawPool:
    """Up to ``size`` asyncpg connections, opened on demand and kept open.

    No reset query on return (asyncpg's pool sends one per release): a
    connection comes back either idle outside any transaction or it is closed.
    """

    def __init__(self, connect: Any, size: int) -> None:
        self._connect = connect
        self._slots = asyncio.Semaphore(max(1, size))
        self._idle: list[Any] = []
        self._closed = False

    async def acquire(self) -> Any:
        await self._slots.acquire()
        try:
            while self._idle:
                conn = self._idle.pop()
                if not conn.is_closed():
                    return conn
            return await self._connect()
        except BaseException:
            self._slots.release()
            raise

    def release(self, conn: Any, *, broken: bool = False) -> None:
        if broken or self._closed or conn.is_closed() or conn.is_in_transaction():
            conn.terminate()
        else:
            self._idle.append(conn)
        self._slots.release()

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            try:
                await asyncio.wait_for(conn.close(), 5)
            except Exception:  # noqa: BLE001 - closing anyway
                conn.terminate()


class RawConnection:
    """``async with`` a pooled asyncpg connection. A connection left in a failed
    state (cancelled, I/O error, open transaction) is closed, not reused."""

    __slots__ = ("_pool", "_conn")

    def __init__(self, pool: RawPool) -> None:
        self._pool = pool
        self._conn: Any = None

    async def __aenter__(self) -> Any:
        self._conn = await self._pool.acquire()
        return self._conn

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        conn, self._conn = self._conn, None
        broken = exc_type is not None and not _is_postgres_error(exc)
        self._pool.release(conn, broken=broken)


def _is_postgres_error(exc: Any) -> bool:
    import asyncpg

    return isinstance(exc, asyncpg.PostgresError)


_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")


@lru_cache(maxsize=512)
def named(sql: str) -> tuple[str, tuple[str, ...]]:
    """``:name`` parameters → ``$n`` (asyncpg), and the names in ``$n`` order.
    ``::type`` casts are left alone."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PARAM.sub(number, sql), tuple(names)


def bind(sql: str, params: Mapping[str, Any]) -> list[Any]:
    """``[query, *args]`` for asyncpg (``conn.fetchrow(*bind(sql, params))``) from a
    ``:name`` statement and its parameters."""
    query, names = named(sql)
    return [query, *[params[n] for n in names]]
