"""The outbox sender: 24-hour window, retries, permanent errors, never twice, rate limits, order."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from api.outbox import insert_outbound, outbound_rows
from api.outbox import OUTSIDE_WINDOW, RETRY_KEY, Sender, reconcile_abandoned_claims
from api.inbound import apply_statuses
from api.sandbox import webhooks
from api.whatsapp.payloads import parse_webhook

TEMPLATE = {"type": "template", "content": {"name": "pedido_pronto", "language": "pt_BR", "parameters": ["Ana"]}}


def text_msg(body):
    return {"type": "text", "content": {"text": body}}


async def conversation_with(local, wa_id, *messages):
    result = await local.receive(wa_id, "oi")
    conversation = result.conversations[0]
    async with local.db.transaction() as s:
        ids = await insert_outbound(s, outbound_rows(conversation, list(messages)))
    return conversation, ids


async def row(query, message_id):
    return (await query("SELECT * FROM messages WHERE id = :id", id=message_id))[0]


async def test_free_form_outside_24h_window_fails_with_reason_and_is_never_sent(local, query, db):
    conversation, (free, template) = await conversation_with(local, "5511900000030", text_msg("oi de novo"), TEMPLATE)
    async with db.transaction() as s:
        await s.execute(text("UPDATE conversations SET twenty_four_hour_window_expires_at = now() - interval '1 hour'"))
    await Sender(local.rt).deliver_conversation(conversation)
    failed, sent = await row(query, free), await row(query, template)
    assert failed["status"] == "failed" and failed["error_message"] == OUTSIDE_WINDOW
    assert sent["status"] == "sent" and sent["whatsapp_message_id"]
    assert [m["type"] for m in local.sandbox.state.accepted] == ["template"]


async def test_inside_the_window_free_form_goes_out(local, query):
    conversation, (free,) = await conversation_with(local, "5511900000031", text_msg("olá"))
    await Sender(local.rt).deliver_conversation(conversation)
    assert (await row(query, free))["status"] == "sent"
    assert local.sandbox.state.accepted[0]["payload"]["text"]["body"] == "olá"


async def test_transient_error_is_retried_later_and_sent_once(local, query, db, redis):
    conversation, (mid,) = await conversation_with(local, "5511900000032", text_msg("tenta de novo"))
    local.sandbox.state.faults.append(__import__("api.sandbox.server", fromlist=["Fault"]).Fault(130429, 1))
    sender = Sender(local.rt)
    await sender.deliver_conversation(conversation)
    pending = await row(query, mid)
    assert pending["status"] == "pending" and pending["metadata"]["next_attempt_at"]
    assert "130429" in pending["metadata"]["last_error"]
    assert await redis.zscore(RETRY_KEY, str(conversation)) is not None
    async with db.transaction() as s:  # the backoff has elapsed
        await s.execute(text("UPDATE messages SET metadata = jsonb_set(metadata, '{next_attempt_at}', "
                             "to_jsonb((now() - interval '1 second')::text)) WHERE id = :id"), {"id": mid})
    await sender.deliver_conversation(conversation)
    assert (await row(query, mid))["status"] == "sent"
    assert len(local.sandbox.state.accepted) == 1 and len(local.sandbox.state.rejected) == 1


async def test_permanent_error_marks_failed_with_metas_code_and_message(local, query):
    conversation, (mid,) = await conversation_with(local, "5511900131026", text_msg("oi"))
    await Sender(local.rt).deliver_conversation(conversation)
    failed = await row(query, mid)
    assert failed["status"] == "failed" and failed["failed_at"] is not None
    assert failed["error_message"].startswith("(131026)")
    assert failed["metadata"]["meta_error"]["code"] == 131026
    assert local.sandbox.state.accepted == []


async def test_later_messages_wait_for_an_earlier_one_being_retried(local, query, db):
    from api.sandbox.server import Fault

    conversation, ids = await conversation_with(local, "5511900000033", text_msg("1"), text_msg("2"), text_msg("3"))
    local.sandbox.state.faults.append(Fault(131000, 1))
    sender = Sender(local.rt)
    await sender.deliver_conversation(conversation)
    assert local.sandbox.state.accepted == []
    async with db.transaction() as s:
        await s.execute(text("UPDATE messages SET metadata = metadata - 'next_attempt_at' WHERE id = :id"), {"id": ids[0]})
    await sender.deliver_conversation(conversation)
    assert [m["payload"]["text"]["body"] for m in local.sandbox.state.accepted] == ["1", "2", "3"]


async def claim(db, message_id, minutes_ago=0):
    claimed_at = (datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)).isoformat()
    async with db.transaction() as s:
        await s.execute(text("UPDATE messages SET metadata = metadata || CAST(:m AS jsonb) WHERE id = :id"),
                        {"id": message_id, "m": json.dumps({"claim_token": "dead-worker", "claimed_at": claimed_at,
                                                            "sending_attempt": 1})})


async def test_row_claimed_by_a_dead_worker_is_never_resent(local, query, db):
    conversation, (mid,) = await conversation_with(local, "5511900000034", text_msg("só uma vez"))
    await claim(db, mid, minutes_ago=10)  # the worker died before its request
    sender = Sender(local.rt)
    await sender.deliver_conversation(conversation)
    assert local.sandbox.state.accepted == []
    assert await reconcile_abandoned_claims(local.rt) == 1
    failed = await row(query, mid)
    assert failed["status"] == "failed" and failed["metadata"]["delivery_unknown"] is True
    await sender.deliver_conversation(conversation)
    assert local.sandbox.state.accepted == []


async def test_worker_dying_after_the_request_sends_once_and_the_status_webhook_fixes_the_row(local, query, db):
    conversation, (mid,) = await conversation_with(local, "5511900000035", text_msg("chegou?"))
    await claim(db, mid, minutes_ago=10)
    # the dead worker's request did reach WhatsApp, then it died before recording the answer
    result = await local.rt.graph.send_message("100200300", "t", "5511900000035", "text", {"text": "chegou?"},
                                               callback_data=str(mid))
    sender = Sender(local.rt)
    await sender.deliver_conversation(conversation)
    await reconcile_abandoned_claims(local.rt)
    await sender.deliver_conversation(conversation)
    assert len(local.sandbox.state.accepted) == 1
    doc = webhooks.status_update("100200300", result.wamid, "delivered", "5511900000035", callback_data=str(mid))
    async with db.transaction() as s:
        await apply_statuses(s, parse_webhook(doc).statuses)
    fixed = await row(query, mid)
    assert fixed["status"] == "delivered" and fixed["whatsapp_message_id"] == result.wamid


async def test_rate_limit_holds_across_two_senders(local, other_worker, query, db):
    rate = 5
    async with db.transaction() as s:
        await s.execute(text("UPDATE whatsapp_numbers SET settings = CAST(:s AS jsonb)"),
                        {"s": json.dumps({"rate_limit_per_second": rate, "pair_rate_limit": None})})
    conversations = []
    for i in range(20):
        conversation, _ = await conversation_with(local, f"55119000010{i:02d}", text_msg(f"promo {i}"))
        conversations.append(conversation)
    first, second = Sender(local.rt), Sender(other_worker.rt)
    started = time.time()
    await asyncio.gather(first.deliver_conversations(conversations), second.deliver_conversations(conversations[::-1]))
    times = sorted(m["received_at"] for m in local.sandbox.state.accepted)
    assert len(times) == 20  # every message once, none twice
    # one bucket for both senders grants sends 1/rate apart (GCRA, on Redis' clock, which is this
    # machine's): the 20th cannot arrive before 19/rate s after the start, however late any request
    # travelled (a bound on arrivals within 1 s windows would break with transport delays)
    assert times[-1] - started >= (len(times) - 1) / rate


async def test_a_conversations_rows_go_out_in_order_each_recorded_sent_once(local, query):
    conversation, ids = await conversation_with(local, "5511900000036", *[text_msg(f"parte {i}") for i in range(7)])
    assert await Sender(local.rt).deliver_conversation(conversation) == 7
    assert [m["payload"]["text"]["body"] for m in local.sandbox.state.accepted] == [f"parte {i}" for i in range(7)]
    for mid in ids:  # every answer written, the last one too (no later claim to carry it)
        sent = await row(query, mid)
        assert sent["status"] == "sent" and sent["whatsapp_message_id"] and sent["metadata"]["accepted_at"]
        assert sent["metadata"]["sent_by"] == sent["metadata"]["claim_token"]


async def test_a_failure_between_sends_keeps_the_earlier_answer(local, query, db):
    conversation, (first, free, last) = await conversation_with(
        local, "5511900000037", TEMPLATE, text_msg("fora da janela"), TEMPLATE)
    async with db.transaction() as s:
        await s.execute(text("UPDATE conversations SET twenty_four_hour_window_expires_at = now() - interval '1 hour'"))
    assert await Sender(local.rt).deliver_conversation(conversation) == 2
    assert [(await row(query, m))["status"] for m in (first, free, last)] == ["sent", "failed", "sent"]
    assert len(local.sandbox.state.accepted) == 2


async def test_rate_limiter_grants_several_sends_only_within_the_burst(redis):
    from api.outbox import Limit, SendRateLimiter

    limiter = SendRateLimiter(redis)
    # rates per hour: however slowly the calls follow each other here, no new send comes due between them
    one_at_a_time = Limit(rate=2, per_seconds=3600, burst=1)
    assert await limiter.try_acquire_many("pn-1", "r", one_at_a_time, None, n=5) == (1, 0.0)
    granted, wait = await limiter.try_acquire_many("pn-1", "r", one_at_a_time, None, n=5)
    assert granted == 0 and 0 < wait <= 1800
    bursty = Limit(rate=10, per_seconds=3600, burst=4)
    assert (await limiter.try_acquire_many("pn-2", "r", bursty, None, n=10))[0] == 4
    assert (await limiter.try_acquire_many("pn-2", "r", bursty, None, n=10))[0] == 0
    # the pair bucket limits too: the smaller grant wins
    pair = Limit(rate=1, per_seconds=6, burst=2)
    assert (await limiter.try_acquire_many("pn-3", "r", Limit(rate=1000, burst=50), pair, n=10))[0] == 2


async def test_lease_and_rate_limit_in_one_round_trip(redis):
    from api.outbox import sender_lease
    from api.outbox import Limit, SendRateLimiter

    limiter = SendRateLimiter(redis)
    limit = Limit(rate=10, per_seconds=3600, burst=3)  # per hour: no send comes due during the test
    holder = sender_lease(redis, "c-hint")
    assert await limiter.lease_and_take(holder, "pn-h", "r", limit, None, n=5) == 3
    assert holder.token
    other = sender_lease(redis, "c-hint")
    assert await limiter.lease_and_take(other, "pn-h", "r", limit, None, n=5) is None  # taken: no sends either
    await holder.release()
    assert holder.missed is True  # the bounced attempt left its mark
    assert (await limiter.try_acquire_many("pn-h", "r", limit, None, n=5))[0] == 0  # the burst was used once


# The processor's hand-off (`SendHint`): the rate-limit sends are taken first,
# then the pending rows are read with the first one claimed in the same statement.

def hint_for(wa_id, rows):
    from api.outbox import SendHint

    from tests.runtime.conftest import PNID

    return SendHint(PNID, wa_id, {}, rows)


async def test_a_hand_off_sends_each_row_once_in_order_with_its_attempt_recorded(local, query):
    conversation, ids = await conversation_with(local, "5511900000040", text_msg("1"), text_msg("2"))
    assert await Sender(local.rt).deliver_conversation(conversation, hint_for("5511900000040", 2)) == 2
    assert [m["payload"]["text"]["body"] for m in local.sandbox.state.accepted] == ["1", "2"]
    for mid in ids:
        sent = await row(query, mid)
        assert sent["status"] == "sent" and sent["whatsapp_message_id"]
        assert sent["metadata"]["sending_attempt"] == 1 and sent["metadata"]["claim_token"]


async def test_a_hand_off_outside_the_window_claims_nothing_and_fails_the_free_form_row(local, query, db):
    conversation, (free, template) = await conversation_with(local, "5511900000041", text_msg("fora"), TEMPLATE)
    async with db.transaction() as s:
        await s.execute(text("UPDATE conversations SET twenty_four_hour_window_expires_at = now() - interval '1 hour'"))
    await Sender(local.rt).deliver_conversation(conversation, hint_for("5511900000041", 2))
    failed = await row(query, free)
    assert failed["status"] == "failed" and failed["error_message"] == OUTSIDE_WINDOW
    assert "claim_token" not in failed["metadata"]
    assert [m["type"] for m in local.sandbox.state.accepted] == ["template"]


async def test_a_hand_off_leaves_a_row_whose_retry_is_due_later_unclaimed_and_unsent(local, query, db):
    conversation, (mid,) = await conversation_with(local, "5511900000042", text_msg("depois"))
    later = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    async with db.transaction() as s:
        await s.execute(text("UPDATE messages SET metadata = metadata || jsonb_build_object('next_attempt_at', "
                             "CAST(:t AS text), 'sending_attempt', 1) WHERE id = :id"), {"id": mid, "t": later})
    assert await Sender(local.rt).deliver_conversation(conversation, hint_for("5511900000042", 1)) == 0
    waiting = await row(query, mid)
    assert waiting["status"] == "pending" and "claim_token" not in waiting["metadata"]
    assert local.sandbox.state.accepted == []


async def test_a_retried_row_sent_through_a_hand_off_counts_its_attempt(local, query, db):
    conversation, (mid,) = await conversation_with(local, "5511900000043", text_msg("de novo"))
    async with db.transaction() as s:  # a first attempt failed transiently; its backoff has elapsed
        await s.execute(text("UPDATE messages SET metadata = metadata || '{\"sending_attempt\": 2}'::jsonb "
                             "WHERE id = :id"), {"id": mid})
    await Sender(local.rt).deliver_conversation(conversation, hint_for("5511900000043", 1))
    sent = await row(query, mid)
    assert sent["status"] == "sent" and sent["metadata"]["sending_attempt"] == 3


async def test_the_senders_read_uses_the_outbox_index_not_every_row(local, db):
    """Rows pending elsewhere (a campaign blast, a busy conversation), or sent before in the
    same conversation, must not be walked by each conversation's read: with the generic plan
    the raw pool's connections use, both forms of the read probe the outbox index (its
    predicate is what ``pending`` implies, migration 0023) and read a few entries.

    The blast spans 300 conversations, as a real one does: the generic plan estimates a
    conversation's share of the rows from how many conversations there are, and with two
    it would rate a walk of every row in time order (the created_at index) within a few
    percent of the outbox index, and take it once earlier tests' deleted rows bloat the
    latter."""
    from api.outbox import pending_rows

    busy, _ = await conversation_with(local, "5511900000044", *[text_msg(str(i)) for i in range(300)])
    quiet, (only,) = await conversation_with(local, "5511900000045", text_msg("só esta"))
    async with db.transaction() as s:
        await s.execute(text(  # the blast: a template pending for each of 300 other contacts
            "WITH n AS (SELECT organization_id AS org, whatsapp_number_id AS number FROM conversations WHERE id = :c),"
            " ct AS (INSERT INTO contacts (organization_id, whatsapp_id) SELECT n.org, '5511800' || lpad(g::text, 6, '0')"
            "        FROM n, generate_series(1, 300) g RETURNING id, organization_id),"
            " cv AS (INSERT INTO conversations (organization_id, contact_id, whatsapp_number_id)"
            "        SELECT ct.organization_id, ct.id, n.number FROM ct, n RETURNING id)"
            " INSERT INTO messages (conversation_id, direction, sender_type, type, content, status, created_at)"
            " SELECT cv.id, 'outbound', 'bot', 'template', '{}', 'pending', now() FROM cv"), {"c": busy})
        await s.execute(text(  # the quiet conversation's history: 300 rows sent and answered
            "INSERT INTO messages (conversation_id, direction, sender_type, type, content, status, "
            "whatsapp_message_id, sent_at, created_at) SELECT :c, 'outbound', 'bot', 'text', '{}', 'read', "
            "'wamid.history' || g, now(), now() - g * interval '1 second' FROM generate_series(1, 300) g"),
            {"c": quiet})
    # index scans and entries read this transaction made so far: the outbox index's, all of them
    reads = ("SELECT coalesce(sum(pg_stat_get_xact_numscans(i.inhrelid)) FILTER (WHERE i.inhparent = "
             "CAST('idx_messages_outbox' AS regclass)), 0), coalesce(sum(pg_stat_get_xact_tuples_returned(x.indexrelid)), 0)"
             " FROM pg_index x JOIN pg_inherits t ON t.inhrelid = x.indrelid AND t.inhparent = CAST('messages' AS regclass)"
             " LEFT JOIN pg_inherits i ON i.inhrelid = x.indexrelid")
    async with db.raw() as conn:
        await conn.execute("ANALYZE messages")
        assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        for claim in (None, "t"):
            tx = conn.transaction()
            await tx.start()
            try:
                before = await conn.fetchrow(reads)
                rows = await pending_rows(conn, quiet, 20, claim)
                after = await conn.fetchrow(reads)
            finally:
                await tx.rollback()  # the claim is not kept
            assert [r["id"] for r in rows] == [only]
            assert after[0] > before[0], "the outbox index was not read"
            assert after[1] - before[1] <= 5, "entries of other rows were read: the busy or the sent ones"


async def test_a_send_that_times_out_is_reported_as_timed_out_not_resent(local, query, db, redis, settings):
    """A Graph API that takes the request and never answers: the row fails at once as
    delivery unknown, saying the request timed out (not that the sender stopped)."""
    from api.runtime_context import Runtime
    from api.whatsapp.graph_client import GraphClient

    held: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # read the request, answer nothing
        await reader.read(65536)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conversation, (mid,) = await conversation_with(local, "5511900000039", text_msg("chegou?"))
    rt = Runtime.build(db, redis, settings, graph=GraphClient(f"http://127.0.0.1:{port}", "v21.0", timeout=0.5))
    try:
        await Sender(rt).deliver_conversation(conversation)
        await Sender(rt).deliver_conversation(conversation)  # never sent again
    finally:
        await rt.close()
        server.close()
        for writer in held:
            writer.close()
    assert len(held) == 1
    failed = await row(query, mid)
    assert failed["status"] == "failed" and failed["metadata"]["delivery_unknown"] is True
    assert failed["error_message"].startswith("delivery unknown: Graph API request timed out after 0.5 s")
    assert "sender stopped" not in failed["error_message"]


async def test_the_sweep_queues_a_reply_whose_wake_up_was_lost_and_not_rows_sent_or_failed(local, db, redis):
    """A reply waiting in the outbox whose send task was lost (a worker killed, Redis losing
    its data) is queued for delivery by the maintenance sweep; a conversation whose rows were
    all sent or failed is not (the sweep reads the rows waiting, ``api.outbox.WAITING``)."""
    from api.workers import maintenance
    from api.workers.queue import DELIVER_CONVERSATIONS, LANES

    waiting, _ = await conversation_with(local, "5511900000046", text_msg("perdida"))
    done, (sent, failed) = await conversation_with(local, "5511900000047", text_msg("lida"), text_msg("falhou"))
    async with db.transaction() as s:
        await s.execute(text("UPDATE messages SET status = 'read', whatsapp_message_id = 'wamid.swept', sent_at = now() "
                             "WHERE id = :id"), {"id": sent})
        await s.execute(text("UPDATE messages SET status = 'failed', failed_at = now() WHERE id = :id"), {"id": failed})
    await redis.delete(*LANES)  # every wake-up lost
    for full in (True, False):  # every row, then from the watermark (another period: woken again)
        await redis.delete(*(f"{maintenance.WOKEN}deliver:{{{c}}}" for c in (waiting, done)))
        await maintenance.sweep(local.rt, timedelta(0), full=full)
        tasks = [json.loads(t) for lane in LANES for t in await redis.lrange(lane, 0, -1)]
        await redis.delete(*LANES)
        queued = {c for t in tasks if t["task_name"] == DELIVER_CONVERSATIONS for c in t["args"][0]}
        assert str(waiting) in queued and str(done) not in queued, (full, queued)
