"""The status statement finds each message, and its campaign recipient, by its own key, whatever the planner knows.

A month's partition of ``messages`` starts without statistics and keeps none until its
first ANALYZE (never, on a server with autovacuum off); the statement is planned once per
connection (``plan_cache_mode = force_generic_plan``). Planned so, it found a status's
message by ANDing the wamid's index entry with idx_messages_status (dropped since, migration
0023), whose predicate (``direction = 'outbound'``) the lookup repeated: every outbound row of the partition read
per status, a status costing more the more had been sent (bench/scale.py's later runs)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import text

from api.db.partitions import create_message_partition
from api.inbound.statuses import apply_on_connection
from api.whatsapp.payloads import StatusUpdate
from tests.runtime.conftest import PNID

SENT = 20_000
MONTH = date(2031, 1, 1)  # a month no test writes: its partition is new, as each month's is at first

# rows of messages' partitions (by sequential scan) and entries of their indexes this backend
# read and has not reported yet (PostgreSQL reports at most once a second: take a difference
# within one transaction), per partition or index, the month left out of the name
_READS = """
SELECT regexp_replace(c.relname, '^messages_(\\d{4}_\\d{2}|default)', 'messages') AS r,
       sum(pg_stat_get_xact_tuples_returned(c.oid)) AS n
  FROM pg_inherits p JOIN pg_class c ON c.oid = p.inhrelid
         OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = p.inhrelid)
 WHERE p.inhparent = 'messages'::regclass GROUP BY 1"""


async def _reads(conn) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in await conn.fetch(_READS)}


def _status(wamid: str) -> StatusUpdate:
    return StatusUpdate(phone_number_id=PNID, wamid=wamid, status="delivered",
                        timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc), recipient_id=None)


async def _conversation(s, seeded):
    """A conversation of a new contact on the seeded number: its id."""
    contact = (await s.execute(text(
        "INSERT INTO contacts (organization_id, whatsapp_id) VALUES (:o, '5511900000099') RETURNING id"),
        {"o": seeded.organization_id})).scalar()
    return (await s.execute(text(
        "INSERT INTO conversations (organization_id, contact_id, whatsapp_number_id) VALUES (:o, :c, :n) RETURNING id"),
        {"o": seeded.organization_id, "c": contact, "n": seeded.number_id})).scalar()


async def test_a_status_reads_its_own_message_on_a_partition_without_statistics(db, seeded):
    async with db.transaction() as s:
        partition = await create_message_partition(s, MONTH)
        assert partition == "messages_2031_01"
        conversation = await _conversation(s, seeded)
        await s.execute(text(
            "INSERT INTO messages (conversation_id, direction, sender_type, type, content, status, "
            "whatsapp_message_id, sent_at, created_at) SELECT :c, 'outbound', 'bot', 'text', '{}', 'sent', "
            "'wamid.plan' || g, now(), CAST(:at AS timestamptz) FROM generate_series(1, :n) g"),
            {"c": conversation, "n": SENT, "at": datetime(2031, 1, 15, tzinfo=timezone.utc)})
    async with db.raw() as conn:
        assert await conn.fetchval("SELECT reltuples < 0 FROM pg_class WHERE relname = $1", partition)
        wamids = [f"wamid.plan{g}" for g in range(1, SENT + 1, SENT // 10)]
        async with conn.transaction():
            before = await _reads(conn)
            assert len(await apply_on_connection(conn, [(_status(w), None) for w in wamids])) == len(wamids)
            after = await _reads(conn)
    read = {i: n - before.get(i, 0) for i, n in after.items() if n > before.get(i, 0)}
    assert sum(read.values()) <= 10 * len(wamids), read  # a few rows or entries per status, not the partition


RECIPIENTS = 5_000
# rows of campaign_recipients read by sequential scan in this transaction
_RECIPIENT_ROWS_SCANNED = "SELECT pg_stat_get_xact_tuples_returned('campaign_recipients'::regclass)"


async def test_a_status_reaches_its_recipient_by_index(db, seeded):
    """A status finds its campaign recipient through the recipient's message (migration 0024):
    a probe of the message's recipient, not a hash join that reads every recipient of every
    campaign per batch (so planned, a 20,000-recipient campaign read 1,838 recipients per
    message: bench/campaign.py)."""
    async with db.transaction() as s:
        conversation = await _conversation(s, seeded)
    async with db.raw() as conn:
        async with db.transaction() as s:
            contacts = (await s.execute(text(
                "INSERT INTO contacts (organization_id, whatsapp_id) SELECT :o, '55118' || lpad(g::text, 8, '0') "
                "FROM generate_series(1, :n) g RETURNING id"), {"o": seeded.organization_id, "n": RECIPIENTS})).scalars()
            campaign = (await s.execute(text(
                "INSERT INTO campaigns (organization_id, name, message_content) VALUES (:o, 'promo', '{}') "
                "RETURNING id"), {"o": seeded.organization_id})).scalar()
            await s.execute(text(
                "WITH m AS (INSERT INTO messages (conversation_id, direction, sender_type, type, content, status, "
                "  whatsapp_message_id, sent_at) SELECT :c, 'outbound', 'bot', 'template', '{}', 'sent', "
                "  'wamid.r' || g, now() FROM generate_series(1, :n) g RETURNING id, created_at, whatsapp_message_id), "
                "ct AS (SELECT id, row_number() OVER () AS k FROM unnest(CAST(:contacts AS uuid[])) AS id), "
                "mm AS (SELECT *, row_number() OVER () AS k FROM m) "
                "INSERT INTO campaign_recipients (campaign_id, contact_id, status, message_id, message_created_at, "
                "  whatsapp_message_id, sent_at) "
                "SELECT :camp, ct.id, 'sent', mm.id, mm.created_at, mm.whatsapp_message_id, now() "
                "  FROM mm JOIN ct USING (k)"),
                {"c": conversation, "n": RECIPIENTS, "contacts": list(contacts), "camp": campaign})
        # as a campaign's runner does while it sends (api/campaigns/statistics.py): the
        # statement is planned again, now that the tables are full
        await conn.execute("ANALYZE messages")
        wamids = [f"wamid.r{g}" for g in range(1, RECIPIENTS + 1, RECIPIENTS // 10)]
        async with conn.transaction():
            before = await conn.fetchval(_RECIPIENT_ROWS_SCANNED)
            assert len(await apply_on_connection(conn, [(_status(w), None) for w in wamids])) == len(wamids)
            scanned = await conn.fetchval(_RECIPIENT_ROWS_SCANNED) - before
    assert scanned < RECIPIENTS // 10, scanned
    async with db.transaction() as s:
        delivered = (await s.execute(text(
            "SELECT count(*) FROM campaign_recipients WHERE status = 'delivered' AND delivered_at IS NOT NULL"))).scalar()
    assert delivered == len(wamids)
