"""An agent deactivated or deleted lets go of their conversations.

Nobody can sign in as that agent any more, and the bot stays silent on a conversation an
agent holds: left assigned, the customer would wait for an answer that never comes. Their
open conversations go back to their department's queue, where an online colleague gets them.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from api import assignment

from tests.runtime.campaign_helpers import Api, user_headers

CUSTOMER = "5511900000001"


async def _user_id(db, headers: dict[str, str]) -> uuid.UUID:
    async with db.session() as s:  # `user_headers` made the newest user
        return (await s.execute(text("SELECT id FROM users ORDER BY created_at DESC LIMIT 1"))).scalar_one()


@pytest.mark.parametrize("how", ["deactivated", "deleted"])
async def test_an_agent_who_leaves_hands_their_conversations_to_an_online_colleague(servers, redis, add, flows,
                                                                                    how):
    org = servers.seeded.organization_id
    admin = Api(servers.client, servers.pytake_url, await user_headers(servers.db, org))
    department = await admin.ok("POST", "/departments", {"name": "Suporte"}, status=201)
    leaving_headers = await user_headers(servers.db, org, role="agent")
    leaving = await _user_id(servers.db, leaving_headers)
    colleague_headers = await user_headers(servers.db, org, role="agent")
    colleague = await _user_id(servers.db, colleague_headers)
    for user in (leaving, colleague):
        await admin.ok("POST", f"/departments/{department['id']}/agents", {"user_id": str(user)}, status=201)

    await add("menu", flows["menu"])  # its handoff goes to "Suporte"
    await servers.customer_says(CUSTOMER, "oi")
    await servers.wait_for(lambda: len(servers.inbox(CUSTOMER)) >= 1)
    await servers.customer_says(CUSTOMER, "Atendente")
    conversation = await servers.wait_for(lambda: _waiting(servers.db))
    assert conversation["department_id"] == department["id"]
    await admin.ok("POST", f"/conversations/{conversation['id']}/assign", {"user_id": str(leaving)})
    await Api(servers.client, servers.pytake_url, colleague_headers).ok(
        "POST", "/agents/me/status", {"status": "online"})

    if how == "deactivated":
        await admin.ok("PATCH", f"/users/{leaving}", {"is_active": False})
    else:
        await admin.ok("DELETE", f"/users/{leaving}", status=204)

    async def with_colleague() -> bool:  # read in the database: polling the API would hit its rate limit
        await assignment.on_events(servers.db, redis)  # the `assignment` consumer (the maintenance loop's)
        async with servers.db.session() as s:
            row = (await s.execute(text("SELECT status, assigned_to FROM conversations WHERE id = :c"),
                                   {"c": conversation["id"]})).one()
        return row.assigned_to == colleague and row.status == "assigned"
    await servers.wait_for(with_colleague)
    row = await admin.ok("GET", f"/conversations/{conversation['id']}")
    assert row["department_id"] == department["id"] and row["is_bot_active"] is False


async def _waiting(db) -> dict | None:
    async with db.session() as s:
        row = (await s.execute(text("SELECT id, department_id FROM conversations "
                                    "WHERE status = 'waiting_in_queue'"))).first()
    return {"id": str(row.id), "department_id": str(row.department_id)} if row else None
