"""Fixtures for delivery tests: settings that reach 127.0.0.1 with fast retries,
an organization, webhooks rows, running deliverers and local receivers."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, AsyncIterator, Callable

import pytest
from cryptography.fernet import Fernet

from api.crypto import encrypt_secret
from api.db.models import Organization, Webhook
from api.events import emit_conn, event
from api.events.webhooks import start
from api.settings import Settings
from tests.events.receiver import Receiver


@pytest.fixture
def delivery_settings(database_url: str, redis_url: str, tmp_path) -> Settings:
    # retry delays x 0.002: 60 ms, 240 ms, 1.2 s ... instead of 30 s, 2 m, 10 m
    return Settings(database_url=database_url, redis_url=redis_url, data_dir=tmp_path,
                    secret_key="s", encryption_key=Fernet.generate_key().decode("ascii"),
                    webhooks_allow_private_networks=True, webhooks_retry_scale=0.002,
                    webhooks_poll_seconds=0.05, webhooks_timeout_seconds=30.0)


@pytest.fixture
async def org(db) -> uuid.UUID:
    async with db.transaction() as session:
        row = Organization(name="Events", slug="events-" + uuid.uuid4().hex[:8])
        session.add(row)
        await session.flush()
        return row.id


@pytest.fixture
def make_webhook(db, org, delivery_settings) -> Callable[..., Any]:
    async def make(url: str, events: list[str] | None = None, secret: str | None = "s3cret-signing", **extra: Any):
        async with db.transaction() as session:
            row = Webhook(organization_id=org, name="hook", url=url, events=events or ["*"],
                          secret=encrypt_secret(delivery_settings, secret) if secret else None, **extra)
            session.add(row)
            await session.flush()
            return row.id
    return make


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


@pytest.fixture
async def deliverers(db, delivery_settings) -> AsyncIterator[Callable[[int], None]]:
    """``run(n)``: start n delivery loops (as n workers would); stopped after the test."""
    stop = asyncio.Event()
    tasks: list[asyncio.Task] = []

    def run(n: int = 1) -> None:
        tasks.extend(start(db, delivery_settings, stop) for _ in range(n))

    yield run
    stop.set()
    await asyncio.gather(*tasks)


async def write_events(db, org: uuid.UUID, *specs: tuple[str, dict, Any]) -> None:
    """Commit events (type, payload, ordering key) in one transaction."""
    async with db.raw() as conn:
        async with conn.transaction():
            await emit_conn(conn, *(event(org, t, p, k) for t, p, k in specs))


async def until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Wait for ``await check()`` to be truthy (a condition, not a fixed time)."""
    async with asyncio.timeout(timeout):
        while not (value := await check()):
            await asyncio.sleep(0.02)
        return value
