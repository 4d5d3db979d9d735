"""The /logs routes on a real streaming replica (DATABASE_REPLICA_URL) with the PostgreSQL log
store: the log tables are read on the replica, a user who has just written reads the primary,
and every route answers from the primary when the replica is gone.

The primary, the standby and the per-test databases are `tests.api.test_read_replica`'s.
Logs are written on the primary as the workers' feeder and the API's request-log buffer write
them (`PostgresLogStore`, no user's write mark); lag is injected by pausing the standby's replay.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from api.context import READER_KEY
from api.logstore.postgres import PostgresLogStore
from tests.api.conftest import settings_for
from tests.api import test_read_replica as replica_tests
from tests.api.test_read_replica import _caught_up, _pause, _resume
from tests.replica_cluster import StreamingPair

# the primary + standby of the replica tests (started for this module too) and a database on it per test
pair = replica_tests.pair
database_url = replica_tests.database_url

ROUTES = ("messages", "conversation", "webhook", "api-requests")


@pytest.fixture
def api_settings(database_url: str, redis_url: str, tmp_path: Path, pair: StreamingPair):  # noqa: ANN201
    # the tests read every route several times in a row: no per-user rate limit in the way
    return settings_for(database_url, redis_url, tmp_path, ratelimit_user_per_minute=100_000,
                        database_replica_url=pair.standby_url(database_url.rsplit("/", 1)[1]))


class Scene:
    """An organization's conversation and webhook, and the log rows written for them."""

    def __init__(self, org: uuid.UUID, conversation: uuid.UUID, contact: uuid.UUID, webhook: uuid.UUID,
                 words: list[str]) -> None:
        self.org, self.conversation, self.contact, self.webhook = org, conversation, contact, webhook
        self.words = words  # the words written, in order: one bot session each

    async def write(self, db, word: str) -> None:  # noqa: ANN001
        """One row in each log table, on the primary, for ``word``: a message saying it, a bot
        session of the conversation, an attempt of the webhook answering it, a request to its path."""
        store = PostgresLogStore(db)
        now = datetime.now(timezone.utc)
        await store.write_messages([{
            "full": True, "message_id": uuid.uuid4(), "organization_id": self.org,
            "conversation_id": self.conversation, "contact_id": self.contact, "direction": "inbound",
            "sender_type": "contact", "type": "text", "content": {"text": f"palavra {word}"},
            "text": f"palavra {word}", "whatsapp_message_id": None, "whatsapp_metadata": {}, "status": "received",
            "status_history": [{"status": "received", "timestamp": now.isoformat()}], "created_at": now}])
        # a session of its own: the last one ended (closed), so this message starts a new one
        event = int(now.timestamp() * 1_000_000)
        await store.write_conversation_entries([
            {"event_id": event, "organization_id": self.org, "at": now, "kind": "message",
             "conversation_id": self.conversation, "contact_id": self.contact, "sender": "human"},
            {"event_id": event + 1, "organization_id": self.org, "at": now, "kind": "closed",
             "conversation_id": self.conversation, "contact_id": self.contact}])
        await store.write_webhook_attempts([{
            "id": uuid.uuid4(), "organization_id": self.org, "webhook_id": self.webhook, "delivery_id": uuid.uuid4(),
            "event_type": "message.received", "url": "https://example.com/hook", "method": "POST", "headers": {},
            "payload": {"word": word}, "status_code": 200, "response_headers": {}, "response_body": word,
            "response_time_ms": 12, "success": True, "error_message": None, "attempt_number": 1, "created_at": now}])
        await store.write_api_requests([{
            "id": uuid.uuid4(), "organization_id": self.org, "user_id": None, "method": "GET",
            "path": f"/probe/{word}", "query_params": {}, "headers": {}, "body": None, "status_code": 200,
            "response_time_ms": 1.5, "ip_address": "127.0.0.1", "user_agent": "test", "success": True,
            "error_message": None, "created_at": now}])

    async def seen(self, client, actor, word: str) -> set[str]:  # noqa: ANN001
        """The routes whose answer to ``actor`` has ``word``'s row (each must answer 200)."""
        found: set[str] = set()
        answers = {
            "messages": f"/logs/messages?q={word}",
            "conversation": f"/logs/conversations/{self.conversation}",
            "webhook": f"/logs/webhooks/{self.webhook}",
            "api-requests": f"/logs/api-requests?path=/probe/{word}",
        }
        for route, path in answers.items():
            response = await client.get(path, headers=actor.headers)
            assert response.status_code == 200, (path, await response.get_data(as_text=True))
            body = await response.get_json()
            if route == "messages":
                hit = any(item["text"] == f"palavra {word}" for item in body["items"])
            elif route == "conversation":
                hit = len(body["sessions"]) >= self.sessions_with(word)
            elif route == "webhook":
                hit = any(item["response_body"] == word for item in body["items"])
            else:
                hit = len(body["items"]) == 1
            if hit:
                found.add(route)
        return found

    def sessions_with(self, word: str) -> int:
        """The conversation's sessions once ``word``'s is written (each write adds one)."""
        return self.words.index(word) + 1


async def _scene(client, admin, words: list[str]) -> Scene:  # noqa: ANN001
    async def created(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await client.post(path, headers=admin.headers, json=body)
        assert response.status_code == 201, (path, await response.get_data(as_text=True))
        return await response.get_json()

    contact = await created("/contacts", {"whatsapp_id": "5511999991001", "name": "Cliente"})
    conversation = await created("/conversations", {"contact_id": contact["id"]})
    hook = await created("/webhooks", {"name": "crm", "url": "https://example.com/hook",
                                       "events": ["message.received"]})
    return Scene(admin.org_id, uuid.UUID(conversation["id"]), uuid.UUID(contact["id"]), uuid.UUID(hook["id"]), words)


async def test_log_routes_read_the_replica_and_writers_read_their_writes(
        app, client, db, org_admin, make_actor, pair: StreamingPair, database_url: str) -> None:  # noqa: ANN001
    assert app.extensions[READER_KEY] is not None
    reader = await make_actor(org_admin.org_id, "org_admin")  # an admin who writes nothing here
    scene = await _scene(client, org_admin, ["abacaxi", "bergamota"])
    await scene.write(db, "abacaxi")
    await _caught_up(pair)
    assert await scene.seen(client, reader, "abacaxi") == set(ROUTES)

    await _pause(pair)
    try:
        await scene.write(db, "bergamota")  # on the primary, as a worker writes logs: no user's mark
        # the replica has not replayed it: every route answers, from the replica, without it
        assert await scene.seen(client, reader, "bergamota") == set()
        assert await scene.seen(client, org_admin, "bergamota") == set()  # no write of theirs since it either
        # a write by org_admin now: their reads stay on the primary until the replica has it
        touched = await client.patch(f"/contacts/{scene.contact}", headers=org_admin.headers, json={"name": "Nova"})
        assert touched.status_code == 200, await touched.get_data(as_text=True)
        assert await scene.seen(client, org_admin, "bergamota") == set(ROUTES)
        assert await scene.seen(client, reader, "bergamota") == set()
    finally:
        await _resume(pair)
    await _caught_up(pair)
    assert await scene.seen(client, reader, "bergamota") == set(ROUTES)

    # once replayed, the rows are read on the replica: deleted on the primary while replay is
    # paused, they are still there for both (org_admin's write is replayed: back on the replica)
    await _pause(pair)
    try:
        primary = await asyncpg.connect(host="127.0.0.1", port=pair.primary_port, user="postgres",
                                        database=database_url.rsplit("/", 1)[1])
        try:
            for table in ("message_logs", "conversation_logs", "webhook_logs", "api_request_logs"):
                await primary.execute(f"DELETE FROM {table}")
        finally:
            await primary.close()
        assert await scene.seen(client, reader, "bergamota") == set(ROUTES)
        assert await scene.seen(client, org_admin, "bergamota") == set(ROUTES)
    finally:
        await _resume(pair)
    await _caught_up(pair)
    assert await scene.seen(client, reader, "bergamota") == set()


async def test_log_routes_fall_back_to_the_primary_when_the_replica_is_down(
        app, client, db, org_admin, make_actor, pair: StreamingPair) -> None:  # noqa: ANN001
    reader = await make_actor(org_admin.org_id, "org_admin")
    scene = await _scene(client, org_admin, ["caju", "damasco"])
    await scene.write(db, "caju")
    await _caught_up(pair)
    assert await scene.seen(client, reader, "caju") == set(ROUTES)  # pooled replica connections open
    router = app.extensions[READER_KEY]
    await asyncio.to_thread(pair.stop_standby)
    try:
        await scene.write(db, "damasco")  # only the primary can have it now
        for _ in range(3):  # the first read may meet a pooled replica connection, then none at all
            assert await scene.seen(client, reader, "caju") == set(ROUTES)
            assert await scene.seen(client, reader, "damasco") == set(ROUTES)
        assert router.fallbacks >= 1
    finally:
        await asyncio.to_thread(pair.start_standby)
    await _caught_up(pair)
    assert await scene.seen(client, reader, "damasco") == set(ROUTES)
