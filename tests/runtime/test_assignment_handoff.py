"""A flow's handoff reaches an agent: the worker's maintenance tick assigns the queued
conversation to the online agent of the department, and the customer receives the
flow's handoff message, then the agent's greeting, through the sandbox."""

from __future__ import annotations

from api.outbox.sender import Sender
from api.sandbox import webhooks
from api.workers import maintenance

from .conftest import MENU_FLOW

WA_ID = "5511900008001"


async def test_a_handed_off_customer_gets_an_online_agent_and_their_greeting(local, add, db, query, seeded):
    await add("menu", MENU_FLOW)
    async with db.raw() as conn:
        dept = await conn.fetchval("INSERT INTO departments (organization_id, name) VALUES ($1, 'Suporte') "
                                   "RETURNING id", seeded.organization_id)
        agent = await conn.fetchval(
            "INSERT INTO users (organization_id, email, password_hash, full_name, role, is_online) "
            "VALUES ($1, 'ana@example.com', 'x', 'Ana', 'agent', true) RETURNING id", seeded.organization_id)
        await conn.execute("INSERT INTO user_departments (user_id, department_id) VALUES ($1, $2)", agent, dept)
        await conn.execute("INSERT INTO agent_greetings (user_id, message_template) VALUES ($1, $2)",
                           agent, "Olá {{contact_name}}, aqui é {{agent_name}} do {{agent_department}}.")
    await local.say(WA_ID, "oi", profile_name="Bruna")
    result = await local.say(WA_ID, webhooks.button_reply("human", "Atendente"), profile_name="Bruna")
    [conversation] = result.conversations
    [row] = await query("SELECT status, department_id FROM conversations WHERE id = :c", c=conversation)
    assert (row["status"], row["department_id"]) == ("waiting_in_queue", dept)

    await maintenance.tick(local.rt)

    [row] = await query("SELECT status, assigned_to, is_bot_active FROM conversations WHERE id = :c", c=conversation)
    assert (row["status"], row["assigned_to"], row["is_bot_active"]) == ("assigned", agent, False)
    await Sender(local.rt).deliver_conversation(conversation)
    texts = [m["payload"].get("text", {}).get("body") for m in local.sandbox.state.inboxes[WA_ID]]
    assert texts[-2:] == ["Um atendente vai falar com você.", "Olá Bruna, aqui é Ana do Suporte."]


async def test_a_handoff_to_a_full_queue_keeps_the_bot_and_tells_the_customer(local, add, db, query, seeded):
    await add("menu", MENU_FLOW)
    async with db.raw() as conn:
        dept = await conn.fetchval("INSERT INTO departments (organization_id, name, max_queue_size) "
                                   "VALUES ($1, 'Suporte', 1) RETURNING id", seeded.organization_id)
    # the first customer takes the queue's only place
    await local.say("5511900008101", "oi")
    first = await local.say("5511900008101", webhooks.button_reply("human", "Atendente"))
    [row] = await query("SELECT status FROM conversations WHERE id = :c", c=first.conversations[0])
    assert row["status"] == "waiting_in_queue"

    await local.say(WA_ID, "oi")
    second = await local.say(WA_ID, webhooks.button_reply("human", "Atendente"))
    [conversation] = second.conversations
    [row] = await query("SELECT status, department_id, is_bot_active FROM conversations WHERE id = :c",
                        c=conversation)
    assert (row["status"], row["department_id"], row["is_bot_active"]) == ("open", None, True)
    [error] = await query("SELECT payload FROM events WHERE type = 'flow.error' AND ordering_key = :c",
                          c=conversation)
    assert error["payload"]["error"]["code"] == "queue_full"
    assert "queue is full" in error["payload"]["error"]["message"]
    await Sender(local.rt).deliver_conversation(conversation)
    texts = [m["payload"].get("text", {}).get("body") for m in local.sandbox.state.inboxes[WA_ID]]
    assert "Um atendente vai falar com você." not in texts  # the handoff's promise is not made
    assert texts[-1].startswith("Nossa fila de atendimento está cheia")


async def test_a_conversation_returned_to_the_bot_is_answered_by_its_flow_again(local, add, db, query, seeded):
    await add("menu", MENU_FLOW)
    await local.say(WA_ID, "oi", profile_name="Bruna")
    result = await local.say(WA_ID, webhooks.button_reply("human", "Atendente"), profile_name="Bruna")
    [conversation] = result.conversations

    async def bot_messages() -> int:
        [row] = await query("SELECT count(*) AS n FROM messages WHERE conversation_id = :c AND direction = 'outbound' "
                            "AND sender_type = 'bot'", c=conversation)
        return row["n"]

    handed_off = await bot_messages()
    await local.say(WA_ID, "alô?", profile_name="Bruna")  # an agent's now: the bot stays silent
    assert await bot_messages() == handed_off
    # what POST /conversations/{id}/return-to-bot writes (tests/api/resources/test_conversations.py)
    async with db.raw() as conn:
        await conn.execute("UPDATE conversations SET status = 'open', is_bot_active = true, assigned_to = NULL "
                           "WHERE id = $1", conversation)
    await local.say(WA_ID, "oi de novo", profile_name="Bruna")
    assert await bot_messages() > handed_off, "the chatbot answers again"
