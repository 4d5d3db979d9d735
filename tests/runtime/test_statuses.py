"""Status webhooks never move a message backwards, whatever order they arrive in."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from api.inbound import apply_statuses
from api.sandbox import webhooks
from api.whatsapp.payloads import parse_webhook

WA = "5511900000040"


@pytest.fixture
async def sent(local):
    """An outbound message already accepted by WhatsApp: (message id, wamid)."""
    return await local.sent_message(WA)


async def apply(db, wamid, *statuses, errors=None):
    async with db.transaction() as s:
        for status in statuses:
            doc = webhooks.status_update("100200300", wamid, status, WA, timestamp=1750000000,
                                         errors=errors if status == "failed" else None)
            await apply_statuses(s, parse_webhook(doc).statuses)


async def add_recipient(db, local, wamid, mid=None):
    """A campaign recipient with the message's wamid, already ``sent`` (linked to the message
    ``mid``, with its ``sent_at``, as the sender records it; else by wamid alone, as one whose
    message was deleted is left: ON DELETE SET NULL)."""
    async with db.transaction() as s:
        contact = (await s.execute(text("SELECT id FROM contacts"))).scalar()
        campaign = (await s.execute(text(
            "INSERT INTO campaigns (organization_id, name, message_content) VALUES (:o, 'promo', '{}') RETURNING id"),
            {"o": local.seeded.organization_id})).scalar()
        if mid is None:
            await s.execute(text("INSERT INTO campaign_recipients (campaign_id, contact_id, status, "
                                 "whatsapp_message_id) VALUES (:c, :ct, 'sent', :w)"),
                            {"c": campaign, "ct": contact, "w": wamid})
            return
        await s.execute(text("INSERT INTO campaign_recipients (campaign_id, contact_id, status, whatsapp_message_id, "
                             "message_id, message_created_at, sent_at) "
                             "SELECT :c, :ct, 'sent', :w, id, created_at, now() FROM messages WHERE id = :m"),
                        {"c": campaign, "ct": contact, "w": wamid, "m": mid})


async def state(query, mid):
    return (await query("SELECT status, sent_at, delivered_at, read_at, failed_at, error_message "
                        "FROM messages WHERE id = :id", id=mid))[0]


async def test_in_order_statuses_walk_up_to_read(sent, db, query):
    mid, wamid = sent
    await apply(db, wamid, "sent", "delivered", "read")
    row = await state(query, mid)
    assert row["status"] == "read" and row["delivered_at"] and row["read_at"]


async def test_read_before_delivered_stays_read_and_fills_delivered_at(sent, db, query):
    mid, wamid = sent
    await apply(db, wamid, "read", "delivered", "sent")
    row = await state(query, mid)
    assert row["status"] == "read"
    assert row["delivered_at"] is not None and row["read_at"] is not None


async def test_failed_after_delivered_does_not_undo_delivery(sent, db, query):
    mid, wamid = sent
    await apply(db, wamid, "delivered", "failed", errors=[{"code": 131026, "title": "Message undeliverable"}])
    assert (await state(query, mid))["status"] == "delivered"


async def test_failed_is_terminal_against_sent(sent, db, query):
    mid, wamid = sent
    await apply(db, wamid, "failed", "sent", errors=[{"code": 131047, "title": "Re-engagement message",
                                                      "message": "Re-engagement message",
                                                      "error_data": {"details": "more than 24 hours"}}])
    row = await state(query, mid)
    assert row["status"] == "failed" and row["failed_at"] is not None
    assert row["error_message"].startswith("(131047) Re-engagement message")


async def test_delivered_after_failed_proves_delivery(sent, db, query):
    mid, wamid = sent
    await apply(db, wamid, "failed", "delivered", errors=[{"code": 131000}])
    assert (await state(query, mid))["status"] == "delivered"


async def test_campaign_recipient_follows_its_message(sent, db, query, local):
    mid, wamid = sent
    await add_recipient(db, local, wamid, mid)
    await apply(db, wamid, "read", "delivered")
    recipient = (await query("SELECT status, delivered_at, read_at FROM campaign_recipients"))[0]
    assert recipient["status"] == "read" and recipient["delivered_at"] and recipient["read_at"]


async def test_a_recipient_whose_message_is_gone_is_left_as_it_was(sent, db, query, local):
    """Statuses reach a recipient through its message (migration 0024): one with the same wamid
    but no message (its message deleted) is not found by that wamid, and the status still
    applies to the message."""
    mid, wamid = sent
    await add_recipient(db, local, wamid)
    await apply(db, wamid, "delivered")
    recipient = (await query("SELECT status, delivered_at FROM campaign_recipients"))[0]
    assert recipient["status"] == "sent" and recipient["delivered_at"] is None
    assert (await state(query, mid))["status"] == "delivered"


async def test_a_status_that_changes_nothing_writes_no_row_but_counts_as_matched(sent, db, query, local):
    """Meta's ``sent`` after the sender recorded the row sent (every message gets one), and a
    redelivered ``delivered``: the message and its campaign recipient keep their row version
    (xmin: no lock, no write), and the statuses still count as matched."""
    mid, wamid = sent
    await add_recipient(db, local, wamid, mid)

    async def versions():
        return ((await query("SELECT xmin::text AS x FROM messages WHERE id = :id", id=mid))[0]["x"],
                (await query("SELECT xmin::text AS x FROM campaign_recipients"))[0]["x"])

    async def matched(status):
        doc = webhooks.status_update("100200300", wamid, status, WA, timestamp=1750000000)
        async with db.transaction() as s:
            return await apply_statuses(s, parse_webhook(doc).statuses)

    before = await versions()
    assert await matched("sent") == 1
    assert await versions() == before
    assert await matched("delivered") == 1  # a change: both rows written
    after_delivered = await versions()
    assert after_delivered[0] != before[0] and after_delivered[1] != before[1]
    assert await matched("delivered") == 1  # Meta's redelivery
    assert await versions() == after_delivered
    row = await state(query, mid)
    assert row["status"] == "delivered" and row["delivered_at"] is not None
    events = await query("SELECT payload->>'status' AS s FROM events WHERE type = 'message.status' "
                         "AND payload->>'message_id' = :m", m=str(mid))
    assert [e["s"] for e in events] == ["delivered"]


async def test_delivered_and_read_write_no_index_entry_of_the_message_or_its_recipient(sent, db, local):
    """delivered and read change only a status, a timestamp (and the message's metadata):
    HOT updates, as no index names those columns (``campaign_recipients``: migration 0021;
    ``messages``: 0023), so the statuses of every message a campaign sends add no entry to
    either table's indexes."""
    mid, wamid = sent
    await add_recipient(db, local, wamid, mid)
    async with db.transaction() as s:
        for status in ("delivered", "read"):
            doc = webhooks.status_update("100200300", wamid, status, WA, timestamp=1750000000)
            assert await apply_statuses(s, parse_webhook(doc).statuses) == 1
        # row versions updated, and HOT, this transaction: the recipients' table, the messages' partitions
        counts = (await s.execute(text(
            "SELECT t.name, sum(pg_stat_get_xact_tuples_updated(t.oid)), sum(pg_stat_get_xact_tuples_hot_updated(t.oid))"
            "  FROM (SELECT 'recipient' AS name, CAST('campaign_recipients' AS regclass) AS oid"
            "        UNION ALL SELECT 'message', inhrelid FROM pg_inherits"
            "         WHERE inhparent = CAST('messages' AS regclass)) t GROUP BY t.name"))).all()
        statuses = (await s.execute(text(
            "SELECT r.status, m.status FROM campaign_recipients r JOIN messages m ON m.id = r.message_id"))).one()
    assert tuple(statuses) == ("read", "read")
    assert sorted(tuple(c) for c in counts) == [("message", 2, 2), ("recipient", 2, 2)]


async def test_a_recipient_failed_as_delivery_unknown_is_sent_when_meta_says_sent(sent, db, query, local):
    """Its sender died mid-request, so the message and its recipient were failed as
    ``delivery_unknown``; Meta's ``sent`` shows it went out: both are sent (the recipient stayed
    failed, with "delivery unknown", while its message said sent)."""
    mid, wamid = sent
    await add_recipient(db, local, wamid, mid)
    async with db.transaction() as s:
        await s.execute(text("UPDATE messages SET status = 'failed', failed_at = now(), "
                             "error_message = 'delivery unknown: Graph API request timed out', "
                             "metadata = metadata || '{\"delivery_unknown\": true}' WHERE id = :m"), {"m": mid})
        await s.execute(text("UPDATE campaign_recipients SET status = 'failed', failed_at = now(), "
                             "error_message = 'delivery unknown: Graph API request timed out'"))
    await apply(db, wamid, "sent")
    assert (await state(query, mid))["status"] == "sent"
    recipient = (await query("SELECT status FROM campaign_recipients"))[0]
    assert recipient["status"] == "sent"
