"""Status webhooks applied in batches over real HTTP: many statuses in one payload,
concurrent webhooks group-committed, and a `message.status` event for each real change."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from sqlalchemy import text

from api.sandbox import webhooks
from tests.runtime.conftest import PNID

WA = "5511900000077"


@pytest.fixture
async def sent(db, seeded):
    """``sent(n)``: n outbound messages WhatsApp accepted (status ``sent``); their (id, wamid)."""

    async def make(n: int) -> list[tuple[uuid.UUID, str]]:
        async with db.transaction() as s:
            contact = (await s.execute(text(
                "INSERT INTO contacts (organization_id, whatsapp_id) VALUES (:o, :w) RETURNING id"),
                {"o": seeded.organization_id, "w": WA})).scalar()
            conv = (await s.execute(text(
                "INSERT INTO conversations (organization_id, contact_id, whatsapp_number_id) "
                "VALUES (:o, :c, :n) RETURNING id"),
                {"o": seeded.organization_id, "c": contact, "n": seeded.number_id})).scalar()
            made = []
            for _ in range(n):
                wamid = webhooks.new_wamid()
                mid = (await s.execute(text(
                    "INSERT INTO messages (conversation_id, direction, sender_type, type, content, status, "
                    "whatsapp_message_id, sent_at) VALUES (:c, 'outbound', 'bot', 'text', '{}', 'sent', :w, now()) "
                    "RETURNING id"), {"c": conv, "w": wamid})).scalar()
                made.append((mid, wamid))
        return made

    return make


def payload(*items: tuple[str, str], errors=None) -> dict:
    """One webhook carrying every (wamid, status) of ``items``."""
    docs = [webhooks.status_update(PNID, wamid, status, WA, timestamp=1750000000 + k,
                                   errors=errors if status == "failed" else None)
            for k, (wamid, status) in enumerate(items)]
    doc = docs[0]
    doc["entry"][0]["changes"][0]["value"]["statuses"] = [
        d["entry"][0]["changes"][0]["value"]["statuses"][0] for d in docs]
    return doc


async def status_events(query, mid) -> list[tuple[str, str]]:
    found = await query("SELECT payload FROM events WHERE type = 'message.status' "
                        "AND payload->>'message_id' = :m ORDER BY id", m=str(mid))
    return [(e["payload"]["previous_status"], e["payload"]["status"]) for e in found]


async def test_one_payload_with_many_statuses_applies_each_in_order(sent, webhook, query):
    (a, wa), (b, wb) = await sent(2)
    answer = await webhook(payload((wa, "sent"), (wa, "delivered"), (wb, "delivered"), (wa, "read"),
                                   ("wamid.unknown", "read")))
    assert answer["statuses_matched"] == 4
    rows = {r["id"]: r for r in await query(
        "SELECT id, status, delivered_at, read_at FROM messages WHERE id IN (:a, :b)", a=a, b=b)}
    assert rows[a]["status"] == "read" and rows[a]["delivered_at"] and rows[a]["read_at"]
    assert rows[b]["status"] == "delivered" and rows[b]["read_at"] is None
    # `sent` changed nothing: no event for it
    assert await status_events(query, a) == [("sent", "delivered"), ("delivered", "read")]
    assert await status_events(query, b) == [("sent", "delivered")]


async def test_a_later_status_in_the_same_payload_never_moves_backwards(sent, webhook, query):
    ((mid, wamid),) = await sent(1)
    await webhook(payload((wamid, "read"), (wamid, "delivered"), (wamid, "failed"),
                          errors=[{"code": 131026, "title": "Message undeliverable"}]))
    row = (await query("SELECT status, error_message FROM messages WHERE id = :id", id=mid))[0]
    assert row["status"] == "read" and row["error_message"] is None
    assert await status_events(query, mid) == [("sent", "read")]


async def test_a_redelivered_status_writes_no_event_and_changes_nothing(sent, webhook, query):
    ((mid, wamid),) = await sent(1)
    doc = payload((wamid, "delivered"))
    await webhook(doc)
    before = (await query("SELECT status, delivered_at, metadata FROM messages WHERE id = :id", id=mid))[0]
    assert (await webhook(doc))["statuses_matched"] == 1
    assert (await query("SELECT status, delivered_at, metadata FROM messages WHERE id = :id", id=mid))[0] == before
    assert await status_events(query, mid) == [("sent", "delivered")]


async def test_failed_event_carries_metas_error(sent, webhook, query):
    ((mid, wamid),) = await sent(1)
    await webhook(payload((wamid, "failed"), errors=[{"code": 131026, "title": "Message undeliverable"}]))
    (event,) = await query("SELECT organization_id, ordering_key, payload FROM events "
                           "WHERE type = 'message.status'")
    conv = (await query("SELECT conversation_id FROM messages WHERE id = :id", id=mid))[0]["conversation_id"]
    assert event["ordering_key"] == conv
    assert event["payload"]["status"] == "failed" and event["payload"]["whatsapp_message_id"] == wamid
    assert event["payload"]["error"].startswith("(131026) Message undeliverable")
    assert event["payload"]["meta_errors"][0]["code"] == 131026


async def test_concurrent_webhooks_are_group_committed_and_every_change_has_one_event(sent, webhook, query, db):
    made = await sent(40)
    posts = [payload((wamid, status)) for _, wamid in made for status in ("sent", "delivered", "read")]
    random.Random(3).shuffle(posts)  # Meta promises no order
    xacts = "SELECT pg_stat_force_next_flush(), xact_commit FROM pg_stat_database WHERE datname = current_database()"
    before = (await query(xacts))[0]["xact_commit"]
    answers = await asyncio.gather(*(webhook(doc) for doc in posts))
    assert all(a["statuses_matched"] == 1 for a in answers)
    assert {r["status"] for r in await query("SELECT status FROM messages")} == {"read"}
    for mid, _ in made:  # each message's events chain from sent to read: none lost, none twice
        chain = await status_events(query, mid)
        assert chain[0][0] == "sent" and chain[-1][1] == "read"
        assert all(prev[1] == nxt[0] for prev, nxt in zip(chain, chain[1:]))

    async def counted() -> int:
        await asyncio.sleep(0.6)  # backends report their counters at most every 500 ms
        return (await query(xacts))[0]["xact_commit"] - before

    assert await counted() < len(posts) / 2  # 120 webhooks, far fewer transactions


async def test_a_burst_is_written_in_batches_of_at_most_max_batch_statuses(sent, db, query):
    from api.inbound import StatusBatcher
    from api.whatsapp.payloads import parse_webhook

    made = await sent(10)
    batcher = StatusBatcher(db, max_in_flight=1, max_batch=3)
    # all ten arrive before the first batch is taken (gather starts them in turn)
    answers = await asyncio.gather(*(batcher.apply(parse_webhook(payload((wamid, "delivered"))).statuses)
                                     for _, wamid in made))
    assert answers == [1] * 10
    assert (batcher.batches, batcher.largest) == (4, 3)  # 3 + 3 + 3 + 1, not one statement of 10
    assert {r["status"] for r in await query("SELECT status FROM messages")} == {"delivered"}


async def test_a_webhook_larger_than_max_batch_is_written_whole(sent, db, query):
    from api.inbound import StatusBatcher
    from api.whatsapp.payloads import parse_webhook

    made = await sent(5)
    batcher = StatusBatcher(db, max_batch=2)
    assert await batcher.apply(parse_webhook(payload(*((w, "read") for _, w in made))).statuses) == 5
    assert (batcher.batches, batcher.largest) == (1, 5)
    assert {r["status"] for r in await query("SELECT status FROM messages")} == {"read"}


# -- live conversations first: statuses wait while a customer's reply is being made --------

def _statuses(wamid: str, status: str = "delivered"):
    from api.whatsapp.payloads import parse_webhook

    return parse_webhook(payload((wamid, status))).statuses


async def test_statuses_arriving_while_a_reply_is_made_wait_and_are_written_together(sent, db, query):
    from api.inbound import StatusBatcher

    (_, first), (_, second) = await sent(2)
    # the reply window and the longest wait far beyond the test: only defer_batch statuses end the wait
    batcher = StatusBatcher(db, defer_batch=2, live_window=600, max_defer=600)
    batcher.live()  # a customer's message was just stored
    early = asyncio.create_task(batcher.apply(_statuses(first)))
    for _ in range(5):  # without the wait, the first status would be taken and written alone here
        await asyncio.sleep(0)
    assert not early.done()
    assert await asyncio.wait_for(asyncio.gather(early, batcher.apply(_statuses(second))), 60) == [1, 1]
    assert (batcher.batches, batcher.largest) == (1, 2)  # one statement, after the reply's work
    assert {r["status"] for r in await query("SELECT status FROM messages")} == {"delivered"}


async def test_a_status_waits_for_a_reply_no_longer_than_max_defer(sent, db, query):
    from api.inbound import StatusBatcher

    [(mid, wamid)] = await sent(1)
    batcher = StatusBatcher(db, live_window=600, max_defer=0.05)
    batcher.live()
    assert await asyncio.wait_for(batcher.apply(_statuses(wamid, "read")), 60) == 1  # not the 600 s window
    assert (await query("SELECT status FROM messages WHERE id = :m", m=mid))[0]["status"] == "read"


async def test_with_no_message_traffic_a_status_is_written_at_once(sent, db, query):
    from api.inbound import StatusBatcher

    [(mid, wamid)] = await sent(1)
    batcher = StatusBatcher(db, max_defer=600)  # no message was stored: nothing to wait for
    assert await asyncio.wait_for(batcher.apply(_statuses(wamid, "read")), 60) == 1
    assert (await query("SELECT status FROM messages WHERE id = :m", m=mid))[0]["status"] == "read"
