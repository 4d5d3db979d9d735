"""What a webhook stores: contact, conversation, 24-hour window, the unprocessed message."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import text

from api.runtime.ingest import store_messages
from api.sandbox import webhooks
from api.whatsapp.payloads import parse_webhook


async def test_first_message_creates_contact_with_profile_name_and_open_conversation(local, query):
    stamp = int(time.time()) - 60
    await local.receive("5511900000060", "oi", profile_name="Maria Silva", timestamp=stamp)
    contact = (await query("SELECT whatsapp_id, whatsapp_name, name, total_messages FROM contacts"))[0]
    assert (contact["whatsapp_id"], contact["whatsapp_name"], contact["name"]) == ("5511900000060", "Maria Silva", "Maria Silva")
    conv = (await query("SELECT status, can_send_free_form, last_customer_message_at, "
                        "twenty_four_hour_window_expires_at FROM conversations"))[0]
    assert conv["status"] == "open" and conv["can_send_free_form"] is True
    assert conv["last_customer_message_at"].timestamp() == stamp
    assert conv["twenty_four_hour_window_expires_at"] - conv["last_customer_message_at"] == timedelta(hours=24)


async def test_message_is_stored_unprocessed_with_its_whatsapp_id(local, query):
    await local.receive("5511900000061", "quero pizza", wamid="wamid.TEST123")
    message = (await query("SELECT direction, type, content, metadata, whatsapp_message_id FROM messages"))[0]
    assert (message["direction"], message["type"], message["whatsapp_message_id"]) == ("inbound", "text", "wamid.TEST123")
    assert message["content"]["text"] == "quero pizza"
    assert message["metadata"]["processed"] is False


async def test_later_messages_join_the_open_conversation_and_move_the_window(local, query):
    await local.receive("5511900000062", "oi", timestamp=int(time.time()) - 3600)
    await local.receive("5511900000062", "tudo bem?")
    conversations = await query("SELECT message_count, last_customer_message_at, twenty_four_hour_window_expires_at "
                                "FROM conversations")
    assert len(conversations) == 1 and conversations[0]["message_count"] == 2
    assert time.time() - conversations[0]["last_customer_message_at"].timestamp() < 60


async def test_a_closed_conversation_is_not_reopened(local, query, db):
    await local.receive("5511900000063", "oi")
    async with db.transaction() as s:
        await s.execute(text("UPDATE conversations SET status = 'closed'"))
    await local.receive("5511900000063", "voltei")
    assert len(await query("SELECT id FROM conversations")) == 2


async def test_messages_to_an_unknown_number_are_ignored(local, query, db):
    doc = webhooks.inbound_message("999999", "5511900000064", webhooks.text_message("oi"))
    async with db.transaction() as s:
        result = await store_messages(s, parse_webhook(doc).messages)
    assert result.ignored == 1 and result.stored == []
    assert await query("SELECT id FROM messages") == []
