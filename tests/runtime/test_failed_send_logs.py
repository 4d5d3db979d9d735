"""A message that fails before it is sent has a whole message log: its text, type, direction,
conversation and contact, with the failure's reason (and Meta's error code), though it never
had a ``message.sent``. Every way such a send fails: Meta refuses it (a conversation's reply
through the sandbox, a campaign's template), PyTake refuses it before the Graph call (the
24-hour window), its sender died after claiming it, or Meta's status webhook fails it while
the row is still pending. And a message Meta accepted whose sender died before recording it.
Read through GET /logs/messages (end to end) or the store."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import text

from api.inbound.statuses import apply_statuses
from api.logstore import MessageQuery, event_backlog, feed_once
from api.logstore.postgres import PostgresLogStore
from api.outbox import Sender, insert_outbound, outbound_rows, reconcile_abandoned_claims
from api.sandbox import webhooks
from api.whatsapp.payloads import parse_webhook
from tests.runtime.campaign_helpers import Api as CampaignApi, approved_template, prepare_number
from tests.runtime.conftest import PNID, Api, user_headers
from tests.runtime.test_sender import claim

REFUSED = "5511900131026"  # the sandbox answers 131026 (Message undeliverable) to this number


async def _fed(db) -> None:
    """Every committed event taken by the log store (`logs` consumer rounds until none waits)."""
    store = PostgresLogStore(db)
    while True:
        await feed_once(db, store)
        if await event_backlog(db) == 0:
            return


async def _logged(servers, db, message_id: Any) -> None:
    """Wait until the message has a log: the store is polled, not the route (its rate limit)."""
    store = PostgresLogStore(db)

    async def found():
        await _fed(db)
        rows = await store.search_messages(MessageQuery(servers.seeded.organization_id, status="failed"))
        return any(r["message_id"] == message_id for r in rows)
    await servers.wait_for(found)


def _failed_entry(log: dict[str, Any]) -> dict[str, Any]:
    (entry,) = log["status_history"]
    assert entry["status"] == "failed" and log["status"] == "failed"
    return entry


async def test_a_reply_meta_refuses_is_logged_with_its_text_direction_and_metas_error(servers, add, flows, db):
    await add("cadastro", flows["name"])
    await servers.customer_says(REFUSED, "oi")
    failed = "SELECT m.id, c.id AS conversation_id, c.contact_id FROM messages m " \
             "JOIN conversations c ON c.id = m.conversation_id WHERE m.direction = 'outbound' AND m.status = 'failed'"
    (reply,) = await servers.wait_for(lambda: _rows(db, failed))
    assert servers.inbox(REFUSED) == []  # Meta (the sandbox) refused it: the customer got nothing
    api = Api(servers, await user_headers(db, servers.seeded.organization_id))
    await _logged(servers, db, reply["id"])
    page = await api.ok("GET", f"/logs/messages?conversation_id={reply['conversation_id']}&direction=outbound")
    (log,) = page["items"]
    assert log["message_id"] == str(reply["id"]) and log["text"] == "Qual seu nome?"
    assert log["type"] == "text" and log["content"]["text"] == "Qual seu nome?"
    assert (log["direction"], log["sender_type"]) == ("outbound", "bot")
    assert (log["conversation_id"], log["contact_id"]) == (str(reply["conversation_id"]), str(reply["contact_id"]))
    entry = _failed_entry(log)
    assert entry["error_code"] == 131026 and "undeliverable" in entry["error"]
    page = await api.ok("GET", "/logs/messages?q=nome&status=failed")  # found by its words, as a failure
    assert [i["message_id"] for i in page["items"]] == [str(reply["id"])]


async def test_a_campaign_send_meta_refuses_is_logged_with_its_template(servers, db):
    org = servers.seeded.organization_id
    await prepare_number(db, servers.seeded.number_id, org)
    campaigns = CampaignApi(servers.client, servers.pytake_url, await user_headers(db, org))
    template = await approved_template(campaigns, servers.seeded.number_id, servers.wait_for)
    async with db.transaction() as s:
        await s.execute(text("INSERT INTO contacts (organization_id, whatsapp_id, tags) VALUES (:org, :wa, '{vip}')"),
                        {"org": org, "wa": REFUSED})
    campaign = await campaigns.ok("POST", "/campaigns", {"name": "Semana", "template_id": template,
                                                         "message_content": {"body": ["10%"]},
                                                         "target_filters": {"tags": ["vip"]}}, status=201)
    await campaigns.ok("POST", f"/campaigns/{campaign['id']}/start", {})
    (message,) = await servers.wait_for(lambda: _rows(
        db, "SELECT r.message_id, m.content FROM campaign_recipients r JOIN messages m ON m.id = r.message_id "
            "WHERE r.status = 'failed'"))
    api = Api(servers, await user_headers(db, org))
    await _logged(servers, db, message["message_id"])
    (log,) = (await api.ok("GET", "/logs/messages?direction=outbound&status=failed"))["items"]
    assert log["message_id"] == str(message["message_id"])
    assert (log["type"], log["direction"], log["sender_type"]) == ("template", "outbound", "bot")
    assert log["content"] == message["content"] and "10%" in str(log["content"]) and log["contact_id"] is not None
    entry = _failed_entry(log)
    assert entry["error_code"] == 131026 and "undeliverable" in entry["error"]


async def _outbound(local, wa_id: str, body: str) -> tuple[uuid.UUID, uuid.UUID]:
    conversation = (await local.receive(wa_id, "oi")).conversations[0]
    async with local.db.transaction() as s:
        (mid,) = await insert_outbound(s, outbound_rows(conversation, [{"type": "text", "content": {"text": body}}]))
    return conversation, mid


async def test_sends_pytake_refuses_or_never_finishes_are_logged_whole(local, db, query):
    # the 24-hour window closed: PyTake refuses the free-form message before any Graph call
    late_conversation, late = await _outbound(local, "5511900007001", "chegou tarde")
    async with db.transaction() as s:
        await s.execute(text("UPDATE conversations SET twenty_four_hour_window_expires_at = :t WHERE id = :c"),
                        {"t": datetime.now(timezone.utc) - timedelta(minutes=1), "c": late_conversation})
    await Sender(local.rt).deliver_conversation(late_conversation)
    # the sender died after claiming its row: the maintenance sweep fails it, delivery unknown
    _, abandoned = await _outbound(local, "5511900007002", "ficou no meio")
    await claim(db, abandoned, minutes_ago=10)
    assert await reconcile_abandoned_claims(local.rt) == 1
    # Meta's status webhook fails a row its sender never recorded as sent
    _, pending = await _outbound(local, "5511900007003", "falhou no caminho")
    doc = webhooks.status_update(PNID, "wamid.NEVER-RECORDED", "failed", "5511900007003",
                                 callback_data=str(pending),
                                 errors=[{"code": 131049, "title": "Meta chose not to deliver"}])
    async with db.transaction() as s:
        await apply_statuses(s, parse_webhook(doc).statuses)

    await _fed(db)
    org = local.seeded.organization_id
    logs = {r["message_id"]: r for r in await PostgresLogStore(db).search_messages(
        MessageQuery(org, direction="outbound"))}
    contacts = {r["id"]: r["contact_id"] for r in await query(
        "SELECT m.id, c.contact_id FROM messages m JOIN conversations c ON c.id = m.conversation_id")}
    expected = {late: ("chegou tarde", "outside the 24-hour customer service window", None),
                abandoned: ("ficou no meio", "delivery unknown", None),
                pending: ("falhou no caminho", "Meta chose not to deliver", 131049)}
    assert set(logs) == set(expected)
    for mid, (words, reason, code) in expected.items():
        log = logs[mid]
        assert (log["text"], log["type"], log["direction"], log["sender_type"]) == (words, "text", "outbound", "bot")
        assert log["contact_id"] == contacts[mid] and log["conversation_id"] is not None
        entry = _failed_entry(log)
        assert reason in entry["error"] and entry.get("error_code") == code


async def test_a_message_meta_accepted_whose_sender_died_unrecorded_is_logged_with_its_text(local, db):
    _, accepted = await _outbound(local, "5511900007004", "aceito e nunca registrado")
    await claim(db, accepted)  # its sender claimed it, Meta accepted it, and the sender died before recording that
    for status in ("sent", "delivered"):  # Meta's status webhooks find it by the callback id sent with it
        doc = webhooks.status_update(PNID, "wamid.ACCEPTED-UNRECORDED", status, "5511900007004",
                                     callback_data=str(accepted))
        async with db.transaction() as s:
            await apply_statuses(s, parse_webhook(doc).statuses)

    await _fed(db)
    logs = {r["message_id"]: r for r in await PostgresLogStore(db).search_messages(
        MessageQuery(local.seeded.organization_id, direction="outbound"))}
    log = logs[accepted]
    assert (log["text"], log["type"], log["sender_type"]) == ("aceito e nunca registrado", "text", "bot")
    assert log["status"] == "delivered" and log["whatsapp_message_id"] == "wamid.ACCEPTED-UNRECORDED"
    assert [h["status"] for h in log["status_history"]] == ["sent", "delivered"]
    assert log["contact_id"] is not None


async def _rows(db, sql: str, **params: Any) -> list[Any]:
    async with db.session() as s:
        return list((await s.execute(text(sql), params)).mappings().all())
