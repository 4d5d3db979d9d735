"""A campaign grows ``messages`` and ``conversations`` far past what the planner saw when
the hot statements were planned (once per connection: ``plan_cache_mode =
force_generic_plan``); the status webhooks' statement must still find each message by
index, not read the table per status (api/campaigns/statistics.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import text

from api.campaigns import run_campaign, start
from api.db.models import Campaign, WhatsAppTemplate
from api.inbound.statuses import apply_on_connection
from api.whatsapp.payloads import StatusUpdate
from tests.runtime.campaign_helpers import add_contacts, counts, prepare_number
from tests.runtime.conftest import PNID

AUDIENCE = 1000  # ten status batches of 100 (StatusBatcher's size under load is up to 200)

# rows read by sequential scan, per table (the partitions of messages as one), that this
# backend has not reported yet: this transaction's, and any earlier one's of the last second
# (PostgreSQL reports at most once a second), so a test takes the difference within one transaction
_SEQ_READ = """
SELECT regexp_replace(relname, '_(\\d{4}_\\d{2}|default)$', '') AS t, sum(seq_tup_read) AS n
  FROM pg_stat_xact_user_tables GROUP BY 1"""


async def _seq_read(conn) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in await conn.fetch(_SEQ_READ)}


def _status(wamid: str) -> StatusUpdate:
    return StatusUpdate(phone_number_id=PNID, wamid=wamid, status="delivered",
                        timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc), recipient_id=None)


async def test_statuses_of_a_large_campaign_on_young_tables_read_no_message_by_sequential_scan(local, db, caplog):
    seeded = local.seeded
    org = seeded.organization_id
    await prepare_number(db, seeded.number_id, org)
    async with db.transaction() as s:
        template = WhatsAppTemplate(organization_id=org, whatsapp_number_id=seeded.number_id, name="aviso",
                                    language="pt_BR", category="UTILITY", meta_status="APPROVED",
                                    body_text="Aviso importante.")
        s.add(template)
        await s.flush()
        campaign = Campaign(organization_id=org, name="grande", template_id=template.id, message_content={},
                            target_type="tags", target_filters={"tags": ["grande"]})
        s.add(campaign)
        await s.flush()
        campaign_id = campaign.id
    await add_contacts(db, org, AUDIENCE, prefix="55116", tags=["grande"])
    async with db.transaction() as s:
        await start(s, campaign_id, org)
    async with db.session() as s:  # what the planner knows: hardly any message or conversation yet
        await s.execute(text("ANALYZE messages, conversations"))
        await s.commit()

    async with db.raw() as conn:  # an API process's connection, its status statement planned now
        assert not await apply_on_connection(conn, [(_status("wamid.unknown"), None)])

        with caplog.at_level("INFO", logger="pytake.campaigns"):
            assert await run_campaign(local.rt, campaign_id) == AUDIENCE
        # the run's summary for operators: what went, in how many rounds, how often live traffic went first
        assert any(r.getMessage().startswith(f"campaign {campaign_id}: {AUDIENCE} sent in ")
                   and " rounds (" in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
        wamids = [r[0] for r in await conn.fetch(
            "SELECT whatsapp_message_id FROM messages WHERE metadata->>'campaign_id' = $1", str(campaign_id))]
        assert len(wamids) == AUDIENCE

        async with conn.transaction():
            before = await _seq_read(conn)  # the wamids' lookup above, if not reported yet
            for i in range(0, AUDIENCE, 100):
                matched = await apply_on_connection(conn, [(_status(w), None) for w in wamids[i:i + 100]])
                assert len(matched) == len(wamids[i:i + 100])
            after = await _seq_read(conn)
        seq_read = {t: n - before.get(t, 0) for t, n in after.items() if n > before.get(t, 0)}
    assert (await counts(db, campaign_id))["delivered"] == AUDIENCE
    # Without the runner's ANALYZE the plan made above (no message yet) read the partition per
    # status: 1.28 million rows for these 1,000 statuses. Conversations (1,000 rows) may be read
    # once per batch, by a hash join: the planner's own choice at that size, which the index
    # lookups replace once the table is a few times larger (bench/campaign.py).
    assert "messages" not in seq_read, seq_read
    assert seq_read.get("conversations", 0) <= AUDIENCE * AUDIENCE // 100, seq_read


async def test_only_a_table_the_campaign_has_outgrown_is_analyzed(local, db):
    from api.campaigns.statistics import GrowthAnalyzer

    result = await local.receive("5511600000001", "oi")  # one conversation, one message
    async with db.transaction() as s:  # 49 more conversations: more than the rows added below
        await s.execute(text(
            "INSERT INTO conversations (organization_id, contact_id, whatsapp_number_id, status) "
            "SELECT c.organization_id, c.contact_id, c.whatsapp_number_id, 'resolved' "
            "FROM conversations c, generate_series(1, 49) WHERE c.id = :c"), {"c": result.conversations[0]})
        message = (await s.execute(text("SELECT id, created_at FROM messages"))).mappings().one()
        partition = (await s.execute(text("SELECT tableoid::regclass::text FROM messages"))).scalar()
    async with db.session() as s:
        await s.execute(text("ANALYZE messages, conversations"))
        await s.commit()

    analyzer = GrowthAnalyzer(db, min_rows=10)
    analyzer.grew([message] * 9)  # below the minimum: not even a look
    await analyzer.wait()
    assert analyzer.analyzed == []
    analyzer.grew([message] * 11)  # 20 added: more than the partition's 1 row, fewer than 50 conversations
    await analyzer.wait()
    assert analyzer.analyzed == [partition]
    analyzer.grew([message] * 30)  # 50 since conversations' last ANALYZE: analyzed too (and the partition:
    await analyzer.wait()          # 30 more than its 1 row)
    assert analyzer.analyzed == [partition, partition, "conversations"]
