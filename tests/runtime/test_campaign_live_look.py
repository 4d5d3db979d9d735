"""A campaign's runner looks for live traffic on its number before each round (live replies
go first); that look reads each campaign message's dead outbox entry once, not every round.

A campaign message is in ``idx_messages_outbox`` from its claim to its ``sent``; that update
leaves the index's predicate, so its old entry stays until VACUUM. Read by a bitmap scan,
as the planner chose, the look read every message the campaign had sent since the last
VACUUM, each round (migration 0025)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from api.campaigns.runner import _LIVE_WAITING
from api.db.session import bind

SENT = 2_000

# entries of the messages partitions' outbox indexes this transaction read (see test_status_plans)
_OUTBOX_READS = """
SELECT COALESCE(sum(pg_stat_get_xact_tuples_returned(i.indexrelid)), 0)
  FROM pg_inherits p JOIN pg_index i ON i.indrelid = p.inhrelid JOIN pg_class c ON c.oid = i.indexrelid
 WHERE p.inhparent = 'messages'::regclass AND c.relname LIKE '%outbox%'"""


async def _snapshot_older_than(conn, xid: int) -> bool:
    """Whether another session of this database holds a snapshot older than transaction ``xid``."""
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_xmin IS NOT NULL "
        "AND backend_xmin::text::bigint <= $1)", xid % 2**32)


async def wait_until(probe, expected, timeout: float = 60.0) -> None:
    """Until ``await probe()`` is ``expected`` (a condition, looked at every 50 ms), at most ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (await probe()) != expected:
        assert loop.time() < deadline, f"still not {expected!r} after {timeout:g} s"
        await asyncio.sleep(0.05)


async def test_the_look_for_live_traffic_reads_a_sent_campaign_message_once(db, seeded):
    async with db.transaction() as s:
        contact = (await s.execute(text(
            "INSERT INTO contacts (organization_id, whatsapp_id) VALUES (:o, '5511900000077') RETURNING id"),
            {"o": seeded.organization_id})).scalar()
        conversation = (await s.execute(text(
            "INSERT INTO conversations (organization_id, contact_id, whatsapp_number_id, "
            "twenty_four_hour_window_expires_at) VALUES (:o, :c, :n, now() + interval '1 day') RETURNING id"),
            {"o": seeded.organization_id, "c": contact, "n": seeded.number_id})).scalar()
        await s.execute(text(  # a campaign's messages, claimed as its runner inserts them
            "INSERT INTO messages (conversation_id, direction, sender_type, type, content, status, metadata) "
            "SELECT :c, 'outbound', 'bot', 'template', '{}', 'pending', "
            "       jsonb_build_object('campaign_id', gen_random_uuid(), 'claim_token', 'campaign:x') "
            "  FROM generate_series(1, :n)"), {"c": conversation, "n": SENT})
    async with db.transaction() as s:  # ... and sent: each leaves its outbox entry dead
        await s.execute(text("UPDATE messages SET status = 'sent', whatsapp_message_id = 'wamid.' || id, "
                             "sent_at = now() WHERE conversation_id = :c"), {"c": conversation})
        sent_by = int((await s.execute(text("SELECT pg_current_xact_id()::text"))).scalar())
    async with db.raw() as conn:
        await conn.execute("ANALYZE messages")
        # an entry is marked dead once its row is dead to every snapshot: wait until no other session
        # of this database (an autovacuum's ANALYZE on a busy machine, say) still holds one from
        # before the update (each look would read every entry again meanwhile, fix or not)
        await wait_until(lambda: _snapshot_older_than(conn, sent_by), False)
        async with conn.transaction():
            looks = []
            for _ in range(3):
                before = await conn.fetchval(_OUTBOX_READS)
                looks.append((await conn.fetchval(*bind(_LIVE_WAITING, {"number": seeded.number_id})),
                              await conn.fetchval(_OUTBOX_READS) - before))
    assert [waiting for waiting, _ in looks] == [False, False, False]
    assert looks[1][1] < SENT // 20 and looks[2][1] < SENT // 20, looks

    async with db.transaction() as s:  # a bot's reply waiting: the look sees it
        await s.execute(text(
            "INSERT INTO messages (conversation_id, direction, sender_type, type, content, status) "
            "VALUES (:c, 'outbound', 'bot', 'text', '{\"text\": \"oi\"}', 'pending')"), {"c": conversation})
    async with db.raw() as conn:
        assert await conn.fetchval(*bind(_LIVE_WAITING, {"number": seeded.number_id})) is True
