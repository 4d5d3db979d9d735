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


class _Logged:
    """``db`` whose raw connections log every statement they run (asyncpg's query logger)."""

    def __init__(self, db) -> None:
        self.db, self.statements = db, []

    def raw(self):
        import contextlib

        @contextlib.asynccontextmanager
        async def connection():
            async with self.db.raw() as conn:
                log = lambda record: self.statements.append(" ".join(record.query.split())[:60])  # noqa: E731
                conn.add_query_logger(log)
                try:
                    yield conn
                finally:
                    conn.remove_query_logger(log)
        return connection()


async def _events_of(query, contact_id):
    return [r["type"] for r in await query(
        "SELECT type FROM events WHERE payload->'contact'->>'id' = :c OR payload->'conversation'->>'contact_id' = :c "
        "OR payload->'message'->>'contact_id' = :c ORDER BY id", c=str(contact_id))]


async def test_a_new_customers_first_message_is_stored_by_one_statement_without_a_transaction(local, query):
    import asyncio

    from api.inbound import ingest_messages

    await local.receive("5511900000070", "oi")  # the number is cached: only the message's statements remain
    logged = _Logged(local.db)
    doc = webhooks.inbound_message("100200300", "5511900000071", webhooks.text_message("oi"), profile_name="Ana")
    result = await ingest_messages(logged, parse_webhook(doc).messages)
    await asyncio.sleep(0)  # asyncpg calls its query loggers soon after, not at once
    assert len(result.stored) == 1 and len(result.conversations) == 1
    # the fast path's look, then the one statement: no BEGIN/COMMIT, no third round trip
    assert len(logged.statements) == 2 and not any(s.upper().startswith(("BEGIN", "COMMIT")) for s in logged.statements)
    contact = (await query("SELECT id, name, total_messages FROM contacts WHERE whatsapp_id = '5511900000071'"))[0]
    assert (contact["name"], contact["total_messages"]) == ("Ana", 1)
    conversation = (await query("SELECT id, status, message_count, contact_id FROM conversations "
                                "WHERE contact_id = :c", c=contact["id"]))[0]
    assert conversation["id"] == result.conversations[0]
    assert (conversation["status"], conversation["message_count"]) == ("open", 1)
    assert await _events_of(query, contact["id"]) == ["contact.created", "conversation.created", "message.received"]


async def test_a_first_message_whose_contact_is_created_meanwhile_joins_that_contact(local, query, database_url):
    """The contact's insert serialises first messages: one that finds it inserted by a transaction
    still open waits for its commit, writes nothing of its own (its claim neither) and is stored by
    the locked path, on that contact."""
    import asyncio

    import asyncpg

    from api.inbound import ingest_messages

    await local.receive("5511900000072", "oi")  # the number is cached
    other = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        tx = other.transaction()
        await tx.start()
        contact_id = await other.fetchval(
            "INSERT INTO contacts (organization_id, whatsapp_id, name, total_messages) "
            "VALUES ($1, '5511900000073', 'Bia', 4) RETURNING id", local.seeded.organization_id)
        doc = webhooks.inbound_message("100200300", "5511900000073", webhooks.text_message("oi"), wamid="wamid.RACE")
        storing = asyncio.create_task(ingest_messages(local.db, parse_webhook(doc).messages))
        # the message's insert of the contact waits on that transaction (looked at from outside it:
        # a transaction sees pg_stat_activity as it was at its first look)
        while not await query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                              "AND wait_event_type = 'Lock'"):
            assert not storing.done(), storing.result()
            await asyncio.sleep(0.01)
        await tx.commit()
        result = await storing
    finally:
        await other.close()
    assert len(result.stored) == 1
    contacts = await query("SELECT id, total_messages FROM contacts WHERE whatsapp_id = '5511900000073'")
    assert [(c["id"], c["total_messages"]) for c in contacts] == [(contact_id, 5)]
    conversation = (await query("SELECT id, contact_id, message_count FROM conversations WHERE contact_id = :c",
                                c=contact_id))[0]
    assert conversation["id"] == result.conversations[0] and conversation["message_count"] == 1
    assert len(await query("SELECT 1 FROM message_whatsapp_ids WHERE whatsapp_message_id = 'wamid.RACE'")) == 1
    assert await _events_of(query, contact_id) == ["conversation.created", "message.received"]  # its contact existed
