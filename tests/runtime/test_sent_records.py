"""`SentRecorder`: the senders' `sent` records, written together when they wait together."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import text

from api.events import event, message_payload
from api.outbox import SentRecorder
from tests.runtime.test_sender import conversation_with, row, text_msg


def accepted(local, message, wamid):
    """What the sender records for a row Meta accepted: the row, its wamid, its message.sent event."""
    sent = event(local.seeded.organization_id, "message.sent",
                 message_payload({**message, "status": "sent", "whatsapp_message_id": wamid}),
                 message["conversation_id"])
    return {"sent_id": message["id"], "sent_created_at": message["created_at"], "wamid": wamid,
            "meta": json.dumps({"accepted_at": "2026-11-25T00:00:00+00:00", "sent_by": "test"}), "event": sent}


async def pending_rows(local, query, count):
    ids = []
    for i in range(count):
        _, (mid,) = await conversation_with(local, f"55119000006{i:02d}", text_msg(f"m{i}"))
        ids.append(mid)
    return [await row(query, mid) for mid in ids]


async def test_records_waiting_together_go_in_fewer_statements_each_with_its_own_wamid(local, query):
    messages = await pending_rows(local, query, 12)
    recorder = SentRecorder(local.rt.db)
    writes = []
    original = recorder._write

    async def counting(batch):
        writes.append(len(batch))
        await original(batch)

    recorder._write = counting
    await asyncio.gather(*(recorder.record(accepted(local, m, f"wamid.{i}")) for i, m in enumerate(messages)))
    assert sum(writes) == 12 and len(writes) < 12
    for i, m in enumerate(messages):
        sent = await row(query, m["id"])
        assert sent["status"] == "sent" and sent["whatsapp_message_id"] == f"wamid.{i}"
        assert sent["sent_at"] is not None and sent["metadata"]["sent_by"] == "test"
    events = await query("SELECT ordering_key, payload FROM events WHERE type = 'message.sent' ORDER BY id")
    assert sorted((e["payload"]["message"]["id"], e["payload"]["message"]["whatsapp_message_id"]) for e in events) \
        == sorted((str(m["id"]), f"wamid.{i}") for i, m in enumerate(messages))
    conversation_of = {str(m["id"]): m["conversation_id"] for m in messages}
    assert all(e["ordering_key"] == conversation_of[e["payload"]["message"]["id"]] for e in events)


async def test_a_status_a_webhook_already_raised_is_not_lowered(local, query, db):
    (message,) = await pending_rows(local, query, 1)
    async with db.transaction() as s:
        await s.execute(text("UPDATE messages SET status = 'delivered' WHERE id = :id"), {"id": message["id"]})
    await SentRecorder(local.rt.db).record(accepted(local, message, "wamid.late"))
    recorded = await row(query, message["id"])
    assert recorded["status"] == "delivered" and recorded["whatsapp_message_id"] == "wamid.late"


async def test_the_campaign_recipient_is_marked_sent_with_its_message(local, query, db, seeded):
    (message,) = await pending_rows(local, query, 1)
    async with db.transaction() as s:
        campaign = (await s.execute(text(
            "INSERT INTO campaigns (organization_id, name, message_content) VALUES (:o, 'Promo', '{}') RETURNING id"),
            {"o": seeded.organization_id})).scalar()
        contact = (await s.execute(text("SELECT contact_id FROM conversations LIMIT 1"))).scalar()
        await s.execute(text(
            "INSERT INTO campaign_recipients (campaign_id, contact_id, message_id, message_created_at, status) "
            "VALUES (:c, :ct, :m, :at, 'pending')"),
            {"c": campaign, "ct": contact, "m": message["id"], "at": message["created_at"]})
    await SentRecorder(local.rt.db).record(accepted(local, message, "wamid.promo"))
    recipient = (await query("SELECT status, whatsapp_message_id FROM campaign_recipients"))[0]
    assert recipient["status"] == "sent" and recipient["whatsapp_message_id"] == "wamid.promo"


async def test_campaign_rows_the_sender_delivers_mark_their_recipients_and_counters_beside_a_bot_reply(
        local, query, db, seeded):
    """A campaign's rows the sender delivers (a retried one, say) among a bot reply: each
    campaign row's recipient is marked sent with its wamid and counted once, whether its
    record went with the next row's claim or alone; the bot reply's record (no recipient:
    its statement leaves the recipients out) is sent all the same."""
    from api.outbox import Sender, insert_outbound, outbound_rows

    conversation, _ = await conversation_with(local, "5511900000077")
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM messages WHERE direction = 'outbound'"))
        contact = (await s.execute(text("SELECT contact_id FROM conversations WHERE id = :c"),
                                   {"c": conversation})).scalar()
        campaigns = [(await s.execute(text(
            "INSERT INTO campaigns (organization_id, name, message_content, sent_count) "
            "VALUES (:o, :n, '{}', 0) RETURNING id"), {"o": seeded.organization_id, "n": name})).scalar()
            for name in ("Promo 1", "Promo 2")]
        ids = []
        for metadata, body in (({"campaign_id": str(campaigns[0])}, "promo 1"), ({"source": "flow"}, "bot"),
                               ({"campaign_id": str(campaigns[1])}, "promo 2")):
            (mid,) = await insert_outbound(s, outbound_rows(conversation, [text_msg(body)], metadata=metadata))
            ids.append(mid)
        for campaign, mid in ((campaigns[0], ids[0]), (campaigns[1], ids[2])):
            await s.execute(text(
                "INSERT INTO campaign_recipients (campaign_id, contact_id, message_id, message_created_at, status) "
                "SELECT :c, :ct, id, created_at, 'pending' FROM messages WHERE id = :m"),
                {"c": campaign, "ct": contact, "m": mid})

    await Sender(local.rt).deliver_conversation(conversation)
    assert [m["payload"]["text"]["body"] for m in local.sandbox.state.accepted] == ["promo 1", "bot", "promo 2"]
    sent = {mid: await row(query, mid) for mid in ids}
    assert all(r["status"] == "sent" and r["whatsapp_message_id"] for r in sent.values())
    recipients = await query("SELECT campaign_id, status, whatsapp_message_id FROM campaign_recipients")
    assert sorted((r["campaign_id"], r["status"], r["whatsapp_message_id"]) for r in recipients) == sorted(
        [(campaigns[0], "sent", sent[ids[0]]["whatsapp_message_id"]),
         (campaigns[1], "sent", sent[ids[2]]["whatsapp_message_id"])])
    counted = await query("SELECT id, sent_count FROM campaigns")
    assert {r["id"]: r["sent_count"] for r in counted} == {campaigns[0]: 1, campaigns[1]: 1}


async def test_a_write_that_fails_fails_every_caller_waiting_on_it_and_writes_none_of_them(local, query):
    messages = await pending_rows(local, query, 3)
    recorder = SentRecorder(local.rt.db)
    bad = accepted(local, messages[0], "wamid.bad") | {"meta": "not json"}
    results = await asyncio.gather(recorder.record(bad), recorder.record(accepted(local, messages[1], "wamid.1")),
                                   recorder.record(accepted(local, messages[2], "wamid.2")), return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results), results  # they waited together
    for m in messages:
        assert (await row(query, m["id"]))["status"] == "pending"
    assert await query("SELECT id FROM events WHERE type = 'message.sent'") == []
    await recorder.record(accepted(local, messages[1], "wamid.1"))  # the recorder goes on
    assert (await row(query, messages[1]["id"]))["status"] == "sent"


async def test_a_caller_cancelled_while_waiting_still_gets_its_row_recorded(local, query):
    (message,) = await pending_rows(local, query, 1)
    recorder = SentRecorder(local.rt.db)
    waiting = asyncio.ensure_future(recorder.record(accepted(local, message, "wamid.cancelled")))
    await asyncio.sleep(0)  # the write has started
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    await recorder._writer
    assert (await row(query, message["id"]))["status"] == "sent"
