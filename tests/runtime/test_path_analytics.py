"""Flow path analytics: real steps through the runtime count nodes, edges and drop-offs
in Redis; the flush moves them into PostgreSQL once; GET /flows/{id}/analytics reads them."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from api.analytics import flush_path_counts
from api.analytics.flush import PENDING_ID_KEY, PENDING_KEY
from api.analytics.path import LIVE_KEY
from api.app import create_app
from api.auth.tokens import create_access_token
from api.db.models import User
from api.sandbox import webhooks


def _edges(report):
    return {(e["source"], e["handle"], e["target"]): e["count"] for e in report["edges"]}


def _nodes(report):
    return {n["node_id"]: n["count"] for n in report["nodes"]}


def _drops(report):
    return {(d["node_id"], d["reason"]): d["count"] for d in report["drop_off"]}


async def _api(db, settings, org_id, path, done=lambda status, body: True, role="viewer"):
    """GET ``path`` as a user of ``org_id`` until ``done(status, body)`` (the workers' counts
    reach Redis within half a second); the last answer."""
    async with db.transaction() as s:
        user = User(organization_id=org_id, email=f"{uuid.uuid4().hex[:8]}@example.com", full_name="V",
                    password_hash="x", role=role)
        s.add(user)
        await s.flush()
        user_id = user.id
    token, _ = create_access_token(settings.secret_key, user_id=user_id, organization_id=org_id, role=role,
                                   ttl_seconds=600)
    app = create_app(settings)
    deadline = asyncio.get_running_loop().time() + 30
    async with app.test_app():
        while True:
            response = await app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})
            status, body = response.status_code, await response.get_json()
            if done(status, body) or asyncio.get_running_loop().time() > deadline:
                return status, body
            await asyncio.sleep(0.1)


def _counted(total):
    """``done`` for `_api`: the report's node counts add up to ``total``."""
    return lambda status, body: status != 200 or sum(n["count"] for n in body["nodes"]) >= total


def _button(reply_id: str, title: str) -> dict:
    return webhooks.button_reply(reply_id, title)


async def test_menu_runs_are_counted_per_node_edge_and_drop(local, add, flows, db, settings, redis):
    flow_id = await add("menu", flows["menu"])
    # three customers: one picks pizza (ends), one asks for a human (handoff), one never answers
    for wa_id in ("5511900000001", "5511900000002", "5511900000003"):
        await local.say(wa_id, "oi")
    await local.say("5511900000001", _button("pizza", "Pizza"))
    await local.say("5511900000002", _button("human", "Atendente"))
    status, report = await _api(db, settings, local.seeded.organization_id, f"/flows/{flow_id}/analytics",
                                _counted(9))
    assert status == 200, report
    assert report["version"] == 1
    assert _nodes(report) == {"start": 3, "menu": 3, "pizza": 1, "end": 1, "handoff": 1}
    edges = _edges(report)
    assert edges[("menu", "pizza", "pizza")] == 1
    assert edges[("menu", "human", "handoff")] == 1
    assert sum(c for (s, _, t), c in edges.items() if (s, t) == ("start", "menu")) == 3
    assert sum(c for (s, _, t), c in edges.items() if (s, t) == ("pizza", "end")) == 1
    assert sum(edges.values()) == 6
    assert report["drop_off"] == []
    # the third customer's run goes idle: nobody answered for more than a day
    async with db.transaction() as s:
        await s.execute(text("UPDATE conversations c SET updated_at = now() - interval '25 hours' "
                             "FROM contacts k WHERE k.id = c.contact_id AND k.whatsapp_id = '5511900000003'"))
    status, report = await _api(db, settings, local.seeded.organization_id, f"/flows/{flow_id}/analytics")
    assert _drops(report) == {("menu", "idle"): 1}
    # the period: buckets before this hour hold nothing
    hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    status, early = await _api(db, settings, local.seeded.organization_id,
                               f"/flows/{flow_id}/analytics?to={(hour - timedelta(hours=1)).isoformat()}"
                               .replace("+", "%2B"))
    assert status == 200 and early["nodes"] == [] and early["edges"] == []


async def test_a_timeout_is_a_drop_off_at_the_question(local, add, flows, db, settings):
    flow_id = await add("timeout", flows["timeout"])
    result = await local.say("5511900000010", "oi")
    conversation = result.conversations[0]
    async with db.transaction() as s:  # the wait's deadline has passed
        await s.execute(text("UPDATE conversations SET flow_variables = jsonb_set(flow_variables, '{state,w,3}', "
                             "to_jsonb(CAST(:past AS text))) WHERE id = :c"),
                        {"past": (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat(), "c": conversation})
        await s.execute(text("UPDATE conversations SET flow_variables = jsonb_set(flow_variables, '{wait_deadline}', "
                             "to_jsonb(CAST(:past AS text))) WHERE id = :c"),
                        {"past": (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat(), "c": conversation})
    await local.process(conversation)
    status, report = await _api(db, settings, local.seeded.organization_id, f"/flows/{flow_id}/analytics",
                                lambda status, body: status != 200 or len(body["drop_off"]) == 1)
    assert status == 200, report
    assert _drops(report) == {("ask", "timeout"): 1}
    assert _edges(report)[("ask", "timeout", "bye")] == 1
    assert _nodes(report) == {"start": 1, "ask": 1, "bye": 1}


async def test_a_failed_run_drops_off_at_its_last_node(local, add, flows, db, settings):
    def node(id_, type_, data=None):
        return {"id": id_, "type": type_, "position": {"x": 0, "y": 0}, "data": data or {}}

    # each action doubles a text: the 11th would pass the 64 KiB an expression may build
    grow = [node(f"x{i}", "action", {"action": "set_variable", "params": {
        "variable": "t", "value": "x" * 100 if i == 0 else "{{vars.t}}{{vars.t}}"}}) for i in range(12)]
    chain = ["start"] + [g["id"] for g in grow]
    bad = {"nodes": [node("start", "start"), *grow, node("end", "end")],
           "edges": [{"id": f"e{i}", "source": a, "target": b} for i, (a, b) in enumerate(zip(chain, chain[1:] + ["end"]))]}
    flow_id = await add("bad", bad)
    await local.say("5511900000020", "oi")
    status, report = await _api(db, settings, local.seeded.organization_id, f"/flows/{flow_id}/analytics",
                                _counted(12))
    assert status == 200, report
    # x0 sets 100 characters, x1..x9 double them to 51200; x10 would make 102400
    assert _nodes(report) == {"start": 1, **{f"x{i}": 1 for i in range(11)}}
    assert _drops(report) == {("x10", "error"): 1}
    assert _edges(report)[("x9", "next", "x10")] == 1


async def test_a_flush_that_stopped_after_its_commit_adds_nothing_twice(local, add, flows, db, redis):
    flow_id = await add("promo", flows["promo"])
    await local.say("5511900000030", "oi")
    deadline = asyncio.get_running_loop().time() + 30
    while not await redis.exists(LIVE_KEY):  # the worker's counts reach Redis within half a second
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    taken = await redis.eval("redis.call('RENAME', KEYS[1], KEYS[2]) redis.call('SET', KEYS[3], 'b1') return 1",
                             3, LIVE_KEY, PENDING_KEY, PENDING_ID_KEY)
    assert taken == 1
    assert await flush_path_counts(db, redis) > 0  # the pending batch b1 is added
    # a crash before the pending hash was deleted: put it back as it was, flush again
    await redis.hset(PENDING_KEY, mapping={json.dumps([str(local.seeded.organization_id), str(flow_id), "x",
                                                       "2026-01-01T00:00:00+00:00", "node", "start", "", ""]): 5})
    await redis.set(PENDING_ID_KEY, "b1")
    assert await flush_path_counts(db, redis) == 0
    assert not await redis.exists(PENDING_KEY)
    async with db.session() as s:
        total = (await s.execute(text("SELECT sum(count) FROM flow_path_counts WHERE flow_id = :f AND kind = 'node'"),
                                 {"f": flow_id})).scalar()
    assert total == 3  # start, promo, end: once each


async def test_another_organization_sees_no_flow(local, add, flows, db, settings):
    from pytake.hosting.seed import seed_organization

    flow_id = await add("menu", flows["menu"])
    other = await seed_organization(db, phone_number_id="999888777")
    status, body = await _api(db, settings, other.organization_id, f"/flows/{flow_id}/analytics")
    assert status == 404


def test_a_steps_counts_fall_in_the_hour_of_its_time_as_hours_go_by():
    """The hour's text is kept for the next step of the same hour: steps on both sides of
    an hour boundary, and an hour seen again, each get their own hour."""
    from api.analytics.path import Path, counts_of

    path = Path("flow", "hash", nodes={"ask": 1})
    hours = []
    for at in ("2026-03-01T10:59:59.999+00:00", "2026-03-01T11:00:00+00:00", "2026-03-01T11:30:00+00:00",
               "2026-03-01T10:15:00+00:00", "2026-03-01T08:20:00-03:00"):
        (key,) = counts_of("org", path, datetime.fromisoformat(at))
        hours.append(key[3])
    assert hours == ["2026-03-01T10:00:00+00:00", "2026-03-01T11:00:00+00:00", "2026-03-01T11:00:00+00:00",
                     "2026-03-01T10:00:00+00:00", "2026-03-01T11:00:00+00:00"]
