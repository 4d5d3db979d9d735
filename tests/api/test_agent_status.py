"""POST /agents/me/status: an agent goes online (their departments' backlog comes to
them at once) or away; viewers cannot; every user sees only their own status."""

from __future__ import annotations

import uuid

from api.assignment import sweep


async def _department_with_backlog(db, org, agent_id, n):  # noqa: ANN001
    async with db.raw() as conn:
        dept = await conn.fetchval("INSERT INTO departments (organization_id, name) VALUES ($1, $2) RETURNING id",
                                   org, f"Support {uuid.uuid4().hex[:6]}")
        await conn.execute("INSERT INTO user_departments (user_id, department_id, max_concurrent_conversations) "
                           "VALUES ($1, $2, 2)", agent_id, dept)
        ids = []
        for i in range(n):
            contact = await conn.fetchval("INSERT INTO contacts (organization_id, whatsapp_id) VALUES ($1, $2) "
                                          "RETURNING id", org, f"5511{uuid.uuid4().int % 10**9:09d}")
            ids.append(await conn.fetchval(
                "INSERT INTO conversations (organization_id, contact_id, department_id, status, is_bot_active, "
                "entered_queue_at) VALUES ($1, $2, $3, 'waiting_in_queue', false, now() - make_interval(secs => $4)) "
                "RETURNING id", org, contact, dept, float(100 - i)))
    return ids


async def test_going_online_assigns_the_backlog_up_to_the_maximum(client, db, agent):
    waiting = await _department_with_backlog(db, agent.org_id, agent.user_id, 3)
    before = await client.get("/agents/me/status", headers=agent.headers)
    assert (await before.get_json())["status"] == "away"
    response = await client.post("/agents/me/status", json={"status": "online"}, headers=agent.headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert body["status"] == "online" and body["last_seen_at"]
    assert body["assigned_conversation_ids"] == [str(c) for c in waiting[:2]]  # oldest first, max 2
    conversation = await client.get(f"/conversations/{waiting[0]}", headers=agent.headers)
    assert (await conversation.get_json())["assigned_to"] == str(agent.user_id)


async def test_going_away_stops_new_assignments(client, db, redis, agent):
    await client.post("/agents/me/status", json={"status": "online"}, headers=agent.headers)
    response = await client.post("/agents/me/status", json={"status": "away"}, headers=agent.headers)
    assert (await response.get_json())["status"] == "away"
    waiting = await _department_with_backlog(db, agent.org_id, agent.user_id, 1)
    assert await sweep(db, redis) == []
    got = await client.get(f"/conversations/{waiting[0]}", headers=agent.headers)
    assert (await got.get_json())["status"] == "waiting_in_queue"


async def test_a_bad_status_is_a_422_naming_the_field(client, agent):
    response = await client.post("/agents/me/status", json={"status": "busy"}, headers=agent.headers)
    assert response.status_code == 422
    assert "status" in str(await response.get_json())


async def test_viewers_cannot_go_online(client, viewer):
    response = await client.post("/agents/me/status", json={"status": "online"}, headers=viewer.headers)
    assert response.status_code == 403
