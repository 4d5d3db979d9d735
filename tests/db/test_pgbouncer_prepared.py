"""PyTake's database layer behind a PgBouncer that keeps prepared statements
(``?pooler=pgbouncer-prepared``, PgBouncer 1.21+ with ``max_prepared_statements``):
the statement caches stay on, so a statement run again is bound to the statement
PgBouncer already prepared on that server connection, not parsed and planned again;
sessions, reads, writes and raw statements work with many clients on few server
connections."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from api.db.session import Database
from api.settings import Settings
from tests.pgbouncer import PREPARED, running_pgbouncer, through
from tests.db.test_pgbouncer import shared_connections_workload
from tests.pgbouncer_process import SERVER_POOL_SIZE
from tests.pgbouncer_prepared import require_prepared_pgbouncer

CLIENTS = 8
ROUNDS = 5


@pytest.fixture
async def bouncer(database_url, tmp_path):
    binary = require_prepared_pgbouncer()
    user = make_url(database_url).username or "postgres"
    async with running_pgbouncer(database_url, tmp_path / "pgbouncer", binary=binary, stats_users=user,
                                 **PREPARED) as pgbouncer:
        yield pgbouncer


def stats(bouncer, database_url: str) -> dict[str, int]:
    """PgBouncer's SHOW STATS row for the test database (its console speaks only the simple
    query protocol, which psql uses)."""
    server = make_url(database_url)
    out = subprocess.run(
        ["psql", "-h", bouncer.host, "-p", str(bouncer.port), "-U", server.username or "postgres", "-d", "pgbouncer",
         "-A", "-F", "\t", "-c", "SHOW STATS"], capture_output=True, text=True, check=True, timeout=60).stdout
    lines = out.splitlines()
    header = lines[0].split("\t")
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t")))
        if row.get("database") == server.database:
            return {k: int(v) for k, v in row.items() if v.isdigit()}
    raise AssertionError(f"no SHOW STATS row for {server.database}: {out}")


def test_the_prepared_pooler_is_accepted(tmp_path):
    settings = Settings.from_env({"DATABASE_URL": "postgresql://u@h/db?pooler=pgbouncer-prepared",
                                  "PYTAKE_DATA_DIR": str(tmp_path)})
    assert "pooler=pgbouncer-prepared" in settings.database_url


async def test_a_statement_run_again_is_not_parsed_again(database_url, bouncer):
    db = Database(through(database_url, bouncer.host, bouncer.port, "pgbouncer-prepared"),
                  pool_size=CLIENTS, max_overflow=0)
    assert db.pooler == "pgbouncer-prepared" and not db.unnamed
    try:
        async def lookups(i: int) -> None:
            for _ in range(ROUNDS):
                async with db.raw() as conn:
                    assert await conn.fetchval("SELECT count(*) FROM organizations WHERE slug = $1",
                                               f"none-{i}") == 0

        await asyncio.gather(*(lookups(i) for i in range(CLIENTS)))
        before = stats(bouncer, database_url)
        await asyncio.gather(*(lookups(i) for i in range(CLIENTS)))
        after = stats(bouncer, database_url)
    finally:
        await db.dispose()
    # the second pass: every statement bound, none parsed again by a client (unnamed, each
    # would be a parse); on the server, a statement is parsed at most once per server
    # connection over both passes (a connection the first pass did not reach may parse it
    # in the second), not once per execution
    assert after["total_bind_count"] - before["total_bind_count"] >= CLIENTS * ROUNDS
    assert after["total_client_parse_count"] == before["total_client_parse_count"]
    # (at most the statement and a codec's type lookup per connection, for 80 executions)
    assert after["total_server_parse_count"] <= 2 * SERVER_POOL_SIZE < 2 * CLIENTS * ROUNDS


async def test_sessions_reads_writes_and_raw_statements_work_with_shared_server_connections(database_url, bouncer):
    db = Database(through(database_url, bouncer.host, bouncer.port, "pgbouncer-prepared"),
                  pool_size=CLIENTS, max_overflow=0)
    try:
        await shared_connections_workload(db, CLIENTS, ROUNDS)
        async with db.reading() as conn:  # what PgBouncer's connect_query set on its server connections
            assert (await conn.execute(text("SHOW plan_cache_mode"))).scalar() == "force_generic_plan"
    finally:
        await db.dispose()
