"""The outbox cursor: every committed event is handed over once per consumer, in order,
even when transactions commit in another order than their ids; one worker per consumer."""

from __future__ import annotations

import asyncio
import uuid

from api.events import emit_conn, event
from api.events.consumer import backlog, consume


async def _until(db, name, count, timeout=60.0):
    """The consumer's next ``count`` events. A consumer sees an event once every writing
    transaction older than it has ended, on the whole server (other tests' included): poll."""
    found = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(found) < count:
        async with consume(db, name) as batch:
            found += batch.events if batch else []
        if len(found) < count:
            assert asyncio.get_running_loop().time() < deadline, f"only {len(found)} of {count} events"
            await asyncio.sleep(0.01)
    return found


async def _write(db, org, *types):
    async with db.raw() as conn:
        async with conn.transaction():
            await emit_conn(conn, *(event(org, t, {"t": t}) for t in types))


async def test_each_committed_event_is_handed_over_once_and_the_cursor_moves(db):
    org = uuid.uuid4()
    await _write(db, org, "flow.started", "flow.completed")
    events = await _until(db, "test", 2)
    assert [e.type for e in events] == ["flow.started", "flow.completed"]
    assert events[0].envelope()["data"] == {"t": "flow.started"}
    await _write(db, org, "contact.created")
    assert [e.type for e in await _until(db, "test", 1)] == ["contact.created"]  # not the first two again
    assert await backlog(db, "test") == 0


async def test_a_failed_handler_gets_the_same_events_again(db):
    await _write(db, uuid.uuid4(), "flow.error")
    await _until(db, "peek", 1)  # visible to consumers now
    try:
        async with consume(db, "retry") as batch:
            assert len(batch.events) == 1
            raise RuntimeError("receiver down")
    except RuntimeError:
        pass
    assert [e.type for e in await _until(db, "retry", 1)] == ["flow.error"]


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
    events = await _until(db, "late", 2)
    assert sorted(e.payload.get("n", e.type) for e in events) == ["A", "message.sent"]


async def test_one_worker_at_a_time_per_consumer(db):
    await _write(db, uuid.uuid4(), "flow.started")
    await _until(db, "peek", 1)
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


async def test_a_batch_read_without_payloads_loads_those_of_the_events_it_keeps(db):
    """The live and statistics consumers read types only, then the payloads of what they handle."""
    org = uuid.uuid4()
    await _write(db, org, "flow.started", "message.sent", "flow.completed")
    await _until(db, "peek-light", 3)
    found = []
    deadline = asyncio.get_running_loop().time() + 60
    while len(found) < 3:
        async with consume(db, "light", payloads=False) as batch:
            assert all(e.payload is None for e in batch.events)
            kept = await batch.with_payloads([e for e in batch.events if e.type.startswith("flow.")])
            found += batch.events
            assert [e.payload for e in kept] == [{"t": e.type} for e in kept]
            assert all(e.type.startswith("flow.") for e in kept)
        assert asyncio.get_running_loop().time() < deadline
    assert [e.type for e in found] == ["flow.started", "message.sent", "flow.completed"]


async def test_loading_the_payloads_of_a_batch_reads_only_those_events(db):
    """`with_payloads` runs on every batch of the live and statistics consumers: a lookup that
    read every row of `events` grew slower with every event the table held (bench/scale.py's
    later runs). It reads the events it is asked for, however many the table holds."""
    org = uuid.uuid4()
    await _write(db, org, *["message.sent"] * 300, "flow.started", "flow.completed")
    seen = 0
    deadline = asyncio.get_running_loop().time() + 60
    while seen < 302:
        async with consume(db, "reads", payloads=False) as batch:
            seen += len(batch.events)
            kept = [e for e in batch.events if e.type.startswith("flow.")]
            if not kept:
                continue
            conn = batch.conn  # the batch's transaction: pg_stat_xact_* count what it did so far
            await conn.execute("SET LOCAL enable_seqscan = off")  # a small table's scan shows up only this way
            reads = "SELECT seq_tup_read, idx_tup_fetch FROM pg_stat_xact_user_tables WHERE relname = 'events'"
            before = await conn.fetchrow(reads)
            loaded = await batch.with_payloads(kept)
            after = await conn.fetchrow(reads)
            assert [e.payload for e in loaded] == [{"t": e.type} for e in kept]
            assert after["seq_tup_read"] == before["seq_tup_read"]
            assert after["idx_tup_fetch"] - before["idx_tup_fetch"] <= len(kept), (before, after)
        assert asyncio.get_running_loop().time() < deadline


async def _events_at(db, *txids: int) -> None:
    """Events written as if by transactions ``txids`` (long committed: below every snapshot)."""
    async with db.raw() as conn:
        for txid in txids:
            await conn.execute("INSERT INTO events (txid, organization_id, type, payload) "
                               "VALUES ($1::text::xid8, $2, $3, '{}')", str(txid), uuid.uuid4(), f"t.{txid}")


async def test_events_are_read_in_transaction_order_across_a_power_of_ten(db):
    """Transaction 9's event before transaction 10's: a consumer reads in transaction order,
    not in the order of the ids' text ("10" < "9"), so a batch crossing a power of ten
    neither skips an event nor hands one over twice."""
    await _events_at(db, 10, 9)
    seen = []
    for _ in range(2):
        async with consume(db, "digits", limit=1) as batch:
            seen += [(e.txid, e.type) for e in batch.events]
    assert seen == [(9, "t.9"), (10, "t.10")]


async def test_the_live_replays_head_is_the_newest_event_across_a_power_of_ten(db):
    """A reconnecting socket replays up to ``head``: the newest visible event (transaction
    10's, not 9's, whose text is greater), else the events after it would be missed."""
    from api.live.replay import head

    async with db.raw() as conn:
        await conn.execute("DELETE FROM events")
    await _events_at(db, 9, 10)
    assert (await head(db)).txid == 10
