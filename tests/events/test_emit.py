"""Events are written in the transaction of the change: they commit with it, or not at all."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from api.events import EVENTS_CTE, cte_params, emit, emit_conn, event


async def _events(db) -> list[dict]:
    async with db.session() as s:
        return [dict(r) for r in (await s.execute(text(
            "SELECT organization_id, type, version, ordering_key, payload FROM events ORDER BY id"))).mappings()]


async def test_emit_commits_with_the_session_and_rolls_back_with_it(db):
    org, conv = uuid.uuid4(), uuid.uuid4()
    async with db.transaction() as s:
        await emit(s, event(org, "conversation.closed", {"conversation": {"id": str(conv)}}, conv))
    with pytest.raises(RuntimeError):
        async with db.transaction() as s:
            await emit(s, event(org, "contact.created", {"contact": {}}))
            raise RuntimeError("the change fails")
    rows = await _events(db)
    assert rows == [{"organization_id": org, "type": "conversation.closed", "version": 1,
                     "ordering_key": conv, "payload": {"conversation": {"id": str(conv)}}}]


async def test_emit_on_a_raw_connection_and_as_a_cte(db):
    org = uuid.uuid4()
    async with db.raw() as conn:
        async with conn.transaction():
            await emit_conn(conn, event(org, "flow.started", {"n": 1}), event(org, "flow.completed", {"n": 2}))
        from api.db.session import bind
        params = cte_params([event(org, "message.received", {"text": "oi ✓"})])
        await conn.execute(*bind(f"WITH {EVENTS_CTE} SELECT 1", params))
    assert [(r["type"], r["payload"]) for r in await _events(db)] == [
        ("flow.started", {"n": 1}), ("flow.completed", {"n": 2}), ("message.received", {"text": "oi ✓"})]


def test_an_unknown_type_is_refused_where_it_is_written():
    with pytest.raises(ValueError, match="catalogue"):
        event(uuid.uuid4(), "message.exploded", {})
