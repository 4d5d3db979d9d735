"""Outbound webhooks against real receivers on 127.0.0.1: signed, retried with
backoff, delivered once, in order per conversation, disabled after a run of failures."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import random
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from api.events.webhooks import Deliverer, retry_delay
from tests.events.conftest import until, write_events

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


# -- the snippet of docs/events.md, verbatim ------------------------------------
def verify_signature(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])
# -------------------------------------------------------------------------------


def test_the_documented_snippet_is_the_one_tested():
    assert inspect.getsource(verify_signature).strip() in DOCS.read_text()


async def _deliveries(db, **where) -> list[dict]:
    cond = " AND ".join(f"{k} = :{k}" for k in where) or "true"
    async with db.session() as s:
        rows = await s.execute(text(f"SELECT * FROM webhook_deliveries WHERE {cond} ORDER BY event_id"), where)
        return [dict(r) for r in rows.mappings()]


async def test_a_subscribed_event_arrives_signed_with_its_envelope(db, org, make_webhook, receiver, deliverers):
    conv = uuid.uuid4()
    await make_webhook(receiver.url, ["conversation.closed"])
    await write_events(db, org, ("conversation.closed", {"conversation": {"id": str(conv)}}, conv),
                       ("flow.started", {"not": "subscribed"}, conv))
    deliverers(1)
    await receiver.wait_for(lambda r: len(r.received) == 1)
    got = receiver.received[0]
    assert verify_signature("s3cret-signing", got.headers["X-PyTake-Signature"], got.body)
    assert not verify_signature("another-secret", got.headers["X-PyTake-Signature"], got.body)
    assert got.headers["X-PyTake-Event"] == "conversation.closed"
    envelope = got.json
    assert envelope["type"] == "conversation.closed" and envelope["version"] == 1
    assert envelope["organization_id"] == str(org) and envelope["data"] == {"conversation": {"id": str(conv)}}
    [row] = await until(lambda: _done(db))
    assert str(row["id"]) == got.headers["X-PyTake-Delivery"]
    assert row["state"] == "delivered" and row["attempt_number"] == 1 and row["event_id"] == envelope["id"]
    assert row["attempts"][0]["status_code"] == 200 and row["attempts"][0]["response"] == "ok"


async def _done(db):
    rows = await _deliveries(db)
    return rows if rows and all(r["state"] in ("delivered", "dead") for r in rows) else None


async def test_retries_back_off_and_a_receiver_down_for_a_while_gets_everything(
        db, org, make_webhook, receiver, deliverers):
    down_until = 4  # the first 4 requests fail: 503
    receiver.answer = lambda r, _b: 503 if len(r.received) < down_until else 200
    await make_webhook(receiver.url)
    await write_events(db, org, ("contact.created", {"n": 1}, None))
    deliverers(1)
    await receiver.wait_for(lambda r: len(r.accepted()) == 1)
    [row] = await until(lambda: _done(db))
    assert row["state"] == "delivered" and row["attempt_number"] == 5
    codes = [a["status_code"] for a in row["attempts"]]
    assert codes == [503, 503, 503, 503, 200]
    assert len(row["attempts"][0]["response"].encode()) <= 1024
    # the gaps between attempts grow (30 s, 2 m, 10 m, 30 m scaled by 0.002)
    arrivals = [a["at"] for a in row["attempts"]]
    from datetime import datetime
    times = [datetime.fromisoformat(t) for t in arrivals]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    assert gaps[0] >= 0.05 and gaps[1] > gaps[0] and gaps[2] > gaps[1] and gaps[3] > gaps[2]
    # ... and events written meanwhile, and after, all arrive
    await write_events(db, org, *(("contact.updated", {"n": i}, None) for i in range(2, 12)))
    await receiver.wait_for(lambda r: len(r.accepted()) == 11)
    assert sorted(e["data"]["n"] for e in receiver.accepted()) == list(range(1, 12))


def test_the_default_schedule_spans_about_a_day_in_eight_retries():
    random.seed(7)
    total = sum(retry_delay(n, 30) for n in range(1, 9))
    assert 18 * 3600 < total < 28 * 3600
    assert 27 <= retry_delay(1, 30) <= 33 and 0.9 * 12 * 3600 <= retry_delay(8, 30) <= 1.1 * 12 * 3600


async def test_nothing_is_delivered_twice_with_two_deliverers_racing(db, org, make_webhook, receiver, deliverers):
    async def slow_ok(_r, _b):
        await asyncio.sleep(random.random() / 100)
        return 200
    receiver.answer = slow_ok
    await make_webhook(receiver.url)
    await make_webhook(receiver.url, ["message.received"])  # a second subscription: its own copy
    await write_events(db, org, *(("message.received", {"n": i}, None) for i in range(150)))
    deliverers(2)
    await receiver.wait_for(lambda r: len(r.received) >= 300)
    await until(lambda: _done(db))
    deliveries = [r.headers["X-PyTake-Delivery"] for r in receiver.received]
    retried = [r["attempts"] for r in await _deliveries(db) if r["attempt_number"] != 1]
    assert len(deliveries) == len(set(deliveries)) == 300, retried


async def test_one_conversation_s_events_arrive_in_order_under_concurrency(
        db, org, make_webhook, receiver, deliverers):
    async def jittery(_r, _b):
        await asyncio.sleep(random.random() / 50)
        return 503 if random.random() < 0.1 else 200  # a few retries, too
    receiver.answer = jittery
    await make_webhook(receiver.url)
    convs = [uuid.uuid4() for _ in range(6)]
    deliverers(2)
    for burst in range(4):
        await write_events(db, org, *(("message.received", {"c": str(c), "n": burst * 5 + i}, c)
                                      for i in range(5) for c in convs))
    await receiver.wait_for(lambda r: len(r.accepted()) == 6 * 20, timeout=60)
    for c in convs:
        seen = [e["data"]["n"] for e in receiver.accepted() if e["data"]["c"] == str(c)]
        assert seen == list(range(20))


async def test_a_run_of_failures_disables_the_webhook_with_an_audit_entry(
        db, org, make_webhook, receiver, deliverers):
    receiver.answer = lambda _r, _b: 500
    hook = await make_webhook(receiver.url, failure_threshold=3, max_retries=1)
    await write_events(db, org, *(("contact.created", {"n": i}, uuid.uuid4()) for i in range(4)))
    deliverers(1)

    async def disabled():
        async with db.session() as s:
            row = (await s.execute(text("SELECT * FROM webhooks WHERE id = :id"), {"id": hook})).mappings().one()
            return row if row["is_active"] is False else None

    row = await until(disabled)
    assert int(row["disabled_reason"].split()[2]) >= 3 and row["disabled_reason"].endswith("consecutive failed deliveries")
    rows = await until(lambda: _done(db))
    assert {r["state"] for r in rows} == {"dead"}  # nothing left pending, every one visible
    async with db.session() as s:
        audit = (await s.execute(text("SELECT * FROM audit_logs WHERE resource_id = :id"), {"id": hook})).mappings().one()
    assert audit["action"] == "webhook.disabled" and audit["organization_id"] == org
    sent = len(receiver.received)
    await write_events(db, org, ("contact.created", {"n": 99}, None))
    async with db.raw() as conn:  # the loop looked at the new event and made nothing of it
        await until(lambda: conn.fetchval("SELECT cursor_id >= (SELECT max(id) FROM events) "
                                          "FROM event_consumers WHERE name = 'webhooks'"))
    assert len(receiver.received) == sent


async def test_private_addresses_are_refused_unless_allowed(db, org, make_webhook, receiver, delivery_settings):
    from dataclasses import replace
    hook = await make_webhook(receiver.url, max_retries=0)
    await write_events(db, org, ("contact.created", {}, None))
    deliverer = Deliverer(db, replace(delivery_settings, webhooks_allow_private_networks=False))
    try:
        from api.events.webhooks import dispatch
        # dispatched once no transaction older than the event's runs (on the whole server)
        await until(lambda: dispatch(db))
        assert await deliverer.deliver_due() == 1
    finally:
        await deliverer.aclose()
    [row] = await _deliveries(db, webhook_id=hook)
    assert row["state"] == "dead" and "loopback" in row["error_message"]
    assert "which webhooks may not reach" in row["error_message"]  # not "flows": the user set up a webhook
    assert receiver.received == []


@pytest.mark.parametrize("host", ["\u2460\u2461\u2466.0.0.1", "\uff11\uff12\uff17.\uff10.\uff10.\uff11"])
async def test_an_ip_written_in_other_digits_is_refused_as_the_address_it_connects_to(
        db, org, make_webhook, receiver, delivery_settings, host):
    """yarl (the connection) reads "①②⑦.0.0.1" as 127.0.0.1 where httpx (the guard) failed to
    parse it: the round raised, no attempt was recorded and the delivery came back every lease."""
    from dataclasses import replace

    from api.events.webhooks import dispatch
    hook = await make_webhook(receiver.url.replace("127.0.0.1", host), max_retries=0)
    await write_events(db, org, ("contact.created", {}, None))
    deliverer = Deliverer(db, replace(delivery_settings, webhooks_allow_private_networks=False))
    try:
        await until(lambda: dispatch(db))
        assert await deliverer.deliver_due() == 1
    finally:
        await deliverer.aclose()
    [row] = await _deliveries(db, webhook_id=hook)
    assert row["state"] == "dead" and "127.0.0.1" in row["error_message"] and "loopback" in row["error_message"]
    assert receiver.received == []


async def test_a_dispatch_in_one_worker_wakes_the_deliverers_of_the_others(
        db, redis, org, make_webhook, receiver, delivery_settings):
    from dataclasses import replace

    from api.events.webhooks import dispatch, start, wake_channel
    await make_webhook(receiver.url)
    stop = asyncio.Event()
    # another worker's loop that would look again only in an hour: only the wake-up can move it
    task = start(db, replace(delivery_settings, webhooks_poll_seconds=3600.0), stop, redis)
    try:
        await until(lambda: _subscribed(redis, wake_channel(db)))
        await write_events(db, org, ("contact.created", {"contact": {"id": "c"}}, None))
        await until(lambda: dispatch(db, redis=redis))  # this worker's dispatcher
        await receiver.wait_for(lambda r: len(r.received) == 1)
        [row] = await until(lambda: _done(db))
        assert row["state"] == "delivered"
    finally:
        stop.set()
        await task


async def _subscribed(redis, channel: str) -> bool:
    return dict(await redis.pubsub_numsub(channel)).get(channel.encode(), 0) > 0


async def test_a_name_resolving_to_a_private_address_is_refused_too(db, org, make_webhook, receiver,
                                                                    delivery_settings):
    from dataclasses import replace

    from api.events.webhooks import dispatch
    hook = await make_webhook(receiver.url.replace("127.0.0.1", "localhost"), max_retries=0)
    await write_events(db, org, ("contact.created", {}, None))
    deliverer = Deliverer(db, replace(delivery_settings, webhooks_allow_private_networks=False))
    try:
        await until(lambda: dispatch(db))
        assert await deliverer.deliver_due() == 1
    finally:
        await deliverer.aclose()
    [row] = await _deliveries(db, webhook_id=hook)
    assert row["state"] == "dead" and "localhost resolves to" in row["error_message"]
    assert receiver.received == []


async def test_an_idn_host_is_resolved_as_the_name_sent_on_the_wire(db, receiver, delivery_settings):
    """``faß.test`` goes out as ``xn--fa-hia.test``; the guard looked up ``fass.test`` (the
    system resolver's IDNA 2003 of the Unicode form), another domain, and dialled its address."""
    deliverer = Deliverer(db, delivery_settings)
    lookups = []

    async def resolver(host, port):
        lookups.append(host)
        return ["127.0.0.1"]

    deliverer.guard.resolver = resolver
    try:
        attempt = await deliverer.post(receiver.url.replace("127.0.0.1", "fa\u00df.test"), None, "webhook.test",
                                       uuid.uuid4(), {"id": 0})
    finally:
        await deliverer.aclose()
    assert attempt.ok, attempt.error
    assert lookups == ["xn--fa-hia.test"]
    assert receiver.received[0].headers["Host"].startswith("xn--fa-hia.test:")
