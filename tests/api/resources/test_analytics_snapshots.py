"""Analytics snapshots (api/analytics/snapshots.py, GET /analytics/snapshots): figures checked
against fixtures inserted in SQL and computed by hand, in the organization's timezone."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from api.analytics import backfill_snapshots, refresh_snapshots
from pytake.cli import main as pytake_main

from ..conftest import create_organization

UTC = timezone.utc


def at(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


async def _sql(db, sql: str, **params) -> list:  # noqa: ANN001
    async with db.transaction() as s:
        result = await s.execute(text(sql), params)
        return list(result.all()) if result.returns_rows else []


async def _zone(db, org: uuid.UUID, name: str) -> None:  # noqa: ANN001
    await _sql(db, "UPDATE organizations SET settings = CAST(:s AS jsonb) WHERE id = :org",
               s=json.dumps({"timezone": name}), org=org)


async def _contact(db, org, created: str, deleted: str | None = None) -> uuid.UUID:  # noqa: ANN001
    rows = await _sql(db, "INSERT INTO contacts (organization_id, whatsapp_id, created_at, deleted_at) "
                          "VALUES (:org, :wa, :c, :d) RETURNING id",
                      org=org, wa=uuid.uuid4().hex[:15], c=at(created), d=at(deleted) if deleted else None)
    return rows[0][0]


async def _conversation(db, org, contact, created: str, status: str = "open",  # noqa: ANN001
                        resolved: str | None = None) -> uuid.UUID:
    rows = await _sql(db, "INSERT INTO conversations (organization_id, contact_id, status, created_at, resolved_at) "
                          "VALUES (:org, :contact, :status, :c, :r) RETURNING id",
                      org=org, contact=contact, status=status, c=at(created), r=at(resolved) if resolved else None)
    return rows[0][0]


async def _message(db, conv, created: str, direction: str = "inbound", type_: str = "text",  # noqa: ANN001
                   agent: uuid.UUID | None = None) -> None:
    sender = "contact" if direction == "inbound" else ("agent" if agent else "bot")
    await _sql(db, "INSERT INTO messages (conversation_id, direction, sender_type, sender_id, type, content, "
                   "status, created_at) VALUES (:conv, :d, :st, :sid, :t, '{}'::jsonb, 'sent', :c)",
               conv=conv, d=direction, st=sender, sid=agent, t=type_, c=at(created))


async def _event(db, org, type_: str, occurred: str, **payload) -> None:  # noqa: ANN001
    await _sql(db, "INSERT INTO events (organization_id, type, payload, occurred_at) "
                   "VALUES (:org, :t, CAST(:p AS jsonb), :o)",
               org=org, t=type_, p=json.dumps(payload), o=at(occurred))


async def _seed_sao_paulo(db, make_actor):  # noqa: ANN001
    """One day, 2026-03-09 in America/Sao_Paulo (UTC-3): [03-09 03:00Z, 03-10 03:00Z)."""
    org = await create_organization(db, "Snap SP")
    await _zone(db, org, "America/Sao_Paulo")
    a1 = (await make_actor(org, "agent")).user_id
    a2 = (await make_actor(org, "agent")).user_id
    viewer = await make_actor(org, "viewer")
    c1 = await _contact(db, org, "2026-03-09T12:00:00Z")
    c2 = await _contact(db, org, "2026-03-10T02:30:00Z")  # 23:30 local on 03-09
    await _contact(db, org, "2026-03-01T12:00:00Z")
    await _contact(db, org, "2026-03-01T12:00:00Z", deleted="2026-03-05T12:00:00Z")
    k1 = await _conversation(db, org, c1, "2026-03-09T13:00:00Z", "resolved", resolved="2026-03-09T15:00:00Z")
    k2 = await _conversation(db, org, c2, "2026-03-10T02:30:00Z")
    await _message(db, k1, "2026-03-09T13:00:00Z")
    await _message(db, k1, "2026-03-09T13:01:00Z", "outbound", agent=a1)  # 60 s
    await _message(db, k1, "2026-03-09T13:05:00Z", type_="image")
    await _message(db, k1, "2026-03-09T13:07:00Z", "outbound", agent=a1)  # 120 s
    await _message(db, k2, "2026-03-10T02:30:00Z")  # 23:30 local: still 03-09
    await _message(db, k2, "2026-03-10T02:40:00Z", "outbound", agent=a2)  # 600 s
    await _message(db, k2, "2026-03-10T03:30:00Z")  # 00:30 local on 03-10
    await _event(db, org, "flow.started", "2026-03-09T02:00:00Z")  # 23:00 local on 03-08
    for minute in range(4):
        await _event(db, org, "flow.started", f"2026-03-09T13:0{minute}:00Z")
    await _event(db, org, "flow.completed", "2026-03-09T13:10:00Z", outcome="ended", duration_ms=3000)
    await _event(db, org, "flow.completed", "2026-03-09T13:11:00Z", outcome="ended", duration_ms=5000)
    await _event(db, org, "flow.completed", "2026-03-09T13:12:00Z", outcome="handoff", duration_ms=1000)
    # AI calls of the runs' steps: two answered with usage, one failed (no usage), one step without AI
    await _event(db, org, "flow.step", "2026-03-09T13:02:00Z", path=[], ai=[
        {"ok": True, "prompt_tokens": 40, "completion_tokens": 10, "tokens_used": 50},
        {"ok": False, "prompt_tokens": None, "completion_tokens": None, "tokens_used": None}])
    await _event(db, org, "flow.step", "2026-03-09T13:03:00Z", path=[], ai=[
        {"ok": True, "prompt_tokens": 7, "completion_tokens": 3, "tokens_used": 10}])
    await _event(db, org, "flow.step", "2026-03-09T13:04:00Z", path=[{"node_id": "start"}], ai=[])
    await _event(db, org, "flow.step", "2026-03-10T03:30:00Z", path=[], ai=[  # 00:30 local on 03-10
        {"ok": True, "prompt_tokens": 1, "completion_tokens": 1, "tokens_used": 2}])
    return org, viewer, k2


DAY_0309 = {
    "conversations": {"total": 2, "new": 2, "resolved": 1, "open": 1, "avg_resolution_time": 7200},
    "messages": {"total": 6, "inbound": 3, "outbound": 3, "by_type": {"text": 5, "image": 1}},
    "contacts": {"total": 3, "new": 2, "active": 2},
    "chatbots": {"total_executions": 4, "completion_rate": 0.5, "avg_completion_time": 4, "handoff_rate": 0.25,
                 "ai_calls": 3, "ai_prompt_tokens": 47, "ai_completion_tokens": 13, "ai_tokens": 60},
    "agents": {"total": 2, "active": 2, "avg_response_time": 260, "conversations_per_agent": 1},
}


async def _get(client, actor, **query):  # noqa: ANN001
    response = await client.get("/analytics/snapshots", query_string=query, headers=actor.headers)
    return response.status_code, await response.get_json()


async def test_day_in_sao_paulo_counts_local_late_evening(db, client, make_actor):  # noqa: ANN001
    org, viewer, _ = await _seed_sao_paulo(db, make_actor)
    written = await backfill_snapshots(db, at("2026-03-09T12:00:00Z"), at("2026-03-10T12:00:00Z"),
                                       periods=("day", "hour"), organization_id=org)
    assert written == 2 + 24  # two local days, and the 24 hours from 09:00 local
    status, body = await _get(client, viewer, period="day", **{"from": "2026-03-09", "to": "2026-03-11"})
    assert status == 200
    days = body["items"]
    assert [d["start"] for d in days] == ["2026-03-09T03:00:00Z", "2026-03-10T03:00:00Z"] or \
        [at(d["start"]) for d in days] == [at("2026-03-09T03:00:00Z"), at("2026-03-10T03:00:00Z")]
    first = days[0]
    assert first["timezone"] == "America/Sao_Paulo"
    assert at(first["end"]) - at(first["start"]) == timedelta(hours=24)
    for section, figures in DAY_0309.items():
        assert first[section] == figures, section
    second = days[1]
    assert second["messages"] == {"total": 1, "inbound": 1, "outbound": 0, "by_type": {"text": 1}}
    assert second["conversations"]["total"] == 1 and second["conversations"]["new"] == 0
    assert second["conversations"]["open"] == 1
    assert second["chatbots"] == {"total_executions": 0, "completion_rate": None, "avg_completion_time": None,
                                  "handoff_rate": None, "ai_calls": 1, "ai_prompt_tokens": 1,
                                  "ai_completion_tokens": 1, "ai_tokens": 2}
    # the local hour 23:00-24:00 of 03-09 holds the customer's message at 23:30 and the agent's reply
    status, body = await _get(client, viewer, period="hour",
                              **{"from": "2026-03-10T02:00:00Z", "to": "2026-03-10T03:00:00Z"})
    assert [h["messages"]["total"] for h in body["items"]] == [2]
    assert body["items"][0]["agents"]["avg_response_time"] == 600


async def test_recomputing_a_period_replaces_it(db, client, make_actor):  # noqa: ANN001
    org, viewer, k2 = await _seed_sao_paulo(db, make_actor)
    since, until = at("2026-03-09T03:00:00Z"), at("2026-03-10T03:00:00Z")
    await backfill_snapshots(db, since, until, periods=("day",), organization_id=org)
    await backfill_snapshots(db, since, until, periods=("day",), organization_id=org)
    rows = await _sql(db, "SELECT messages FROM analytics_snapshots WHERE organization_id = :org", org=org)
    assert len(rows) == 1 and rows[0][0]["total"] == 6
    await _message(db, k2, "2026-03-10T02:50:00Z", type_="audio")
    await backfill_snapshots(db, since, until, periods=("day",), organization_id=org)
    status, body = await _get(client, viewer, period="day")
    assert status == 200 and len(body["items"]) == 1
    assert body["items"][0]["messages"]["total"] == 7
    assert body["items"][0]["messages"]["by_type"] == {"text": 5, "image": 1, "audio": 1}


async def test_dst_days_in_new_york(db, client, make_actor):  # noqa: ANN001
    org = await create_organization(db, "Snap NY")
    await _zone(db, org, "America/New_York")
    viewer = await make_actor(org, "viewer")
    contact = await _contact(db, org, "2026-03-01T12:00:00Z")
    conv = await _conversation(db, org, contact, "2026-03-01T12:00:00Z")
    await _message(db, conv, "2026-03-08T04:30:00Z")  # 23:30 EST on 03-07
    await _message(db, conv, "2026-03-09T03:30:00Z")  # 23:30 EDT on 03-08
    await _message(db, conv, "2026-03-09T04:30:00Z")  # 00:30 EDT on 03-09
    await backfill_snapshots(db, at("2026-03-07T12:00:00Z"), at("2026-03-09T12:00:00Z"), periods=("day",),
                             organization_id=org)
    await backfill_snapshots(db, at("2026-11-01T12:00:00Z"), at("2026-11-01T13:00:00Z"), periods=("day",),
                             organization_id=org)
    status, body = await _get(client, viewer, period="day")
    assert status == 200
    spans = [(at(d["start"]), at(d["end"]) - at(d["start"]), d["messages"]["total"]) for d in body["items"]]
    assert spans == [
        (at("2026-03-07T05:00:00Z"), timedelta(hours=24), 1),
        (at("2026-03-08T05:00:00Z"), timedelta(hours=23), 1),  # clocks go forward: a 23-hour day
        (at("2026-03-09T04:00:00Z"), timedelta(hours=24), 1),
        (at("2026-11-01T04:00:00Z"), timedelta(hours=25), 0),  # clocks go back: a 25-hour day
    ]


async def test_backfill_a_past_month_with_the_command(db, client, make_actor, database_url, capsys):  # noqa: ANN001
    org, viewer, _ = await _seed_sao_paulo(db, make_actor)
    code = await asyncio.to_thread(pytake_main, [
        "analytics", "backfill", "--from", "2026-03-01", "--to", "2026-04-01", "--period", "month",  # local
        "--period", "day", "--organization", str(org), "--database-url", database_url])
    assert code == 0
    assert capsys.readouterr().out.strip() == "32 snapshot(s) written"  # March, and its 31 days
    status, body = await _get(client, viewer, period="month", **{"from": "2026-01-01", "to": "2027-01-01"})
    assert status == 200
    [march] = body["items"]
    assert at(march["start"]) == at("2026-03-01T03:00:00Z") and at(march["end"]) == at("2026-04-01T03:00:00Z")
    # four contacts were created in March; one of them was deleted by its end
    assert march["messages"]["total"] == 7 and march["contacts"] == {"total": 3, "new": 4, "active": 2}
    assert march["chatbots"]["total_executions"] == 5 and march["chatbots"]["completion_rate"] == 0.4
    status, body = await _get(client, viewer, period="day", **{"from": "2026-02-01", "to": "2026-05-01"})
    assert len(body["items"]) == 31 and at(body["items"][-1]["start"]) == at("2026-03-31T03:00:00Z")
    assert sum(d["messages"]["total"] for d in body["items"]) == 7


async def test_refresh_writes_current_and_previous_periods(db, make_actor):  # noqa: ANN001
    org, _, _ = await _seed_sao_paulo(db, make_actor)
    other = await create_organization(db, "Snap UTC")
    written = await refresh_snapshots(db, at("2026-03-10T02:45:00Z"), periods=("hour", "day"))
    assert written >= 8  # 2 periods x (previous, current) for each organization (the fixtures' too)
    rows = await _sql(db, "SELECT period, start, messages->>'total' FROM analytics_snapshots "
                          "WHERE organization_id = :org ORDER BY period, start", org=org)
    assert [(p, s, int(n)) for p, s, n in rows] == [
        ("day", at("2026-03-08T03:00:00Z"), 0), ("day", at("2026-03-09T03:00:00Z"), 6),
        ("hour", at("2026-03-10T01:00:00Z"), 0), ("hour", at("2026-03-10T02:00:00Z"), 2)]
    rows = await _sql(db, "SELECT timezone, count(*) FROM analytics_snapshots WHERE organization_id = :org "
                          "GROUP BY 1", org=other)
    assert rows == [("UTC", 4)]


async def test_bad_query_and_other_organizations(db, client, make_actor):  # noqa: ANN001
    org, viewer, _ = await _seed_sao_paulo(db, make_actor)
    await backfill_snapshots(db, at("2026-03-09T12:00:00Z"), at("2026-03-09T13:00:00Z"), periods=("day",))
    stranger = await make_actor(await create_organization(db, "Snap Other"), "org_admin")
    status, body = await _get(client, stranger, period="day")
    assert status == 200 and all(item["timezone"] == "UTC" for item in body["items"])
    assert all(item["messages"]["total"] == 0 for item in body["items"])
    for query, field in (({"period": "year"}, "period"), ({"from": "yesterday"}, "from"),
                         ({"to": "2026-13-01"}, "to"), ({"periods": "day"}, "periods")):
        status, body = await _get(client, viewer, **query)
        assert status == 422, query
        assert field in json.dumps(body), (query, body)
    response = await client.get("/analytics/snapshots")
    assert response.status_code == 401
