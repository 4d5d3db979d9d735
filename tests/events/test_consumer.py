"""The outbox cursor: every committed event is handed over once per consumer, in order,
even when transactions commit in another order than their ids; one worker per consumer."""

from __future__ import annotations

import asyncio
import uuid

from api.events import emit_conn, event
from api.events.consumer import backlog, consume


async def _write(db, org, *types):
    async with db.raw() as conn:
        async with conn.transaction():
            await emit_conn(conn, *(event(org, t, {"t": t}) for t in types))


async def test_each_committed_event_is_handed_over_once_and_the_cursor_moves(db):
    org = uuid.uuid4()
    await _write(db, org, "flow.started", "flow.completed")
    async with consume(db, "test") as batch:
        assert [e.type for e in batch.events] == ["flow.started", "flow.completed"]
        assert batch.events[0].envelope()["data"] == {"t": "flow.started"}
    async with consume(db, "test") as batch:
        assert batch.events == []
    await _write(db, org, "contact.created")
    async with consume(db, "test") as batch:
        assert [e.type for e in batch.events] == ["contact.created"]
    assert await backlog(db, "test") == 0


async def test_a_failed_handler_gets_the_same_events_again(db):
    await _write(db, uuid.uuid4(), "flow.error")
    try:
        async with consume(db, "retry") as batch:
            assert len(batch.events) == 1
            raise RuntimeError("receiver down")
    except RuntimeError:
        pass
    async with consume(db, "retry") as batch:
        assert [e.type for e in batch.events] == ["flow.error"]


async def test_a_transaction_that_commits_late_is_not_skipped(db):
    """Writer A takes an id first and commits last; the consumer must not move past it."""
    org = uuid.uuid4()
    async with db.raw() as a:
        tx = a.transaction()
        await tx.start()
        await emit_conn(a, event(org, "message.received", {"n": "A"}))  # the lower id, still open
        await _write(db, org, "message.sent")  # a higher id, committed
        async with consume(db, "late") as batch:
            assert batch.events == []  # A is running: nothing past the horizon yet
        await tx.commit()
    async with consume(db, "late") as batch:
        assert sorted(e.payload["n"] if "n" in e.payload else e.type for e in batch.events) == [
            "A", "message.sent"]


async def test_one_worker_at_a_time_per_consumer(db):
    await _write(db, uuid.uuid4(), "flow.started")
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder():
        async with consume(db, "single") as batch:
            assert len(batch.events) == 1
            held.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await held.wait()
    async with consume(db, "single") as other:
        assert other is None
    release.set()
    await task
