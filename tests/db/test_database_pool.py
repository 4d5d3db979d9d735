"""The test databases (tests/database_pool.py): a test gets back a database
with no rows and the template's schema, without a new clone each time."""

from __future__ import annotations

import pytest

from api.db import migrations


async def _lend(pool):
    name = await pool.acquire()
    return name, await pool.connect(name)


async def test_rows_and_leftover_connections_are_gone_and_the_same_database_comes_back(_database_pool):
    name, conn = await _lend(_database_pool)
    leftover = await _database_pool.connect(name)  # a connection the test forgot, holding a lock
    try:
        await conn.execute("INSERT INTO organizations (name, slug) VALUES ('Acme', 'acme')")
        await conn.execute("DELETE FROM alembic_version")
        await leftover.execute("BEGIN; LOCK organizations IN ACCESS SHARE MODE")
    finally:
        await conn.close()
    await _database_pool.release(name)
    assert leftover.is_closed() or not await _alive(leftover)

    again, conn = await _lend(_database_pool)
    try:
        assert again == name
        assert await conn.fetchval("SELECT count(*) FROM organizations") == 0
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == migrations.head()
    finally:
        await conn.close()
        await _database_pool.release(again)


async def _alive(conn) -> bool:
    try:
        await conn.fetchval("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - terminated by the reset
        return False


async def test_a_partition_the_test_created_is_dropped_and_the_database_reused(_database_pool):
    name, conn = await _lend(_database_pool)
    try:
        assert await conn.fetchval("SELECT pytake_create_message_partition('2031-05-01')") == "messages_2031_05"
    finally:
        await conn.close()
    await _database_pool.release(name)

    again, conn = await _lend(_database_pool)
    try:
        assert again == name
        assert await conn.fetchval("SELECT to_regclass('messages_2031_05')") is None
    finally:
        await conn.close()
        await _database_pool.release(again)


async def test_a_database_whose_schema_a_test_changed_is_not_lent_again(_database_pool):
    name, conn = await _lend(_database_pool)
    try:
        await conn.execute("DROP INDEX idx_conversations_agent_open")
    finally:
        await conn.close()
    discarded = _database_pool.discarded
    await _database_pool.release(name)
    assert _database_pool.discarded == discarded + 1

    other, conn = await _lend(_database_pool)
    try:
        assert other != name
        assert await conn.fetchval("SELECT to_regclass('idx_conversations_agent_open')") is not None
    finally:
        await conn.close()
        await _database_pool.release(other)


async def test_planner_statistics_of_an_earlier_test_are_forgotten(_database_pool):
    name, conn = await _lend(_database_pool)
    if not _database_pool.template.superuser:
        await conn.close()
        await _database_pool.release(name)
        pytest.skip("only a superuser may forget statistics")
    try:
        await conn.execute("INSERT INTO organizations (name, slug) VALUES ('Acme', 'acme')")
        await conn.execute("ANALYZE organizations")
        assert await conn.fetchval("SELECT count(*) FROM pg_stats WHERE tablename = 'organizations'") > 0
    finally:
        await conn.close()
    await _database_pool.release(name)

    again, conn = await _lend(_database_pool)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_stats WHERE tablename = 'organizations'") == 0
    finally:
        await conn.close()
        await _database_pool.release(again)


async def test_without_a_superuser_the_tables_are_truncated(_database_pool):
    from dataclasses import replace

    from tests.database_pool import reset

    name, conn = await _lend(_database_pool)
    try:
        await conn.execute("INSERT INTO organizations (name, slug) VALUES ('Acme', 'acme')")
        emptied = await reset(conn, replace(_database_pool.template, superuser=False))
        assert "organizations" in emptied
        assert await conn.fetchval("SELECT count(*) FROM organizations") == 0
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == migrations.head()
    finally:
        await conn.close()
        await _database_pool.release(name)
