"""What a campaign's claim holds its row by (`api.campaigns.runner.CLAIM_LOCK`): a pause
or cancel waits for the claim in flight, so no recipient is claimed once it has
committed; the status webhooks moving the campaign's counters do not wait for it.

A claim in flight is an open transaction holding the campaign's row as the runner's
claim statement does; each test forces its order by holding that transaction open."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from api.campaigns import control
from api.campaigns.runner import CLAIM_LOCK
from api.inbound import apply_statuses
from api.sandbox import webhooks
from api.whatsapp.payloads import parse_webhook

WA = "5511900000077"
CLAIM = f"SELECT id FROM campaigns WHERE id = $1 AND status = 'running' {CLAIM_LOCK}"


@pytest.fixture
async def campaign(local, db):
    """A running campaign whose one recipient was sent a message: (campaign id, wamid)."""
    mid, wamid = await local.sent_message(WA)
    async with db.transaction() as s:
        cid = (await s.execute(text(
            "INSERT INTO campaigns (organization_id, name, message_content, status, started_at) "
            "VALUES (:o, 'promo', '{}', 'running', now()) RETURNING id"), {"o": local.seeded.organization_id})).scalar()
        await s.execute(text(
            "INSERT INTO campaign_recipients (campaign_id, contact_id, status, whatsapp_message_id, message_id, "
            "message_created_at, sent_at) "
            "SELECT :c, c.contact_id, 'sent', :w, m.id, m.created_at, now() FROM messages m "
            "JOIN conversations c ON c.id = m.conversation_id WHERE m.id = :m"), {"c": cid, "w": wamid, "m": mid})
    return cid, wamid


async def waiting_on_a_lock(db, needle: str) -> bool:
    async with db.raw() as conn:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query ILIKE $1", f"%{needle}%") > 0


async def wait_until(condition, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            pytest.fail("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_a_pause_waits_for_the_claim_in_flight_and_no_claim_follows_it(campaign, db, local):
    cid, _ = campaign
    org = local.seeded.organization_id

    async def pause():
        async with db.transaction() as s:
            return (await control.pause(s, cid, org)).status

    async with db.raw() as claim:
        async with claim.transaction():
            assert await claim.fetchval(CLAIM, cid) == cid
            pausing = asyncio.create_task(pause())
            await wait_until(lambda: waiting_on_a_lock(db, "FOR UPDATE"))
            assert not pausing.done()  # held back by the claim
        assert await asyncio.wait_for(pausing, 60) == "paused"
        async with claim.transaction():  # the next claim finds nothing to claim for
            assert await claim.fetchval(CLAIM, cid) is None


async def test_a_claim_after_a_cancel_began_sees_it(campaign, db, local):
    cid, _ = campaign
    org = local.seeded.organization_id
    async with db.raw() as claim:  # the claim's connection outlives the cancel's transaction
        async with db.transaction() as s:
            await control.cancel(s, cid, org)
            claiming = asyncio.create_task(claim.fetchval(CLAIM, cid))
            await wait_until(lambda: waiting_on_a_lock(db, CLAIM_LOCK))
            assert not claiming.done()  # held back by the cancel
        assert await asyncio.wait_for(claiming, 60) is None  # committed: the campaign is no longer running


async def test_statuses_move_the_counters_while_a_claim_is_in_flight(campaign, db):
    cid, wamid = campaign
    doc = webhooks.status_update("100200300", wamid, "delivered", WA, timestamp=1750000000)
    async with db.raw() as claim:
        async with claim.transaction():
            assert await claim.fetchval(CLAIM, cid) == cid

            async def deliver() -> None:
                async with db.transaction() as s:
                    await apply_statuses(s, parse_webhook(doc).statuses)
            # the claim stays open until it returns: waiting for it would never end
            await asyncio.wait_for(deliver(), 60)
            async with db.raw() as conn:
                assert await conn.fetchval("SELECT delivered_count FROM campaigns WHERE id = $1", cid) == 1
