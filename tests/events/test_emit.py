"""Events are written in the transaction of the change: they commit with it, or not at all."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from api.events import EVENTS_CTE, EVENTS_JSON_CTE, cte_json_params, cte_params, emit, emit_conn, event


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


async def test_events_as_one_json_parameter_are_written_in_order_as_built(db):
    """The conversation step's form (`EVENTS_JSON_CTE`): the same rows as `EVENTS_CTE` would
    write, in the list's order, whatever the payload holds."""
    from datetime import datetime, timezone

    from api.db.session import bind

    org, conv = uuid.uuid4(), uuid.uuid4()
    at = datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=timezone.utc)
    built = [event(org, "flow.started", {"flow": {"id": str(conv), "name": "Pedido ✓ \"aspas\""}}, conv),
             event(org, "flow.step", {"path": [{"node_id": "ask", "node_type": "question", "timestamp": at}],
                                      "ai": []}, conv),
             event(org, "contact.created", {"contact": {"id": None, "tags": ["a", "b"],
                                                        "attributes": {"x": 1.5, "n": 2 ** 70}}})]
    async with db.raw() as conn:
        await conn.execute(*bind(f"WITH {EVENTS_JSON_CTE} SELECT 1", cte_json_params(built)))
        await conn.execute(*bind(f"WITH {EVENTS_CTE} SELECT 1", cte_params(built)))
    rows = await _events(db)
    assert rows[:3] == rows[3:]  # both forms write the same rows
    assert [(r["type"], r["ordering_key"]) for r in rows[:3]] == [
        ("flow.started", conv), ("flow.step", conv), ("contact.created", None)]
    assert rows[0]["organization_id"] == org and rows[0]["version"] == 1
    assert rows[0]["payload"]["flow"]["name"] == "Pedido ✓ \"aspas\""
    assert rows[1]["payload"]["path"][0]["timestamp"] == at.isoformat()
    assert rows[2]["payload"]["contact"]["attributes"] == {"x": 1.5, "n": 2 ** 70}  # beyond orjson's integers


def test_an_unknown_type_is_refused_where_it_is_written():
    with pytest.raises(ValueError, match="catalogue"):
        event(uuid.uuid4(), "message.exploded", {})
