"""A flow's effects become domain events, written by the step that applies them.

Real path: a signed webhook to the API over HTTP, a Taskiq worker runs the
flow, the reply reaches the sandbox; the `events` table is read afterwards.
"""

from __future__ import annotations

import asyncio

from api import conversations

async def _events(query, conversation_id=None):
    found = await query("SELECT type, ordering_key, organization_id, payload FROM events "
                        "WHERE (type LIKE 'flow.%' AND type <> 'flow.step') OR type IN ('conversation.handoff', 'conversation.closed', "
                        "'contact.updated') ORDER BY id")
    return [e for e in found if conversation_id is None or e["ordering_key"] == conversation_id]


async def test_a_flow_run_writes_started_contact_handoff_and_completed_events(servers, add, flows, query, db):
    from sqlalchemy import text

    async with db.transaction() as s:
        dept = (await s.execute(text("INSERT INTO departments (organization_id, name) VALUES (:o, 'Vendas') "
                                     "RETURNING id"), {"o": servers.seeded.organization_id})).scalar()
    flow_id = await add("crm", flows["crm"])
    # Meta sends the customer's business-scoped user id (BSUID) with the phone
    await servers.customer_says("5511933330001", "oi", profile_name="Bia", user_id="US.13491208655302741918")
    await servers.wait_for(lambda: servers.inbox("5511933330001"))
    conversation = (await query("SELECT id, contact_id FROM conversations"))[0]
    first = await _events(query)
    # the tag is applied with the first step: contact.updated carries the changed field only
    assert [e["type"] for e in first] == ["flow.started", "contact.updated"]
    started, tagged = first
    assert started["payload"]["flow"] == {"id": str(flow_id), "name": "crm"}
    assert started["payload"]["conversation_id"] == str(conversation["id"])
    assert started["payload"]["contact_id"] == str(conversation["contact_id"])
    assert tagged["payload"]["changes"] == {"tags": ["lead"]}
    assert tagged["payload"]["contact"]["tags"] == ["lead"]
    assert tagged["payload"]["contact"]["bsuid"] == "US.13491208655302741918"
    assert all(e["ordering_key"] == conversation["id"] for e in first)
    assert all(e["organization_id"] == servers.seeded.organization_id for e in first)

    await servers.customer_says("5511933330001", "Beatriz Lima")
    await servers.wait_for(lambda: len(servers.inbox("5511933330001")) >= 2)
    later = (await _events(query))[2:]
    assert [e["type"] for e in later] == ["contact.updated", "conversation.handoff", "flow.completed"]
    renamed, handoff, completed = later
    assert handoff["payload"]["handoff"] == {"department": "Vendas", "department_id": str(dept),
                                             "reason": "quer comprar", "priority": "high"}
    assert handoff["payload"]["conversation"]["status"] == "waiting_in_queue"
    assert handoff["payload"]["conversation"]["department_id"] == str(dept)
    assert handoff["payload"]["conversation"]["is_bot_active"] is False
    assert renamed["payload"]["changes"] == {"attributes": {"city": "Recife"}, "name": "Beatriz Lima"}
    assert renamed["payload"]["contact"]["name"] == "Beatriz Lima"
    assert completed["payload"]["flow"]["id"] == str(flow_id)
    assert completed["payload"]["outcome"] == "handoff"
    assert completed["payload"]["duration_ms"] >= 0
    # the events describe what the same statement wrote
    row = (await query("SELECT status, department_id, priority FROM conversations"))[0]
    assert (row["status"], row["department_id"], row["priority"]) == ("waiting_in_queue", dept, "high")
    contact = (await query("SELECT name, tags, attributes FROM contacts"))[0]
    assert contact["name"] == "Beatriz Lima" and contact["tags"] == ["lead"]
    assert contact["attributes"]["city"] == "Recife"


async def test_a_flow_that_closes_the_conversation_says_so(servers, add, flows, query):
    await add("bye", flows["closing"])
    await servers.customer_says("5511933330002", "oi")
    await servers.wait_for(lambda: servers.inbox("5511933330002"))
    found = await servers.wait_for(lambda: _events(query))
    assert [e["type"] for e in found] == ["flow.started", "conversation.closed", "flow.completed"]
    closed = found[1]["payload"]
    assert closed["conversation"]["status"] == "closed" and closed["closed_by"] == "flow"
    assert found[2]["payload"]["outcome"] == "ended"
    assert (await query("SELECT status FROM conversations"))[0]["status"] == "closed"


async def test_a_failed_api_call_is_a_flow_error_naming_the_node(servers, add, flows, query):
    await add("pedido", flows["failing_call"])
    await servers.customer_says("5511933330003", "meu pedido")
    await servers.wait_for(lambda: servers.inbox("5511933330003"))
    assert servers.inbox("5511933330003")[0]["payload"]["text"]["body"] == "Sistema fora do ar."
    found = await _events(query)
    assert [e["type"] for e in found] == ["flow.started", "flow.error", "flow.completed"]
    error = found[1]["payload"]
    assert error["node"] == "call"
    assert error["error"]["code"] == "address_refused"  # the SSRF guard refused 127.0.0.1
    assert error["flow"]["name"] == "pedido"


async def test_a_step_that_raced_writes_no_events(local, add, flows, query):
    await add("crm", flows["crm"])
    result = await local.receive("5511933330004", "oi")
    conversation = result.conversations[0]
    # two workers that both believe they hold the conversation: one step applies, the other races
    loaded = await asyncio.gather(*[conversations.load_step(local.rt, conversation) for _ in range(2)])
    decided = await asyncio.gather(*[conversations.decide(local.rt, step) for step in loaded])
    assert all(d.started and d.contact_changes == {"tags": ["lead"]} for d in decided)
    applied = [await conversations.apply(local.rt, s, d) for s, d in zip(loaded, decided)]
    assert applied[1] is None
    assert [e["type"] for e in await _events(query)] == ["flow.started", "contact.updated"]
