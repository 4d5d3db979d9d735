"""Shared fixtures: real PostgreSQL and Redis for every test that asks.

- ``database_url``: a fully migrated database with no rows in it, this test's
  alone; SQLAlchemy URL (``postgresql+asyncpg://...``). Clones of one template
  migrated once per session, emptied between tests rather than dropped (a
  DROP DATABASE costs a checkpoint): see tests/database_pool.py.
- ``db``: an `api.db.session.Database` on it, disposed after the test.
- ``redis_url`` / ``redis``: a Redis database index reserved for this test
  session, emptied (FLUSHDB) before each test; ``redis`` is a
  ``redis.asyncio`` client created in the test's loop.

Servers: ``DATABASE_URL`` / ``REDIS_URL`` when set, else the embedded servers
(data under ``PYTAKE_TEST_DATA_DIR``, default ``.pytake/test``), started once
per session.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
from pathlib import Path
from typing import AsyncIterator, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from sqlalchemy.engine import make_url

from api.db import migrations
from api.db.session import Database
from api.settings import Settings, normalize_database_url
from tests.database_pool import DatabasePool

REPO = Path(__file__).resolve().parents[1]
_counter = itertools.count(1)


def _hypothesis_ignores_the_clock() -> None:
    """Property tests judge results, never speed: no per-example deadline and
    no "too slow" health check (a loaded machine failed them). Every
    `@settings(...)` in the suite starts from this profile."""
    from hypothesis import HealthCheck, settings

    settings.register_profile("pytake", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("pytake")


_hypothesis_ignores_the_clock()


def _url_builders_compiled_once() -> None:
    """Werkzeug compiles two URL builders per route (an AST built, then `compile`) every time
    a rule is bound to an app: ~95% of `create_app`'s time, and the suite creates an app
    for nearly every API and runtime test. The builder's code depends only on the rule's
    parsed parts (``_trace``) and defaults, so each is compiled once per session and the
    same code bound to each new rule, as werkzeug binds its own; a route gets the function
    werkzeug would have compiled for it (tests/api/test_url_builders.py compares the URLs
    built both ways for every route). Rules with defaults keep werkzeug's path (their
    builder folds the converted default in)."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    builders: dict = {}

    def cached(self: Rule, append_unknown: bool = True):  # noqa: ANN202 - werkzeug's signature
        if self.defaults:
            return compile_builder(self, append_unknown)
        key = (self.rule, tuple(self._trace), append_unknown)
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    cached.uncached = compile_builder  # type: ignore[attr-defined]
    Rule._compile_builder = cached


_url_builders_compiled_once()


def _asyncpg_kwargs(url: str, database: str | None = None) -> dict:
    u = make_url(normalize_database_url(url) or url)
    kwargs = {"user": u.username, "password": u.password, "port": u.port,
              "host": u.host or u.query.get("host"), "database": database or u.database}
    if u.query.get("port") and not u.port:
        kwargs["port"] = int(u.query["port"])
    return {k: v for k, v in kwargs.items() if v is not None}


async def _admin(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(**_asyncpg_kwargs(url, "postgres"))
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


def _run(coro) -> None:
    """Run a coroutine from sync session fixtures (outside any test loop)."""
    import threading

    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@pytest.fixture(scope="session")
def _servers() -> Iterator[tuple[str, str]]:
    from api import embedded

    env_db = os.environ.get("DATABASE_URL")
    env_redis = os.environ.get("REDIS_URL")
    data_dir = Path(os.environ.get("PYTAKE_TEST_DATA_DIR") or REPO / ".pytake" / "test")
    settings = Settings(database_url=normalize_database_url(env_db), redis_url=env_redis,
                        data_dir=data_dir)
    database_url, redis_url = embedded.ensure_servers_sync(settings)
    assert database_url and redis_url
    if not env_db:
        # The test cluster is disposable: trade durability for speed.
        embedded.tune_postgres_for_tests(data_dir)
    try:
        yield database_url, redis_url
    finally:
        if not (env_db and env_redis):
            embedded.stop()


async def _drop_stale_test_databases(server_url: str) -> None:
    """Drop test databases left by sessions that were killed (their pid is gone).
    Only on a server on this machine, where those pids mean something."""
    import asyncpg

    kwargs = _asyncpg_kwargs(server_url, "postgres")
    host = str(kwargs.get("host") or "/")
    if not (host.startswith("/") or host in ("127.0.0.1", "localhost", "::1")):
        return
    conn = await asyncpg.connect(**kwargs)
    try:
        names = [r[0] for r in await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname ~ '^pytake_(tpl|t|e)_[0-9]+_'")]
        for name in names:
            if not _pid_alive(int(name.split("_")[2])):
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def _template_database(_servers: tuple[str, str]) -> Iterator[str]:
    """Name of a database migrated to head once for this session."""
    server_url = _servers[0]
    _run(_drop_stale_test_databases(server_url))
    name = f"pytake_tpl_{os.getpid()}_{secrets.token_hex(3)}"
    _run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        migrations.upgrade(url)
        yield name
    finally:
        _run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_strategies: dict[str, str] = {}


def _clone_strategy(server_url: str) -> str:
    if server_url not in _strategies:
        async def version() -> None:
            import asyncpg

            conn = await asyncpg.connect(**_asyncpg_kwargs(server_url, "postgres"))
            try:
                num = int(await conn.fetchval("SHOW server_version_num"))
                fsync = await conn.fetchval("SHOW fsync")
            finally:
                await conn.close()
            # FILE_COPY costs a checkpoint per clone: cheap with fsync off (the
            # embedded test cluster: 0.06 s vs 0.6 s for WAL_LOG), dear with
            # fsync on (a shared server: 0.15 s vs 0.03 s for WAL_LOG, PG 15+'s default).
            cheap_checkpoints = fsync == "off" and num >= 150000
            _strategies[server_url] = " STRATEGY FILE_COPY" if cheap_checkpoints else ""

        _run(version())
    return _strategies[server_url]


class _Dropper:
    """Drops test databases (those a test left unusable, and the pool's at the
    end) in a background thread, so a test's teardown does not wait for
    DROP DATABASE and its checkpoint."""

    def __init__(self, server_url: str) -> None:
        import queue
        import threading

        self.server_url = server_url
        self.names: "queue.Queue[str | None]" = queue.Queue()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=lambda: asyncio.run(self._work()), daemon=True)
        self.thread.start()

    async def _work(self) -> None:
        while (name := await asyncio.to_thread(self.names.get)) is not None:
            try:
                await _admin(self.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except BaseException as exc:  # reported at the end of the session
                self.errors.append(exc)

    def close(self) -> None:
        self.names.put(None)
        self.thread.join()


@pytest.fixture(scope="session")
def _dropper(_servers: tuple[str, str]) -> Iterator[_Dropper]:
    dropper = _Dropper(_servers[0])
    try:
        yield dropper
    finally:
        dropper.close()


@pytest.fixture(scope="session")
def _database_pool(_servers: tuple[str, str], _template_database: str,
                   _dropper: _Dropper) -> Iterator[DatabasePool]:
    import asyncpg

    server_url = _servers[0]

    async def clone() -> str:
        name = f"pytake_t_{os.getpid()}_{next(_counter)}"
        # The clone strategy is picked per server, see _clone_strategy.
        await _admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{_template_database}"'
                                 f'{_clone_strategy(server_url)}')
        return name

    async def connect(name: str):
        return await asyncpg.connect(**_asyncpg_kwargs(server_url, name))

    pool = DatabasePool(clone=clone, drop=_dropper.names.put, connect=connect)
    try:
        yield pool
    finally:
        pool.close()
        _pool_counts.append((pool.created, pool.discarded))


_pool_counts: list[tuple[int, int]] = []


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest's hook
    for created, discarded in _pool_counts:
        terminalreporter.write_line(f"test databases: {created} cloned, {discarded} of them dropped "
                                    "(a test changed the schema, or they could not be emptied)")


@pytest.fixture
async def database_url(_servers: tuple[str, str], _database_pool: DatabasePool) -> AsyncIterator[str]:
    name = await _database_pool.acquire()
    try:
        yield make_url(_servers[0]).set(database=name).render_as_string(hide_password=False)
    finally:
        await _database_pool.release(name)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


# -- Redis -------------------------------------------------------------------
_CLAIM_KEY = "pytake:test:db-index:{}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_redis_index(url: str, me: str) -> int | None:
    """Claim a free database index (1-15) of ``url``'s server for the holder ``me``
    (``<pid>:<token>``: a claim whose pid is gone is taken over); None if all are held.
    The claims live in database 0 whatever database ``url`` names: redis-py's from_url
    lets the URL's own database win over ``db=``, and sessions given different URLs
    (/5, /6) once kept their claims apart, took the same index and flushed each other."""
    import redis as sync_redis

    with sync_redis.Redis.from_url(_with_db(url, 0)) as client:
        for i in range(1, 16):
            key = _CLAIM_KEY.format(i)
            if client.set(key, me, nx=True, ex=24 * 3600):
                return i
            holder = client.get(key)
            pid = int(holder.split(b":")[0]) if holder else 0
            if holder and not _pid_alive(pid):
                if client.set(key, me, xx=True, ex=24 * 3600, get=True) == holder:
                    return i
    return None


def release_redis_index(url: str, index: int, me: str) -> None:
    import redis as sync_redis

    with sync_redis.Redis.from_url(_with_db(url, 0)) as client:
        if client.get(_CLAIM_KEY.format(index)) == me.encode():
            client.delete(_CLAIM_KEY.format(index))


@pytest.fixture(scope="session")
def _redis_db_index(_servers: tuple[str, str]) -> Iterator[int]:
    """Reserve a database index (1-15) of the Redis server for this session, so
    concurrent test runs on one server never flush each other's data."""
    me = f"{os.getpid()}:{secrets.token_hex(4)}"
    index = claim_redis_index(_servers[1], me)
    if index is None:
        pytest.fail("no free Redis database index (1-15) for this test session")
    try:
        yield index
    finally:
        release_redis_index(_servers[1], index, me)


@pytest.fixture
def redis_url(_servers: tuple[str, str], _redis_db_index: int) -> str:
    return _with_db(_servers[1], _redis_db_index)


def _with_db(url: str, index: int) -> str:
    """``url`` naming database ``index`` of the same server."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(index)
        return f"unix://{parts.path}?{urlencode(query)}"
    return urlunsplit(parts._replace(path=f"/{index}"))


@pytest.fixture
async def redis(redis_url: str):
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()
