"""What a webhook stores: contact, conversation, 24-hour window, the unprocessed message."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import text

from api.inbound import store_messages
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
    assert time.time() - conversations[0]["last_customer_message_at"].timestamp() < 1800  # the second's, not the first's


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


async def test_simultaneous_first_messages_of_one_customer_share_one_conversation(local, query):
    import asyncio

    results = await asyncio.gather(*(local.receive("5511900000065", f"oi {i}") for i in range(8)))
    assert sum(len(r.stored) for r in results) == 8
    conversations = await query("SELECT message_count FROM conversations")
    assert len(conversations) == 1 and conversations[0]["message_count"] == 8
    assert (await query("SELECT total_messages FROM contacts"))[0]["total_messages"] == 8


async def test_a_redelivered_message_touches_nothing_on_either_path(local, query):
    first = await local.receive("5511900000066", "oi", wamid="wamid.FIRST")  # creates the conversation
    again = await local.receive("5511900000066", "oi", wamid="wamid.FIRST")
    await local.receive("5511900000066", "tudo bem?", wamid="wamid.SECOND")  # joins it
    later = await local.receive("5511900000066", "tudo bem?", wamid="wamid.SECOND")
    assert len(first.stored) == 1 and again.duplicates == 1 and later.duplicates == 1
    assert again.stored == [] and later.stored == []
    assert len(await query("SELECT id FROM messages")) == 2
    assert (await query("SELECT message_count FROM conversations"))[0]["message_count"] == 2
    assert (await query("SELECT total_messages FROM contacts"))[0]["total_messages"] == 2


async def test_store_messages_in_a_callers_transaction_stores_like_the_webhook(local, query, db):
    for body in ("oi", "de novo"):
        doc = webhooks.inbound_message("100200300", "5511900000067", webhooks.text_message(body))
        async with db.transaction() as s:
            result = await store_messages(s, parse_webhook(doc).messages)
        assert len(result.stored) == 1
    assert (await query("SELECT message_count FROM conversations"))[0]["message_count"] == 2
