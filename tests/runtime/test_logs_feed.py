"""The log store fed from a real conversation: signed webhooks over HTTP, a worker runs the
flow, the reply reaches the sandbox and its statuses come back; the ``logs`` consumer
(`feed_once`) turns the events into message logs (with the status timeline) and the bot
session's conversation log (flow path, counts, outcome)."""

from __future__ import annotations

from api.logstore import MessageQuery, feed_once
from api.logstore.postgres import PostgresLogStore


async def test_a_conversation_through_the_sandbox_is_logged(servers, add, flows, query, db):
    await add("cadastro", flows["name"])
    await servers.customer_says("5511922223333", "oi", profile_name="Ana")
    await servers.wait_for(lambda: servers.inbox("5511922223333"))
    await servers.customer_says("5511922223333", "Ana Souza")
    await servers.wait_for(lambda: len(servers.inbox("5511922223333")) >= 2)
    (conversation,) = await query("SELECT id, organization_id, contact_id FROM conversations")
    store = PostgresLogStore(db)
    org = conversation["organization_id"]

    async def logged():
        await feed_once(db, store)
        logs = await store.search_messages(MessageQuery(org, conversation_id=conversation["id"]))
        sessions = await store.conversation_sessions(org, conversation["id"])
        read = [r for r in logs if r["direction"] == "outbound" and r["status"] == "read"]
        done = len(logs) == 4 and len(read) == 2 and sessions and sessions[0]["bot_message_count"] == 2
        return done and (logs, sessions)

    logs, sessions = await servers.wait_for(logged)
    by_text = {r["text"]: r for r in logs}
    assert set(by_text) == {"oi", "Qual seu nome?", "Ana Souza", "Obrigado, Ana Souza!"}
    asked = by_text["Qual seu nome?"]
    assert [h["status"] for h in asked["status_history"]] == ["sent", "delivered", "read"]
    wamid = servers.inbox("5511922223333")[0]["id"]
    assert asked["whatsapp_message_id"] == wamid and asked["sender_type"] == "bot"
    assert by_text["oi"]["direction"] == "inbound" and by_text["oi"]["contact_id"] == conversation["contact_id"]
    assert [r["message_id"] for r in await store.search_messages(MessageQuery(org, text="souza"))] == \
        [by_text["Obrigado, Ana Souza!"]["message_id"], by_text["Ana Souza"]["message_id"]]

    (session,) = sessions
    assert (session["message_count"], session["bot_message_count"], session["human_message_count"]) == (4, 2, 2)
    assert [(p["node_id"], p["node_type"]) for p in session["flow_path"]] == \
        [("start", "start"), ("ask", "question"), ("thanks", "message"), ("end", "end")]
    assert session["outcome"] == "ended" and session["resolved"] is True and session["handoff_occurred"] is False
    assert session["contact_id"] == conversation["contact_id"]
