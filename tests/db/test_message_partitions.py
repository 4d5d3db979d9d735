"""`messages` is partitioned by month; nothing is ever refused for want of a
partition, and creating a month moves its early arrivals out of DEFAULT."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, text

from api.db.messages import add_message_once, message_by_whatsapp_id
from api.db.models import CampaignRecipient, Campaign, Message
from api.db.partitions import create_message_partition, ensure_message_partitions, message_partitions


def _month_start(dt: datetime, add: int = 0) -> datetime:
    month = dt.year * 12 + dt.month - 1 + add
    return datetime(month // 12, month % 12 + 1, 1, tzinfo=timezone.utc)


def _name(dt: datetime) -> str:
    return f"messages_{dt:%Y_%m}"


async def _partition_of(session, message_id) -> str:
    return (await session.execute(
        text("SELECT tableoid::regclass::text FROM messages WHERE id = :id"), {"id": message_id})).scalar()


def _message(tenant, created_at, wamid=None, text_="Olá!") -> Message:
    return Message(conversation_id=tenant.conversation.id, direction="inbound",
                   sender_type="contact", whatsapp_message_id=wamid,
                   content={"text": text_}, created_at=created_at)


async def test_migration_creates_this_month_the_next_three_and_default(db):
    now = datetime.now(timezone.utc)
    async with db.session() as s:
        names = await message_partitions(s)
    assert names == [_name(_month_start(now, i)) for i in range(4)] + ["messages_default"]


async def test_a_message_lands_in_its_month_partition(db, tenant):
    created = datetime.now(timezone.utc)
    async with db.transaction() as s:
        msg = _message(tenant, created)
        s.add(msg)
    async with db.session() as s:
        assert await _partition_of(s, msg.id) == _name(created)


async def test_a_message_outside_every_month_lands_in_default(db, tenant):
    long_ago = datetime(2019, 3, 10, 12, tzinfo=timezone.utc)
    async with db.transaction() as s:
        msg = _message(tenant, long_ago)
        s.add(msg)
    async with db.session() as s:
        assert await _partition_of(s, msg.id) == "messages_default"


async def test_ensure_creates_only_missing_months(db):
    now = datetime.now(timezone.utc)
    async with db.transaction() as s:
        created = await ensure_message_partitions(s, months_ahead=5)
    assert created == [_name(_month_start(now, 4)), _name(_month_start(now, 5))]
    async with db.transaction() as s:
        assert await ensure_message_partitions(s, months_ahead=5) == []


async def test_creating_a_month_moves_its_rows_out_of_default(db, tenant):
    far = _month_start(datetime.now(timezone.utc), 8) + timedelta(days=3)
    async with db.transaction() as s:
        msg = _message(tenant, far, wamid="wamid.FAR")
        assert await add_message_once(s, msg)
        campaign = Campaign(organization_id=tenant.organization.id, name="Promo",
                            message_content={"text": "oi"})
        s.add(campaign)
        await s.flush()
        s.add(CampaignRecipient(campaign_id=campaign.id, contact_id=tenant.contact.id,
                                message_id=msg.id, message_created_at=msg.created_at))
    async with db.transaction() as s:
        assert await _partition_of(s, msg.id) == "messages_default"
        assert await create_message_partition(s, far.date()) == _name(far)
    async with db.session() as s:
        assert await _partition_of(s, msg.id) == _name(far)
        # the move kept the WhatsApp id claimed and the recipient's reference
        assert (await message_by_whatsapp_id(s, "wamid.FAR")).id == msg.id
        recipient = (await s.execute(select(CampaignRecipient))).scalar_one()
        assert recipient.message_id == msg.id
        assert not await add_message_once(s, _message(tenant, datetime.now(timezone.utc), "wamid.FAR"))


async def test_reading_a_conversation_scans_only_the_months_asked_for(db, tenant):
    now = datetime.now(timezone.utc)
    async with db.session() as s:
        plan = "\n".join(r[0] for r in await s.execute(text(
            "EXPLAIN SELECT * FROM messages WHERE conversation_id = :c "
            "AND created_at >= :since ORDER BY created_at DESC LIMIT 50"),
            {"c": tenant.conversation.id, "since": _month_start(now, 3)}))
    assert _name(_month_start(now, 3)) in plan
    assert _name(now) not in plan


async def test_a_new_month_inherits_the_outbox_index(db):
    month = _month_start(datetime.now(timezone.utc), 9)
    async with db.transaction() as s:
        name = await create_message_partition(s, month.date())
        definitions = (await s.execute(text("SELECT indexdef FROM pg_indexes WHERE tablename = :t"),
                                       {"t": name})).scalars().all()
    assert any("(conversation_id, created_at) WHERE" in d and "whatsapp_message_id IS NULL" in d
               and "failed_at IS NULL" in d for d in definitions), definitions


async def _fillfactor(session, table: str) -> str | None:
    options = (await session.execute(text("SELECT reloptions FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                                     {"t": table})).scalar() or []
    return next((o.split("=")[1] for o in options if o.startswith("fillfactor=")), None)


async def test_the_often_updated_tables_leave_room_for_hot_updates(db, tenant):
    """Migration 0008: pages keep room so that the updates every message makes
    stay on their page; a month created later, either way, keeps it too."""
    now = datetime.now(timezone.utc)
    empty_month = _month_start(now, 10)
    early_month = _month_start(now, 11) + timedelta(days=1)
    async with db.transaction() as s:
        assert await add_message_once(s, _message(tenant, early_month, wamid="wamid.EARLY"))
    async with db.transaction() as s:
        assert await create_message_partition(s, empty_month.date()) == _name(empty_month)
        assert await create_message_partition(s, early_month.date()) == _name(early_month)  # moves a row
    async with db.session() as s:
        assert await _fillfactor(s, "conversations") == "70"
        assert await _fillfactor(s, "contacts") == "80"
        for table in (_name(now), "messages_default", _name(empty_month), _name(early_month)):
            assert await _fillfactor(s, table) == "80", table
        assert await _partition_of(s, (await message_by_whatsapp_id(s, "wamid.EARLY")).id) == _name(early_month)
