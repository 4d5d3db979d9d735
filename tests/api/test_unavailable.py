"""PostgreSQL refusing connections or Redis out of reach: 503 with ``Retry-After``, not 500.

The database really refuses: the app connects as a role of its own (read/write
on every table, not a superuser: PostgreSQL's connection limits do not apply to
superusers) whose ``CONNECTION LIMIT`` is 1 while the test holds that one
connection, so the app's connect fails with PostgreSQL's own "too many
connections" (SQLSTATE 53300, as "sorry, too many clients already" does). The
role is the test's own, so no other session on the shared server is limited,
and it is dropped at the end; the database itself is left as it was. Redis out
of reach is a URL pointing at a closed port. Each time the webhook's 503 is
followed by Meta's redelivery: the message is stored exactly once.
"""

from __future__ import annotations

import logging
import socket
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from api.app import create_app
from api.sandbox import webhooks
from api.settings import Settings
from api.workers.queue import HIGH
from pytake.hosting.seed import seed_organization
from tests.conftest import _asyncpg_kwargs as asyncpg_kwargs  # the embedded server's socket URLs too
from tests.runtime.conftest import APP_SECRET, PNID, make_settings
from tests.runtime.conftest import _forget_numbers  # noqa: F401 - autouse: no number cached across tests

SENDER = "5511988887777"


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def api_settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    """What `make_actor` signs tokens with: the secret key of every `make_settings` app."""
    return make_settings(database_url, redis_url, tmp_path)


@pytest.fixture
async def limited_role(database_url: str) -> AsyncIterator[tuple[str, str]]:
    """(role name, the test database's URL as that role): a login role that reads and
    writes every table and is not a superuser; dropped afterwards."""
    url = make_url(database_url)
    role = f"pytake_limited_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(**asyncpg_kwargs(database_url))
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN")
        await admin.execute(f"GRANT pg_read_all_data, pg_write_all_data TO {role}")
        yield role, url.set(username=role).render_as_string(hide_password=False)
    finally:
        try:
            await admin.execute("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE usename = $1",
                                role)
            await admin.execute(f"DROP ROLE IF EXISTS {role}")
        finally:
            await admin.close()


async def set_connection_limit(database_url: str, role: str, limit: int) -> None:
    admin = await asyncpg.connect(**asyncpg_kwargs(database_url))
    try:
        await admin.execute(f"ALTER ROLE {role} CONNECTION LIMIT {limit}")
    finally:
        await admin.close()


async def hold_connection(role_url: str) -> Any:
    return await asyncpg.connect(**asyncpg_kwargs(role_url))


async def started(settings: Settings) -> tuple[Any, httpx.AsyncClient]:
    app = create_app(settings)
    await app.startup()
    # ASGITransport calls the app's ASGI entry: the webhook's fast path answers its POSTs
    return app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pytake")


async def stop(app: Any, client: httpx.AsyncClient) -> None:
    await client.aclose()
    await app.shutdown()


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) >= 1
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert "unavailable" in error["message"]


def assert_warned_without_traceback(caplog: pytest.LogCaptureFixture) -> None:
    ours = [r for r in caplog.records if r.name.startswith("pytake")]
    assert any(r.levelno == logging.WARNING and "503" in r.getMessage() for r in ours), ours
    assert not [r for r in ours if r.levelno >= logging.ERROR or r.exc_info], ours


def customer_text(wamid: str) -> dict[str, Any]:
    message = {**webhooks.text_message("is my order on its way?"), "id": wamid}
    return webhooks.inbound_message(PNID, SENDER, message)


async def messages_with(db: Any, wamid: str) -> int:
    async with db.session() as s:
        return (await s.execute(text("SELECT count(*) FROM messages WHERE whatsapp_message_id = :w"),
                                {"w": wamid})).scalar_one()


async def test_too_many_connections_answers_503_and_the_redelivered_webhook_is_stored_once(
        db, redis, database_url, redis_url, tmp_path, limited_role, make_actor, caplog):  # noqa: ANN001
    role, role_url = limited_role
    seeded = await seed_organization(db, phone_number_id=PNID)
    admin = await make_actor(seeded.organization_id, "org_admin")
    settings = make_settings(role_url, redis_url, tmp_path)
    await set_connection_limit(database_url, role, 1)
    held = await hold_connection(role_url)  # the role's one connection: the app gets none
    app, client = await started(settings)
    wamid = webhooks.new_wamid()
    try:
        caplog.set_level(logging.WARNING, logger="pytake")
        listed = await client.get("/contacts", headers=admin.headers)
        assert_unavailable(listed)
        refused = await webhooks.post_signed(client, "http://pytake/webhooks/whatsapp", APP_SECRET,
                                             customer_text(wamid))
        assert_unavailable(refused)
        assert await messages_with(db, wamid) == 0
        assert_warned_without_traceback(caplog)

        await held.close()  # the limit is lifted: Meta's redelivery goes through
        held = None
        await set_connection_limit(database_url, role, -1)
        redelivered = await webhooks.post_signed(client, "http://pytake/webhooks/whatsapp", APP_SECRET,
                                                 customer_text(wamid))
        assert redelivered.status_code == 200, redelivered.text
        assert redelivered.json()["stored"] == 1
        again = await webhooks.post_signed(client, "http://pytake/webhooks/whatsapp", APP_SECRET,
                                           customer_text(wamid))
        assert again.json()["duplicates"] == 1
        assert await messages_with(db, wamid) == 1
        listed = await client.get("/contacts", headers=admin.headers)
        assert listed.status_code == 200, listed.text
    finally:
        if held is not None:
            await held.close()
        await stop(app, client)


async def test_redis_out_of_reach_answers_503_and_the_redelivery_wakes_the_conversation(
        db, redis, database_url, redis_url, tmp_path, make_actor, caplog):  # noqa: ANN001
    seeded = await seed_organization(db, phone_number_id=PNID)
    admin = await make_actor(seeded.organization_id, "org_admin")
    app, client = await started(make_settings(database_url, f"redis://127.0.0.1:{closed_port()}/0", tmp_path))
    wamid = webhooks.new_wamid()
    try:
        caplog.set_level(logging.WARNING, logger="pytake")
        # every authenticated request checks its token and rate in Redis
        assert_unavailable(await client.get("/contacts", headers=admin.headers))
        # the webhook stores the message whole, then cannot wake its conversation: 503
        assert_unavailable(await webhooks.post_signed(client, "http://pytake/webhooks/whatsapp", APP_SECRET,
                                                      customer_text(wamid)))
        assert_warned_without_traceback(caplog)
    finally:
        await stop(app, client)
    assert await redis.llen(HIGH) == 0
    app, client = await started(make_settings(database_url, redis_url, tmp_path))
    try:  # Meta's redelivery: no second copy, and the still unprocessed message's conversation is woken
        redelivered = await webhooks.post_signed(client, "http://pytake/webhooks/whatsapp", APP_SECRET,
                                                 customer_text(wamid))
        assert redelivered.status_code == 200, redelivered.text
        assert redelivered.json()["duplicates"] == 1
    finally:
        await stop(app, client)
    assert await messages_with(db, wamid) == 1
    assert await redis.llen(HIGH) == 1
