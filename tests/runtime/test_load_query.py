"""The conversation step's one read (`api.conversations.load_row`): what it answers, and
that it looks for the latest outbound message only where a campaign may have sent it."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from api.conversations import load_row
from api.outbox import insert_outbound, outbound_rows

# scans this transaction made so far of the messages partitions: sequential (a table's
# count) and through their indexes (each index's count)
SCANS = ("SELECT coalesce(sum(pg_stat_get_xact_numscans(r.oid)), 0) FROM pg_class r "
         "WHERE r.relname LIKE 'messages\\_%' AND r.relkind IN ('r', 'i')")


async def campaign_message(db, local, conversation_id) -> None:
    """A campaign's message as the conversation's latest outbound one, with its recipient row
    (as the runner writes them)."""
    async with db.transaction() as s:
        contact = (await s.execute(text("SELECT contact_id FROM conversations WHERE id = :c"),
                                   {"c": conversation_id})).scalar()
        campaign = (await s.execute(text(
            "INSERT INTO campaigns (organization_id, name, message_content) VALUES (:o, 'promo', '{}') RETURNING id"),
            {"o": local.seeded.organization_id})).scalar()
        mid, created = (await s.execute(text(
            "INSERT INTO messages (conversation_id, direction, sender_type, type, content, status, metadata) "
            "VALUES (:c, 'outbound', 'bot', 'template', '{}', 'sent', jsonb_build_object('campaign_id', "
            "CAST(:campaign AS text))) RETURNING id, created_at"),
            {"c": conversation_id, "campaign": str(campaign)})).one()
        await s.execute(text("INSERT INTO campaign_recipients (campaign_id, contact_id, status, message_id, "
                             "message_created_at) VALUES (:campaign, :ct, 'sent', :m, :at)"),
                        {"campaign": campaign, "ct": contact, "m": mid, "at": created})


async def read(db, conversation_id):
    """``load_row`` on a raw pool connection (its generic plan), and the scans it made of the
    messages partitions."""
    async with db.raw() as conn:
        assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        async with conn.transaction():
            before = await conn.fetchval(SCANS)
            row = await load_row(conn, conversation_id)
            return row, await conn.fetchval(SCANS) - before


async def test_the_latest_outbound_message_is_looked_for_only_for_a_contact_a_campaign_sent_to(local, db):
    plain = (await local.receive("5511900000060", "oi")).conversations[0]
    reached = (await local.receive("5511900000061", "oi")).conversations[0]
    await campaign_message(db, local, reached)
    async with db.raw() as conn:
        await conn.execute("ANALYZE messages")

    row, plain_scans = await read(db, plain)
    assert row["lo_campaign"] is False and row["m_id"] is not None  # its unprocessed "oi" is read
    row, reached_scans = await read(db, reached)
    assert row["lo_campaign"] is True and row["m_id"] is not None
    assert plain_scans < reached_scans, "the latest outbound message was looked for with no campaign's recipient"


async def test_a_later_reply_that_is_no_campaigns_ends_the_campaign_answer(local, db):
    reached = (await local.receive("5511900000062", "oi")).conversations[0]
    await campaign_message(db, local, reached)
    assert (await read(db, reached))[0]["lo_campaign"] is True
    async with db.transaction() as s:
        await insert_outbound(s, outbound_rows(reached, [{"type": "text", "content": {"text": "olá"}}]))
    assert (await read(db, reached))[0]["lo_campaign"] is False


async def test_no_such_conversation_reads_none(db):
    assert (await read(db, uuid.uuid4()))[0] is None
