"""A log store that is down loses nothing and blocks nothing: the ``logs`` consumer's cursor
stays (the backlog shows the events waiting), buffered records stay in the buffer, and
once the store answers again everything is written."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from api.db.models import Organization
from api.db.session import Database
from api.events import message_payload
from api.logstore import (LogBuffer, MessageQuery, RequestQuery, StoreUnavailable, event_backlog, feed_once,
                          open_store, raw_request, sanitized)
from api.logstore.postgres import PostgresLogStore
from api.settings import Settings
from tests.logstore.conftest import until, write_events

UNREACHABLE_PG = "postgresql://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1


async def _org(db) -> uuid.UUID:
    async with db.transaction() as session:
        row = Organization(name="Logs", slug="logs-" + uuid.uuid4().hex[:8])
        session.add(row)
        await session.flush()
        return row.id


def _received(conv: uuid.UUID, text: str) -> dict:
    return message_payload({"id": uuid.uuid4(), "conversation_id": conv, "contact_id": uuid.uuid4(),
                            "direction": "inbound", "sender_type": "contact", "type": "text",
                            "content": {"text": text}, "status": "delivered",
                            "created_at": datetime.now(timezone.utc)})


async def _fails(db, store) -> bool:
    """Once the events are visible to consumers (below every running transaction), the
    round fails on the store; before that it has nothing to do."""
    try:
        assert not await feed_once(db, store)
    except StoreUnavailable:
        return True
    return False


async def _drain(db, store) -> int:
    total = 0
    while n := await feed_once(db, store):
        total += n
    return total


async def test_a_store_that_is_down_keeps_the_events_waiting_until_it_answers(db):
    org, conv = await _org(db), uuid.uuid4()
    await write_events(db, org, *(("message.received", _received(conv, f"mensagem {i}"), conv) for i in range(5)))
    down = Database(UNREACHABLE_PG)
    try:
        await until(lambda: _fails(db, PostgresLogStore(down)))
        assert await event_backlog(db) == 5
        with pytest.raises(StoreUnavailable):  # a worker retrying: each round fails, nothing moves
            await feed_once(db, PostgresLogStore(down))
        assert await event_backlog(db) == 5
    finally:
        await down.dispose()

    store = PostgresLogStore(db)
    assert await _drain(db, store) == 5
    assert await event_backlog(db) == 0
    logs = await store.search_messages(MessageQuery(org, conversation_id=conv))
    assert sorted(r["text"] for r in logs) == [f"mensagem {i}" for i in range(5)]


async def test_an_unreachable_mongodb_keeps_the_events_waiting_too(db, tmp_path):
    org, conv = await _org(db), uuid.uuid4()
    await write_events(db, org, ("message.received", _received(conv, "olá"), conv))
    settings = Settings(database_url="postgresql://x", redis_url="redis://x", data_dir=tmp_path,
                        mongodb_url="mongodb://127.0.0.1:1/pytake?serverSelectionTimeoutMS=300&connectTimeoutMS=300")
    mongo = open_store(settings, db)
    assert mongo.kind == "mongodb"
    try:
        await until(lambda: _fails(db, mongo))
    finally:
        await mongo.close()
    assert await event_backlog(db) == 1
    assert await _drain(db, PostgresLogStore(db)) == 1


async def test_buffered_records_wait_in_the_buffer_while_the_store_is_down(db):
    org = await _org(db)
    buffer = LogBuffer("api_request_logs", max_items=3)
    now = datetime.now(timezone.utc)
    for i in range(4):  # one more than fits: the oldest is dropped and counted
        buffer.add({"id": uuid.uuid4(), "organization_id": org, "user_id": None, "method": "GET",
                    "path": f"/contacts/{i}", "query_params": {}, "headers": {}, "body": None, "status_code": 200,
                    "response_time_ms": 1.0, "ip_address": None, "user_agent": None, "success": True,
                    "error_message": None, "created_at": now})
    down = Database(UNREACHABLE_PG)
    try:
        with pytest.raises(OSError):
            await buffer.flush(PostgresLogStore(down).write_api_requests)
    finally:
        await down.dispose()
    assert buffer.stats()["buffered"] == 3 and buffer.dropped == 1 and buffer.last_error

    store = PostgresLogStore(db)
    assert await buffer.flush(store.write_api_requests) == 3
    assert len(buffer) == 0 and buffer.last_error is None
    logs = await store.api_request_logs(RequestQuery(org))
    assert sorted(r["path"] for r in logs) == ["/contacts/1", "/contacts/2", "/contacts/3"]


async def test_a_request_log_batch_written_again_is_stored_once(db):
    """The flush sanitizes a batch again when it retries it (an INSERT whose answer was lost):
    each record keeps the id it drew the first time, so no request is logged twice."""
    org = await _org(db)
    store = PostgresLogStore(db)
    raws = [raw_request(method="GET", path=f"/contacts/{i}", query={"page": "1"}, headers={"Accept": "*/*"},
                        body=None, body_size=0, status_code=200, elapsed_ms=1.0, organization_id=org,
                        user_id=None, ip_address="127.0.0.1", user_agent="pytest", error_message=None,
                        at=datetime.now(timezone.utc)) for i in range(3)]

    async def write(batch: list[dict]) -> None:
        await store.write_api_requests([sanitized(r) for r in batch])

    await write(raws)
    await write(raws)  # the same batch, retried
    logs = await store.api_request_logs(RequestQuery(org))
    assert sorted(r["path"] for r in logs) == ["/contacts/0", "/contacts/1", "/contacts/2"]
    assert all(r["query_params"] == {"page": "1"} and r["headers"] == {"accept": "*/*"} for r in logs)
