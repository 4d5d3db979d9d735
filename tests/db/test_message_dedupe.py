"""`whatsapp_message_id` is unique across all partitions, so a redelivered
webhook stores nothing twice."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from api.db.messages import add_message_once, message_by_whatsapp_id
from api.db.models import Message, MessageWhatsAppId

NOW = datetime.now(timezone.utc)


def _inbound(tenant, wamid, created_at=None, body="Quero uma pizza") -> Message:
    return Message(conversation_id=tenant.conversation.id, direction="inbound",
                   sender_type="contact", whatsapp_message_id=wamid,
                   content={"text": body}, created_at=created_at)


async def _count(db) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(Message))).scalar()


async def test_redelivered_message_is_stored_once(db, tenant):
    async with db.transaction() as s:
        assert await add_message_once(s, _inbound(tenant, "wamid.A1"))
    async with db.transaction() as s:
        assert not await add_message_once(s, _inbound(tenant, "wamid.A1"))
    assert await _count(db) == 1


async def test_duplicate_in_another_month_is_refused(db, tenant):
    async with db.transaction() as s:
        s.add(_inbound(tenant, "wamid.B1", created_at=NOW))
    with pytest.raises(IntegrityError, match="messages_whatsapp_message_id_key"):
        async with db.transaction() as s:
            s.add(_inbound(tenant, "wamid.B1", created_at=NOW + timedelta(days=40)))
    assert await _count(db) == 1


async def test_duplicate_via_default_partition_is_refused(db, tenant):
    async with db.transaction() as s:
        s.add(_inbound(tenant, "wamid.C1", created_at=datetime(2018, 1, 1, tzinfo=timezone.utc)))
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            s.add(_inbound(tenant, "wamid.C1", created_at=NOW))


async def test_concurrent_deliveries_store_one_message(db, tenant):
    async def others_blocked() -> int:
        async with db.session() as s:
            return (await s.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                         "AND wait_event_type = 'Lock'"))).scalar()

    async def deliver() -> bool:
        async with db.transaction() as s:
            stored = await add_message_once(s, _inbound(tenant, "wamid.RACE"))
            if stored:  # hold the claim until the other four wait on it
                deadline = asyncio.get_running_loop().time() + 60
                while await others_blocked() < 4:
                    assert asyncio.get_running_loop().time() < deadline, "the other deliveries never waited"
                    await asyncio.sleep(0.01)
            return stored

    results = await asyncio.gather(*(deliver() for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert await _count(db) == 1


async def test_outbound_message_gets_its_whatsapp_id_after_sending(db, tenant):
    async with db.transaction() as s:
        msg = Message(conversation_id=tenant.conversation.id, direction="outbound",
                      sender_type="bot", content={"text": "Olá!"})
        assert await add_message_once(s, msg)
    async with db.transaction() as s:
        await s.execute(text("UPDATE messages SET whatsapp_message_id = 'wamid.OUT', status = 'sent' "
                             "WHERE id = :id"), {"id": msg.id})
    async with db.session() as s:
        found = await message_by_whatsapp_id(s, "wamid.OUT")
        assert found is not None and found.id == msg.id and found.status == "sent"


async def test_deleting_a_message_frees_its_whatsapp_id(db, tenant):
    async with db.transaction() as s:
        msg = _inbound(tenant, "wamid.D1")
        await add_message_once(s, msg)
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM messages WHERE id = :id"), {"id": msg.id})
    async with db.session() as s:
        assert (await s.execute(select(func.count()).select_from(MessageWhatsAppId))).scalar() == 0


async def test_claim_without_message_cannot_be_committed_as_a_message_twice(db, tenant):
    async with db.transaction() as s:
        first = _inbound(tenant, "wamid.E1")
        await add_message_once(s, first)
    async with db.transaction() as s:
        with pytest.raises(IntegrityError):
            await s.execute(text(
                "INSERT INTO messages (conversation_id, direction, content, whatsapp_message_id) "
                "VALUES (:c, 'inbound', '{}'::jsonb, 'wamid.E1')"), {"c": tenant.conversation.id})


async def test_longest_whatsapp_text_message_is_stored(db, tenant):
    body = "".join(chr(0x1F600 + (i * 7919) % 80) + chr(0x61 + i % 26) for i in range(2048))
    async with db.transaction() as s:
        assert await add_message_once(s, _inbound(tenant, "wamid.LONG", body=body))
    async with db.session() as s:
        found = await message_by_whatsapp_id(s, "wamid.LONG")
        assert found.content["text"] == body


async def _claim_updates(s) -> int:
    """Updates of claims this backend has not reported yet: this transaction's, and an earlier
    one's of the last second (PostgreSQL reports at most once a second); a test takes the
    difference within one transaction."""
    return (await s.execute(text(
        "SELECT coalesce(sum(n_tup_upd), 0) FROM pg_stat_xact_user_tables "
        "WHERE relname = 'message_whatsapp_ids'"))).scalar()


async def test_storing_a_claimed_message_leaves_its_claim_untouched(db, tenant):
    """The claim written just before the message is what the trigger would write:
    no second row version (and no WAL) per inbound message."""
    async with db.transaction() as s:
        before = await _claim_updates(s)
        assert await add_message_once(s, _inbound(tenant, "wamid.CLAIMED"))
        updated = await _claim_updates(s) - before
    assert updated == 0
    async with db.session() as s:
        assert (await message_by_whatsapp_id(s, "wamid.CLAIMED")) is not None


async def _claim(db, wamid: str):
    async with db.session() as s:
        return (await s.execute(text("SELECT message_id, message_created_at FROM message_whatsapp_ids "
                                     "WHERE whatsapp_message_id = :w"), {"w": wamid})).one_or_none()


async def test_an_update_naming_the_whatsapp_id_without_changing_it_leaves_the_claim_untouched(db, tenant):
    """What every status webhook does (``COALESCE(whatsapp_message_id, <wamid>)``):
    no second row version of the claim per status."""
    async with db.transaction() as s:
        assert await add_message_once(s, _inbound(tenant, "wamid.STATUS"))
    async with db.transaction() as s:
        before = await _claim_updates(s)
        await s.execute(text("UPDATE messages SET whatsapp_message_id = COALESCE(whatsapp_message_id, 'wamid.X'), "
                             "status = 'read' WHERE whatsapp_message_id = 'wamid.STATUS'"))
        updated = await _claim_updates(s) - before
    assert updated == 0
    async with db.session() as s:
        assert (await message_by_whatsapp_id(s, "wamid.STATUS")).status == "read"


async def test_a_changed_whatsapp_id_moves_the_claim(db, tenant):
    async with db.transaction() as s:
        msg = _inbound(tenant, "wamid.OLD")
        assert await add_message_once(s, msg)
    async with db.transaction() as s:
        await s.execute(text("UPDATE messages SET whatsapp_message_id = 'wamid.NEW' WHERE id = :id"), {"id": msg.id})
    assert await _claim(db, "wamid.OLD") is None
    assert (await _claim(db, "wamid.NEW"))[0] == msg.id


async def test_a_message_moved_to_another_partition_keeps_its_claim_in_step(db, tenant):
    async with db.transaction() as s:
        msg = _inbound(tenant, "wamid.MOVED", created_at=NOW)
        assert await add_message_once(s, msg)
    earlier = NOW - timedelta(days=400)
    async with db.transaction() as s:
        await s.execute(text("UPDATE messages SET created_at = :t WHERE id = :id"), {"t": earlier, "id": msg.id})
    assert tuple(await _claim(db, "wamid.MOVED")) == (msg.id, earlier)
