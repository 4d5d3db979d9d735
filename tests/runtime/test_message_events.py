"""The domain events of the message path, read from the `events` table: written by the
statement that stores (or records as sent) the message, once per message even when
Meta redelivers it concurrently, keyed by the conversation, in that conversation's order."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from api.outbox import Sender, insert_outbound, outbound_rows
from api.sandbox import webhooks
from tests.runtime.conftest import PNID

COPIES = 12


def _message(wa_id: str, body: str, wamid: str, **kw) -> dict:
    return webhooks.inbound_message(PNID, wa_id, webhooks.text_message(body), wamid=wamid,
                                    profile_name=f"Cliente {wa_id[-2:]}", **kw)


async def _events(query, *types: str) -> list:
    return await query("SELECT organization_id, type, version, ordering_key, payload FROM events "
                       "WHERE type = ANY(:types) ORDER BY id", types=list(types))


async def test_a_first_message_writes_contact_created_then_conversation_created_then_message_received(
        webhook, query, seeded):
    await webhook(_message("5511900008100", "olá", "wamid.EV1"))
    (message,) = await query("SELECT id, conversation_id, content, created_at FROM messages")
    (conversation,) = await query("SELECT id, contact_id FROM conversations")
    events = await _events(query, "contact.created", "conversation.created", "message.received")
    assert [e["type"] for e in events] == ["contact.created", "conversation.created", "message.received"]
    assert all(e["ordering_key"] == conversation["id"] and e["organization_id"] == seeded.organization_id
               and e["version"] == 1 for e in events)
    contact, opened, received = (e["payload"] for e in events)
    assert contact["contact"]["id"] == str(conversation["contact_id"])
    assert contact["contact"]["whatsapp_id"] == "5511900008100" and contact["contact"]["name"] == "Cliente 00"
    assert opened["conversation"] == {
        "id": str(conversation["id"]), "contact_id": str(conversation["contact_id"]),
        "whatsapp_number_id": str(seeded.number_id), "status": "open", "department_id": None,
        "assigned_agent_id": None, "priority": "normal", "is_bot_active": True}
    assert received["message"] == {
        "id": str(message["id"]), "conversation_id": str(conversation["id"]),
        "contact_id": str(conversation["contact_id"]), "direction": "inbound", "sender_type": "contact",
        "type": "text", "content": message["content"], "status": "delivered", "whatsapp_message_id": "wamid.EV1",
        "created_at": message["created_at"].isoformat()}


async def test_a_later_message_writes_only_its_message_received(webhook, query):
    await webhook(_message("5511900008200", "oi", "wamid.EV2.0"))
    await webhook(_message("5511900008200", "de novo", "wamid.EV2.1"))
    events = await _events(query, "contact.created", "conversation.created", "message.received")
    assert [e["type"] for e in events] == ["contact.created", "conversation.created", "message.received",
                                           "message.received"]
    assert events[-1]["payload"]["message"]["whatsapp_message_id"] == "wamid.EV2.1"
    assert events[-1]["payload"]["message"]["content"]["text"] == "de novo"
    assert len({e["ordering_key"] for e in events}) == 1


async def test_a_known_contact_opening_a_new_conversation_writes_conversation_created_only(webhook, query, db):
    await webhook(_message("5511900008300", "oi", "wamid.EV3.0"))
    async with db.transaction() as s:
        await s.execute(text("UPDATE conversations SET status = 'closed'"))
    await webhook(_message("5511900008300", "voltei", "wamid.EV3.1"))
    (new,) = await query("SELECT id FROM conversations WHERE status = 'open'")
    events = await _events(query, "contact.created", "conversation.created", "message.received")
    assert [(e["type"], e["ordering_key"] == new["id"]) for e in events[3:]] == [
        ("conversation.created", True), ("message.received", True)]
    assert [e["type"] for e in events].count("contact.created") == 1


async def test_concurrent_redeliveries_write_each_messages_events_once(webhook, query):
    """First messages racing their copies and later messages (both store paths)."""
    stamp = int(time.time()) - 30
    docs = [_message(f"55119000084{i:02d}", f"msg {k}", f"wamid.EV4.{i}.{k}", timestamp=stamp + k)
            for i in range(4) for k in range(3)]
    answers = await asyncio.gather(*(webhook(doc) for doc in docs for _ in range(COPIES)))
    assert sum(a["stored"] for a in answers) == len(docs)
    events = await _events(query, "contact.created", "conversation.created", "message.received")
    received = sorted(e["payload"]["message"]["whatsapp_message_id"] for e in events
                      if e["type"] == "message.received")
    assert received == sorted(f"wamid.EV4.{i}.{k}" for i in range(4) for k in range(3))
    assert sorted(e["payload"]["contact"]["whatsapp_id"] for e in events if e["type"] == "contact.created") \
        == [f"55119000084{i:02d}" for i in range(4)]
    conversations = await query("SELECT id FROM conversations")
    assert sorted(e["ordering_key"] for e in events if e["type"] == "conversation.created") \
        == sorted(c["id"] for c in conversations)
    stored = {r["whatsapp_message_id"]: r["conversation_id"] for r in await query(
        "SELECT whatsapp_message_id, conversation_id FROM messages")}
    for e in events:
        if e["type"] == "message.received":  # keyed by the conversation it was stored on
            assert e["ordering_key"] == stored[e["payload"]["message"]["whatsapp_message_id"]]
    # a conversation's events come in its order: created before its first message
    for c in conversations:
        mine = [e["type"] for e in events if e["ordering_key"] == c["id"]]
        assert mine[:2] == ["contact.created", "conversation.created"] and mine[2:] == ["message.received"] * 3


async def test_a_message_meta_accepted_writes_one_message_sent_with_its_wamid(local, query, db):
    result = await local.receive("5511900008500", "oi")
    conversation = result.conversations[0]
    async with db.transaction() as s:
        ids = await insert_outbound(s, outbound_rows(conversation, [
            {"type": "text", "content": {"text": "primeira"}}, {"type": "text", "content": {"text": "segunda"}}]))
    await Sender(local.rt).deliver_conversation(conversation)
    await Sender(local.rt).deliver_conversation(conversation)  # nothing left: nothing more written
    sent = await _events(query, "message.sent")
    rows = {r["id"]: r for r in await query("SELECT id, whatsapp_message_id, status FROM messages "
                                            "WHERE direction = 'outbound'")}
    assert [e["payload"]["message"]["id"] for e in sent] == [str(i) for i in ids]
    for e in sent:
        row = rows[next(i for i in ids if str(i) == e["payload"]["message"]["id"])]
        assert row["status"] == "sent" and e["ordering_key"] == conversation
        assert e["payload"]["message"]["whatsapp_message_id"] == row["whatsapp_message_id"]
        assert e["payload"]["message"]["direction"] == "outbound"
    (received,) = await query("SELECT id FROM events WHERE type = 'message.received'")
    assert all(e["id"] > received["id"] for e in await query("SELECT id FROM events WHERE type = 'message.sent'"))


async def test_a_message_that_is_never_sent_writes_no_message_sent(local, query, db):
    result = await local.receive("5511900008600", "oi")
    conversation = result.conversations[0]
    async with db.transaction() as s:  # the 24-hour window closed: a free-form message fails unsent
        await s.execute(text("UPDATE conversations SET twenty_four_hour_window_expires_at = :t"),
                        {"t": datetime.now(timezone.utc) - timedelta(minutes=1)})
        await insert_outbound(s, outbound_rows(conversation, [{"type": "text", "content": {"text": "tarde"}}]))
    await Sender(local.rt).deliver_conversation(conversation)
    assert [r["status"] for r in await query("SELECT status FROM messages WHERE direction = 'outbound'")] \
        == ["failed"]
    assert await _events(query, "message.sent") == []


async def test_a_message_meta_refuses_writes_message_status_failed_with_metas_error(local, query, db):
    result = await local.receive("5511900131026", "oi")  # the sandbox answers 131026 (undeliverable) to this number
    conversation = result.conversations[0]
    async with db.transaction() as s:
        (message_id,) = await insert_outbound(s, outbound_rows(conversation, [{"type": "text",
                                                                               "content": {"text": "olá"}}]))
    await Sender(local.rt).deliver_conversation(conversation)
    (failed,) = await _events(query, "message.status")
    payload = failed["payload"]
    assert failed["ordering_key"] == conversation
    assert (payload["message_id"], payload["status"], payload["previous_status"]) == (str(message_id), "failed",
                                                                                      "pending")
    assert payload["meta_errors"][0]["code"] == 131026 and "undeliverable" in payload["error"]
    # it never had a message.sent: the failure carries the whole message, as message.sent would have
    (row,) = await query("SELECT m.created_at, c.contact_id FROM messages m JOIN conversations c "
                         "ON c.id = m.conversation_id WHERE m.id = :id", id=message_id)
    assert payload["message"] == {
        "id": str(message_id), "conversation_id": str(conversation), "contact_id": str(row["contact_id"]),
        "direction": "outbound", "sender_type": "bot", "type": "text", "content": {"text": "olá"},
        "status": "failed", "whatsapp_message_id": None, "created_at": row["created_at"].isoformat()}
