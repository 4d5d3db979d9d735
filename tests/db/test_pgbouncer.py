"""PyTake's database layer through a real PgBouncer in transaction mode
(``?pooler=pgbouncer-transaction``): a plain asyncpg client with its statement
cache breaks there; `Database` (ORM sessions, Core reads and writes, raw
asyncpg) does not, also when many clients share few server connections."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from api.db.models import Organization
from api.db.session import Database
from api.settings import Settings, SettingsError
from tests.pgbouncer import pgbouncer_version, running_pgbouncer, through
from tests.pgbouncer_process import SERVER_POOL_SIZE


@pytest.fixture
async def bouncer(database_url, tmp_path):
    async with running_pgbouncer(database_url, tmp_path / "pgbouncer") as pgbouncer:
        yield pgbouncer.host, pgbouncer.port


def test_debian_s_pgbouncer_is_installed():
    assert pgbouncer_version() >= (1, 17)


PIPE_BUFFER = 64 * 1024  # Linux's default pipe capacity


async def test_pgbouncer_keeps_serving_once_its_log_outgrows_a_pipe_and_is_gone_after(database_url, tmp_path):
    """Its log goes to a file: a pipe nobody reads would fill up after a few hundred logged
    connections and block PgBouncer's next write, and with it every client."""
    server = make_url(database_url)
    async with running_pgbouncer(database_url, tmp_path / "pgbouncer") as pgbouncer:
        connections = 0
        while pgbouncer.log.stat().st_size <= 2 * PIPE_BUFFER:
            conn = await asyncpg.connect(host=pgbouncer.host, port=pgbouncer.port, user=server.username,
                                         database=server.database, statement_cache_size=0,
                                         timeout=60)  # a blocked PgBouncer fails here, not hangs
            try:
                assert await conn.fetchval("SELECT 1") == 1
            finally:
                await conn.close()
            connections += 1
        assert "login attempt" in pgbouncer.log.read_text()
    assert connections > 100
    assert not Path(f"/proc/{pgbouncer.pid}").exists()  # stopped and reaped
    with pytest.raises(OSError):
        socket.create_connection((pgbouncer.host, pgbouncer.port), timeout=5).close()


async def test_a_pgbouncer_that_cannot_start_says_why_from_its_log(database_url, tmp_path):
    with pytest.raises(RuntimeError, match=r"(?s)pgbouncer exited \(\d+\); the tail of .*pgbouncer\.log:"
                                           r".*pool_mode"):
        async with running_pgbouncer(database_url, tmp_path / "pgbouncer", pool_mode="sideways"):
            pass


async def test_a_statement_prepared_outside_a_transaction_is_lost_behind_transaction_pooling(database_url, bouncer):
    """Why the setting exists: a client's cached statement stays on the server connection it
    was prepared on, which PgBouncer lends to another client (here: one holding a
    transaction) as soon as the first is idle."""
    url = make_plain(through(database_url, *bouncer))
    first, second = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        assert await first.fetchval("SELECT 1") == 1  # prepared, cached, and the server returned
        async with second.transaction():
            await second.fetchval("SELECT pg_backend_pid()")
            with pytest.raises(asyncpg.PostgresError, match="does not exist"):
                await first.fetchval("SELECT 1")  # the cached statement, on another server
    finally:
        await first.close()
        await second.close()


def make_plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://").split("?")[0]


async def shared_connections_workload(db: Database, clients: int = 8, rounds: int = 5) -> None:
    """The same statements over and over, from ``clients`` clients on PgBouncer's 3 server
    connections: ORM sessions, one-statement writes, Core reads, raw statements with and
    without a transaction; every write lands once and PostgreSQL sees only PgBouncer's pool."""
    async def one(i: int) -> None:
        for j in range(rounds):
            async with db.transaction() as session:
                session.add(Organization(id=uuid.uuid4(), name=f"org {i}.{j}", slug=f"org-{i}-{j}"))
            async with db.single_statement() as conn:
                await conn.execute(text("UPDATE organizations SET name = name || '!' WHERE slug = :s"),
                                   {"s": f"org-{i}-{j}"})
            async with db.reading() as conn:
                assert (await conn.execute(select(func.count()).select_from(Organization))).scalar() >= 1
            async with db.raw() as conn:
                async with conn.transaction():
                    name = await conn.fetchval("SELECT name FROM organizations WHERE slug = $1", f"org-{i}-{j}")
                assert name == f"org {i}.{j}!"
                assert await conn.fetchval("SELECT count(*) FROM organizations WHERE slug = $1",
                                           f"org-{i}-{j}") == 1

    await asyncio.gather(*(one(i) for i in range(clients)))
    async with db.raw() as conn:
        backends = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'")
    assert backends <= SERVER_POOL_SIZE  # PgBouncer's pool, not the clients' connections
    async with db.reading() as conn:
        assert (await conn.execute(select(func.count()).select_from(Organization)
                                   .where(Organization.name.like("%!")))).scalar() == clients * rounds


async def test_sessions_reads_writes_and_raw_statements_work_with_shared_server_connections(database_url, bouncer):
    db = Database(through(database_url, *bouncer), pool_size=8, max_overflow=0)
    assert db.pooler == "pgbouncer-transaction" and db.unnamed
    try:
        await shared_connections_workload(db)
    finally:
        await db.dispose()


def test_an_unknown_pooler_is_refused_naming_the_variable(tmp_path):
    with pytest.raises(SettingsError, match="DATABASE_URL: pooler=pgbouncer-session"):
        Settings.from_env({"DATABASE_URL": "postgresql://u@h/db?pooler=pgbouncer-session",
                           "PYTAKE_DATA_DIR": str(tmp_path)})
