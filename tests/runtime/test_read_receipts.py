"""Read receipts (blue ticks): a number with ``settings.mark_as_read`` has the
messages its bot handles marked read through the Graph API."""

from __future__ import annotations

import json

from sqlalchemy import text

from api.sandbox.server import Fault


async def receipts_on(db, seeded, on=True):
    async with db.transaction() as s:
        await s.execute(text("UPDATE whatsapp_numbers SET settings = settings || CAST(:s AS jsonb) WHERE id = :id"),
                        {"s": json.dumps({"mark_as_read": on}), "id": seeded.number_id})


async def inbound_wamids(query):
    return [r["whatsapp_message_id"] for r in await query(
        "SELECT whatsapp_message_id FROM messages WHERE direction = 'inbound' ORDER BY created_at")]


async def test_a_message_the_bot_handles_is_marked_read(local, add, flows, query, db, seeded):
    await add("eco", flows["echo"])
    await receipts_on(db, seeded)
    await local.say("5511900000070", "oi")
    await local.say("5511900000070", "tudo bem?")
    assert local.sandbox.state.read_receipts == await inbound_wamids(query)
    assert len(local.sandbox.state.read_receipts) == 2


async def test_without_the_setting_nothing_is_marked_read(local, add, flows, db, seeded):
    await add("eco", flows["echo"])
    await local.say("5511900000071", "oi")
    await receipts_on(db, seeded, on=False)
    await local.say("5511900000071", "de novo")
    assert local.sandbox.state.read_receipts == []


async def test_a_conversation_left_to_agents_is_not_marked_read_for_them(local, add, flows, query, db, seeded):
    await add("eco", flows["echo"])
    await receipts_on(db, seeded)
    result = await local.receive("5511900000072", "oi")
    async with db.transaction() as s:
        await s.execute(text("UPDATE conversations SET is_bot_active = false"))
    await local.process(result.conversations[0])
    assert local.sandbox.state.read_receipts == []
    processed = await query("SELECT metadata FROM messages WHERE direction = 'inbound'")
    assert processed[0]["metadata"]["processed"] is True


async def test_a_failed_receipt_does_not_stop_the_reply(local, add, flows, query, db, seeded):
    await add("eco", flows["echo"])
    await receipts_on(db, seeded)
    local.sandbox.state.faults.append(Fault(131000, 1))  # the receipt, the first request, fails
    await local.say("5511900000073", "oi")
    assert local.sandbox.state.read_receipts == []
    processed = await query("SELECT metadata FROM messages WHERE direction = 'inbound'")
    assert processed[0]["metadata"]["processed"] is True
