"""Fixtures for the log store: each store the contract runs against, and helpers.

PostgreSQL always (the test database, migration 0017); MongoDB only when
``MONGODB_URL`` is set (a fresh database per test, dropped after); otherwise
the MongoDB half is skipped, saying so."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, AsyncIterator, Callable

import pytest

from api.events import emit_conn, event
from api.logstore.postgres import PostgresLogStore
from api.settings import Settings


def mongodb_url() -> str | None:
    return Settings.from_env(keys=False).mongodb_url


@pytest.fixture(params=["postgresql", "mongodb"])
async def store(request, db) -> AsyncIterator[Any]:
    if request.param == "postgresql":
        s = PostgresLogStore(db)
        await s.prepare()
        yield s
        return
    url = mongodb_url()
    if not url:
        pytest.skip("MONGODB_URL not set: the MongoDB log store was not tested")
    from api.logstore.mongo import MongoLogStore

    name = "pytake_test_" + uuid.uuid4().hex[:12]
    s = MongoLogStore(url, database=name)
    await s.prepare()
    try:
        yield s
    finally:
        await s.client.drop_database(name)
        await s.close()


@pytest.fixture
def pg_store(db) -> PostgresLogStore:
    return PostgresLogStore(db)


async def write_events(db, org: uuid.UUID, *specs: tuple[str, dict, Any]) -> None:
    """Commit events (type, payload, ordering key) in one transaction."""
    async with db.raw() as conn:
        async with conn.transaction():
            await emit_conn(conn, *(event(org, t, p, k) for t, p, k in specs))


async def until(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Wait for ``await check()`` to be truthy (a condition, not a fixed time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            pytest.fail("condition not reached in time")
        await asyncio.sleep(0.05)
