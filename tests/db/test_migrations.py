"""The migrations build exactly the schema the models describe, both ways."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from api.db import migrations
from api.db.migration_filters import AUTOGENERATE_OPTIONS
from api.db.models import Base
from api.db.session import Database

SCHEMA_TABLES = {
    "organizations", "users", "refresh_tokens", "whatsapp_numbers", "departments",
    "user_departments", "agent_greetings", "chatbots", "flows", "nodes", "contacts", "tags",
    "conversations", "messages", "campaigns", "campaign_recipients", "whatsapp_templates",
    "integrations", "webhooks", "webhook_deliveries", "quick_replies", "audit_logs",
}


async def _differences(url: str) -> list:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            return await conn.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts=AUTOGENERATE_OPTIONS), Base.metadata))
    finally:
        await db.dispose()


async def _tables(url: str) -> set[str]:
    db = Database(url)
    try:
        async with db.session() as s:
            rows = await s.execute(text(
                "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"))
            return {r[0] for r in rows}
    finally:
        await db.dispose()


async def test_upgrade_downgrade_upgrade_round_trip(empty_database_url):
    migrations.upgrade(empty_database_url)
    assert SCHEMA_TABLES <= await _tables(empty_database_url)
    migrations.downgrade(empty_database_url, "base")
    assert await _tables(empty_database_url) <= {"alembic_version"}
    migrations.upgrade(empty_database_url)
    assert migrations.current(empty_database_url) == [migrations.head()]
    assert await _differences(empty_database_url) == []


async def test_upgrade_frees_the_emails_of_users_deleted_before(empty_database_url):
    migrations.upgrade(empty_database_url, "0004")
    db = Database(empty_database_url)
    try:
        async with db.transaction() as s:
            org = (await s.execute(text(
                "INSERT INTO organizations (name, slug) VALUES ('Org', 'org') RETURNING id"))).scalar()
            gone, kept = [(await s.execute(text(
                "INSERT INTO users (organization_id, email, password_hash, full_name) "
                "VALUES (:org, :email, 'x', 'U') RETURNING id"), {"org": org, "email": email})).scalar()
                for email in ("gone@example.com", "kept@example.com")]
            await s.execute(text("UPDATE users SET deleted_at = now() WHERE id = :gone"), {"gone": gone})
        migrations.upgrade(empty_database_url)
        async with db.session() as s:
            emails = dict((await s.execute(text("SELECT id, email FROM users"))).all())
    finally:
        await db.dispose()
    assert emails == {gone: f"deleted+{gone}@invalid", kept: "kept@example.com"}


async def test_every_schema_table_has_a_model():
    assert SCHEMA_TABLES | {"flow_versions", "message_whatsapp_ids", "events", "event_consumers", "flow_path_counts",
                            "analytics_flushes", "analytics_snapshots"} == set(Base.metadata.tables)


async def test_models_and_migrations_agree(database_url):
    assert await _differences(database_url) == []


async def test_comparison_notices_a_missing_index(database_url, db):
    async with db.transaction() as s:
        await s.execute(text("DROP INDEX idx_conversations_agent_open"))
    diffs = await _differences(database_url)
    assert [(d[0], d[1].name) for d in diffs] == [("add_index", "idx_conversations_agent_open")]


@pytest.mark.parametrize("index, definition", [
    ("idx_conversations_agent_open",
     "(assigned_to, status) WHERE ((status)::text = ANY ((ARRAY['open'::character varying, "
     "'pending'::character varying, 'assigned'::character varying])::text[]))"),
    ("idx_messages_recent", "(conversation_id, created_at DESC) INCLUDE (type, direction)"),
    # migration 0023: no index names status (delivered and read are HOT), no NULL wamid entries
    ("idx_messages_outbox", "(conversation_id, created_at) WHERE (((direction)::text = 'outbound'::text) "
                            "AND (whatsapp_message_id IS NULL) AND (failed_at IS NULL))"),
    ("idx_messages_whatsapp_id", "(whatsapp_message_id) WHERE (whatsapp_message_id IS NOT NULL)"),
    ("idx_contacts_search", "gin (to_tsvector('portuguese'::regconfig"),
    ("idx_contacts_tags", "gin (tags)"),
    ("idx_conversations_queue", "WHERE ((status)::text = 'waiting_in_queue'::text)"),
])
async def test_critical_indexes_exist_as_specified(db, index, definition):
    async with db.session() as s:
        got = (await s.execute(text("SELECT pg_get_indexdef(to_regclass(:i))"), {"i": index})).scalar()
    assert got is not None and definition in got


async def test_messages_index_a_conversations_rows_once(db):
    """One index on (conversation_id, created_at DESC) (migration 0022): a message's insert
    and updates write one entry there, not two."""
    async with db.session() as s:
        names = (await s.execute(text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'messages' "
            "AND indexdef LIKE '%(conversation_id, created_at DESC)%'"))).scalars().all()
    assert names == ["idx_messages_recent"]


async def test_check_constraint_rejects_an_unknown_status(db, tenant):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError, match="conversations_status_check"):
        async with db.transaction() as s:
            await s.execute(text("UPDATE conversations SET status = 'archived' WHERE id = :id"),
                            {"id": tenant.conversation.id})


async def test_quality_rating_check_rejects_values_outside_the_list(db, tenant):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError, match="whatsapp_numbers_quality_rating_check"):
        async with db.transaction() as s:
            await s.execute(text(
                "INSERT INTO whatsapp_numbers (organization_id, phone_number, phone_number_id, "
                "quality_rating) VALUES (:org, '+5511999990000', 'pn-1', 'PURPLE')"),
                {"org": tenant.organization.id})


async def test_upgrade_leaves_a_flow_version_only_where_one_is_live(empty_database_url):
    """0030: ``flows.version`` (the live version) was 1 by default, before any version was saved."""
    migrations.upgrade(empty_database_url, "0029")
    db = Database(empty_database_url)
    try:
        async with db.transaction() as s:
            org = (await s.execute(text(
                "INSERT INTO organizations (name, slug) VALUES ('Org', 'org') RETURNING id"))).scalar()
            bot = (await s.execute(text("INSERT INTO chatbots (organization_id, name) VALUES (:o, 'Bot') RETURNING id"),
                                   {"o": org})).scalar()
            live, draft, never = [(await s.execute(text(
                "INSERT INTO flows (chatbot_id, name) VALUES (:b, :n) RETURNING id"), {"b": bot, "n": n})).scalar()
                for n in ("live", "draft", "never")]
            for flow, published in ((live, "now()"), (draft, "NULL")):
                await s.execute(text(
                    "INSERT INTO flow_versions (flow_id, version, canvas, program, program_hash, published_at) "
                    f"VALUES (:f, 1, '{{}}', '\\x00', 'h', {published})"), {"f": flow})
        migrations.upgrade(empty_database_url)
        async with db.transaction() as s:
            versions = dict((await s.execute(text("SELECT id, version FROM flows"))).all())
            created = (await s.execute(text(
                "INSERT INTO flows (chatbot_id, name) VALUES (:b, 'new') RETURNING version"), {"b": bot})).scalar()
    finally:
        await db.dispose()
    assert versions == {live: 1, draft: None, never: None} and created is None
