"""Read-only routes on a real streaming replica (DATABASE_REPLICA_URL), read-your-writes,
and falling back to the primary when the replica is gone.

A primary and a standby (`tests.replica_cluster`) are started for this module;
each test runs on its own database cloned on the primary (the standby replays
the clone). Lag is injected by pausing the standby's replay.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import uuid
from pathlib import Path
from typing import AsyncIterator, Iterator

import asyncpg
import pytest

from api.context import READER_KEY
from api.db import migrations
from tests.api.conftest import settings_for
from tests.conftest import _run
from tests.replica_cluster import StreamingPair

_names = itertools.count(1)
WAIT = 60.0  # seconds a condition may take on a loaded machine before the test fails


@pytest.fixture(scope="module")
def pair() -> Iterator[StreamingPair]:
    cluster = StreamingPair().start()
    try:
        _run(_create(cluster, "template_app"))
        migrations.upgrade(cluster.primary_url("template_app"))
        yield cluster
    finally:
        cluster.stop()


async def _create(cluster: StreamingPair, name: str, template: str | None = None) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", port=cluster.primary_port, user="postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await conn.close()


@pytest.fixture
async def database_url(pair: StreamingPair) -> AsyncIterator[str]:  # overrides the root fixture
    name = f"replica_{next(_names)}_{secrets.token_hex(3)}"
    await _create(pair, name, "template_app")
    yield pair.primary_url(name)


@pytest.fixture
def api_settings(database_url: str, redis_url: str, tmp_path: Path, pair: StreamingPair):  # noqa: ANN201
    return settings_for(database_url, redis_url, tmp_path,
                        database_replica_url=pair.standby_url(database_url.rsplit("/", 1)[1]))


async def _standby(pair: StreamingPair, database: str = "postgres") -> asyncpg.Connection:
    return await asyncpg.connect(host="127.0.0.1", port=pair.standby_port, user="postgres", database=database)


async def _until(check, what: str) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + WAIT
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still not {what} after {WAIT} s")
        await asyncio.sleep(0.05)


async def _caught_up(pair: StreamingPair) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    primary = await asyncpg.connect(host="127.0.0.1", port=pair.primary_port, user="postgres")
    try:
        target = await primary.fetchval("SELECT pg_current_wal_insert_lsn()")
    finally:
        await primary.close()
    standby = await _standby(pair)
    try:
        await _until(lambda: standby.fetchval("SELECT pg_last_wal_replay_lsn() >= $1", target), "replayed")
    finally:
        await standby.close()


async def _pause(pair: StreamingPair) -> None:
    standby = await _standby(pair)
    try:
        await standby.execute("SELECT pg_wal_replay_pause()")
        await _until(lambda: standby.fetchval("SELECT pg_get_wal_replay_pause_state() = 'paused'"), "paused")
    finally:
        await standby.close()


async def _resume(pair: StreamingPair) -> None:
    standby = await _standby(pair)
    try:
        await standby.execute("SELECT pg_wal_replay_resume()")
    finally:
        await standby.close()


async def _names_listed(client, actor) -> set[str]:  # noqa: ANN001
    response = await client.get("/contacts?per_page=100", headers=actor.headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return {item["name"] for item in (await response.get_json())["items"]}


async def test_lists_read_the_replica_and_writers_read_their_writes(
        app, client, org_admin, agent, pair: StreamingPair, database_url: str) -> None:  # noqa: ANN001
    assert app.extensions[READER_KEY] is not None
    await _caught_up(pair)
    await _pause(pair)
    try:
        created = await client.post("/contacts", headers=org_admin.headers,
                                    json={"whatsapp_id": "5511999990001", "name": "Written while lagging"})
        assert created.status_code == 201, await created.get_data(as_text=True)
        # the writer sees their own write: the replica has not replayed it, so the primary answers
        assert "Written while lagging" in await _names_listed(client, org_admin)
        # another user of the organization reads the replica, which has not replayed it yet
        assert "Written while lagging" not in await _names_listed(client, agent)
    finally:
        await _resume(pair)

    async def agent_sees_it() -> bool:
        return "Written while lagging" in await _names_listed(client, agent)

    await _until(agent_sees_it, "replayed to the agent's reads")

    # once the replica has the writer's write, the writer reads the replica again: a row
    # written behind everyone's back (no user's write mark) while replay is paused is
    # not seen by the writer either
    await _caught_up(pair)
    await _pause(pair)
    try:
        primary = await asyncpg.connect(host="127.0.0.1", port=pair.primary_port, user="postgres",
                                        database=database_url.rsplit("/", 1)[1])
        try:
            await primary.execute(
                "INSERT INTO contacts (id, organization_id, whatsapp_id, name) VALUES ($1, $2, $3, $4)",
                uuid.uuid4(), org_admin.org_id, "5511999990002", "Written by a worker")
        finally:
            await primary.close()
        assert "Written by a worker" not in await _names_listed(client, org_admin)
        assert "Written while lagging" in await _names_listed(client, org_admin)
    finally:
        await _resume(pair)
    await _until(lambda: _has(client, org_admin, "Written by a worker"), "replayed")


async def _has(client, actor, name: str) -> bool:  # noqa: ANN001
    return name in await _names_listed(client, actor)


async def test_reads_fall_back_to_the_primary_when_the_replica_is_down(
        app, client, org_admin, agent, pair: StreamingPair) -> None:  # noqa: ANN001
    created = await client.post("/contacts", headers=org_admin.headers,
                                json={"whatsapp_id": "5511999990003", "name": "Still listed"})
    assert created.status_code == 201
    await _caught_up(pair)
    # the agent's reads are on the replica (pooled connections open there)
    assert "Still listed" in await _names_listed(client, agent)
    router = app.extensions[READER_KEY]
    await asyncio.to_thread(pair.stop_standby)
    try:
        for _ in range(3):  # the first read may find a pooled replica connection, then none at all
            assert "Still listed" in await _names_listed(client, agent)
        assert router.fallbacks >= 1
        analytics = await client.get("/analytics/snapshots", headers=org_admin.headers)
        assert analytics.status_code == 200
    finally:
        await asyncio.to_thread(pair.start_standby)
    await _caught_up(pair)
    assert "Still listed" in await _names_listed(client, agent)
