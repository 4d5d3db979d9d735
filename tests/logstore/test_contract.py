"""The log store's contract, run against every store: PostgreSQL always, MongoDB when
``MONGODB_URL`` is set (skipped otherwise, with that reason). Records come from real
event envelopes through `records_of`, as the ``logs`` consumer builds them."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from api.events.consumer import StoredEvent
from api.logstore import MessageQuery, RequestQuery, WebhookQuery, records_of

_ids = itertools.count(1)
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def ev(org: uuid.UUID, type_: str, payload: dict, at: datetime, key: Any = None) -> StoredEvent:
    n = next(_ids)
    return StoredEvent(n, n, org, type_, 1, key, payload, at)


def message(org, conv, contact, *, direction="inbound", sender="contact", text="oi", status=None, at=NOW,
            wamid=None, mid=None, type_=None):
    mid = mid or uuid.uuid4()
    kind = type_ or ("message.received" if direction == "inbound" else "message.sent")
    payload = {"message": {"id": str(mid), "conversation_id": str(conv), "contact_id": str(contact),
                           "direction": direction, "sender_type": sender, "type": "text",
                           "content": {"text": text}, "status": status or ("delivered" if direction == "inbound"
                                                                           else "sent"),
                           "whatsapp_message_id": wamid, "created_at": at.isoformat()}}
    return mid, ev(org, kind, payload, at, conv)


def status(org, conv, mid, value, at):
    return ev(org, "message.status", {"message_id": str(mid), "conversation_id": str(conv),
                                      "whatsapp_message_id": "wamid." + str(mid)[:8], "status": value,
                                      "previous_status": None, "timestamp": at.isoformat(),
                                      "error": "131026: undeliverable" if value == "failed" else None}, at, conv)


async def write(store, events):
    messages, entries = records_of(events)
    await store.write_messages(messages)
    await store.write_conversation_entries(entries)


async def test_a_message_keeps_one_log_with_its_status_timeline(store):
    org, conv, contact = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    mid, sent = message(org, conv, contact, direction="outbound", sender="bot", text="Qual seu nome?",
                        wamid="wamid.A1", at=NOW - timedelta(minutes=5))
    delivered = status(org, conv, mid, "delivered", NOW - timedelta(minutes=4))
    read = status(org, conv, mid, "read", NOW - timedelta(minutes=3))
    await write(store, [sent])
    await write(store, [delivered, read])
    await write(store, [delivered])  # a replayed batch, and a late `delivered` after `read`
    (log,) = await store.search_messages(MessageQuery(org, conversation_id=conv))
    assert log["message_id"] == mid and log["direction"] == "outbound" and log["sender_type"] == "bot"
    assert log["status"] == "read"
    assert [h["status"] for h in log["status_history"]] == ["sent", "delivered", "read"]
    assert log["status_history"][1]["timestamp"].startswith((NOW - timedelta(minutes=4)).isoformat()[:19])
    assert log["content"] == {"text": "Qual seu nome?"} and log["whatsapp_message_id"] == "wamid.A1"
    assert log["whatsapp_metadata"]["timestamp"].startswith((NOW - timedelta(minutes=5)).isoformat()[:19])


async def test_a_status_in_the_same_batch_as_its_message_and_a_failure_with_its_error(store):
    org, conv, contact = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    mid, sent = message(org, conv, contact, direction="outbound", sender="agent", at=NOW - timedelta(minutes=2))
    await write(store, [sent, status(org, conv, mid, "failed", NOW - timedelta(minutes=1))])
    (log,) = await store.search_messages(MessageQuery(org, conversation_id=conv))
    assert log["status"] == "failed"
    assert log["status_history"][-1]["error"] == "131026: undeliverable"


async def test_a_message_failed_before_it_was_sent_is_logged_whole_from_its_failure(store):
    """No message.sent: the failed message.status carries the message (catalogue.failed_before_sent_payload)."""
    org, conv, contact = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    mid = uuid.uuid4()
    created = NOW - timedelta(minutes=3)
    failure = ev(org, "message.status", {
        "message_id": str(mid), "conversation_id": str(conv), "whatsapp_message_id": None, "status": "failed",
        "previous_status": "pending", "timestamp": (NOW - timedelta(minutes=2)).isoformat(),
        "error": "(131026) Message undeliverable",
        "meta_errors": [{"code": 131026, "message": "Message undeliverable", "details": None}],
        "message": {"id": str(mid), "conversation_id": str(conv), "contact_id": str(contact),
                    "direction": "outbound", "sender_type": "bot", "type": "text",
                    "content": {"text": "Seu pedido saiu"}, "status": "failed", "whatsapp_message_id": None,
                    "created_at": created.isoformat()}}, NOW - timedelta(minutes=2), conv)
    await write(store, [failure])
    await write(store, [failure])  # a replayed batch
    (log,) = await store.search_messages(MessageQuery(org, direction="outbound", text="pedido"))
    assert log["message_id"] == mid and log["conversation_id"] == conv and log["contact_id"] == contact
    assert (log["type"], log["sender_type"], log["status"]) == ("text", "bot", "failed")
    assert log["content"] == {"text": "Seu pedido saiu"} and log["text"] == "Seu pedido saiu"
    assert log["created_at"] == created
    (entry,) = log["status_history"]
    assert entry["status"] == "failed" and entry["error"] == "(131026) Message undeliverable"
    assert entry["error_code"] == 131026
    assert entry["timestamp"].startswith((NOW - timedelta(minutes=2)).isoformat()[:19])


async def test_a_status_of_a_message_never_logged_is_kept(store):
    org, conv = uuid.uuid4(), uuid.uuid4()
    mid = uuid.uuid4()
    await write(store, [status(org, conv, mid, "delivered", NOW - timedelta(minutes=1))])
    (log,) = await store.search_messages(MessageQuery(org, conversation_id=conv))
    assert log["message_id"] == mid and log["status"] == "delivered"


async def test_search_by_words_contact_conversation_status_direction_and_period_within_the_organization(store):
    org, other = uuid.uuid4(), uuid.uuid4()
    conv1, conv2, ana, bia = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    m1, e1 = message(org, conv1, ana, text="Quero pagar o boleto amanhã", at=NOW - timedelta(days=3))
    m2, e2 = message(org, conv2, bia, text="olá, tudo bem?", at=NOW - timedelta(days=2))
    m3, e3 = message(org, conv2, bia, direction="outbound", sender="bot", text="Seu boleto vence hoje",
                     at=NOW - timedelta(days=1))
    _, e4 = message(other, uuid.uuid4(), uuid.uuid4(), text="boleto de outra empresa", at=NOW)
    await write(store, [e1, e2, e3, e4])

    async def ids(**kw):
        return [r["message_id"] for r in await store.search_messages(MessageQuery(org, **kw))]

    assert await ids() == [m3, m2, m1]  # newest first, the other organization's never
    assert await ids(text="boleto") == [m3, m1]
    assert await ids(text="pagar boleto") == [m1]
    assert await ids(text="cartão") == []
    assert await ids(contact_id=bia) == [m3, m2]
    assert await ids(conversation_id=conv1) == [m1]
    assert await ids(status="sent") == [m3]
    assert await ids(direction="outbound") == [m3]
    assert await ids(direction="inbound", text="boleto") == [m1]
    assert await ids(since=NOW - timedelta(days=2, hours=1), until=NOW - timedelta(hours=36)) == [m2]
    first = await store.search_messages(MessageQuery(org, limit=2))
    assert [r["message_id"] for r in first] == [m3, m2]
    assert await ids(before=first[-1]["created_at"], limit=2) == [m1]


async def test_conversation_sessions_count_messages_follow_the_flow_and_the_handoff(store):
    org, conv, contact, agent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    t = [NOW - timedelta(minutes=30 - i) for i in range(12)]
    flow = {"flow": {"id": str(uuid.uuid4()), "name": "cadastro"}, "conversation_id": str(conv),
            "contact_id": str(contact)}
    conversation = {"conversation": {"id": str(conv), "contact_id": str(contact), "assigned_agent_id": str(agent)}}
    events = [
        ev(org, "flow.started", flow, t[0], conv),
        message(org, conv, contact, text="oi", at=t[1])[1],
        ev(org, "flow.step", {**flow, "path": [{"node_id": "start", "node_type": "start", "timestamp": "x"},
                                                {"node_id": "ask", "node_type": "question", "timestamp": "y"}],
                              "ai": [{"node_id": "ai1", "provider": "openai", "model": "gpt-4o-mini", "ok": True,
                                      "prompt": "resuma", "response": "ok", "tokens_used": 12,
                                      "latency_ms": 40}]}, t[2], conv),
        message(org, conv, contact, direction="outbound", sender="bot", at=t[3])[1],
        ev(org, "conversation.handoff", {**conversation, "handoff": {"reason": "quer falar com humano"}}, t[4], conv),
        ev(org, "flow.completed", {**flow, "outcome": "handoff"}, t[5], conv),
        ev(org, "conversation.assigned", conversation, t[6], conv),
        message(org, conv, contact, direction="outbound", sender="agent", at=t[7])[1],
        ev(org, "conversation.closed", conversation, t[8], conv),
    ]
    await write(store, events[:4])
    await write(store, events)  # the first four again (a replayed batch), then the rest
    later = message(org, conv, contact, text="voltei", at=t[10])[1]
    await write(store, [later])
    second, first = await store.conversation_sessions(org, conv)
    assert first["session_start"] == t[0] and first["session_end"] == t[8]
    assert first["duration_seconds"] == 8 * 60 and first["resolved"] is True and first["outcome"] == "closed"
    assert (first["message_count"], first["bot_message_count"], first["human_message_count"]) == (3, 1, 2)
    assert [p["node_id"] for p in first["flow_path"]] == ["start", "ask"]
    assert first["ai_prompts"][0]["model"] == "gpt-4o-mini" and first["ai_prompts"][0]["tokens_used"] == 12
    assert first["handoff_occurred"] is True and first["handoff_reason"] == "quer falar com humano"
    assert first["handoff_timestamp"] == t[4] and first["agent_id"] == agent
    assert first["contact_id"] == contact
    assert second["session_start"] == t[10] and second["session_end"] is None and second["message_count"] == 1
    assert await store.conversation_sessions(uuid.uuid4(), conv) == []  # another organization sees nothing


async def test_a_flow_that_completes_without_handoff_ends_its_session(store):
    org, conv, contact = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    flow = {"flow": {"id": str(uuid.uuid4())}, "conversation_id": str(conv), "contact_id": str(contact)}
    await write(store, [ev(org, "flow.started", flow, NOW - timedelta(seconds=90), conv),
                        ev(org, "flow.completed", {**flow, "outcome": "ended"}, NOW, conv)])
    (session,) = await store.conversation_sessions(org, conv)
    assert session["outcome"] == "ended" and session["resolved"] is True and session["duration_seconds"] == 90
    assert session["handoff_occurred"] is False


def attempt(org, hook, *, ok, at, n=1):
    return {"id": uuid.uuid4(), "organization_id": org, "webhook_id": hook, "delivery_id": uuid.uuid4(),
            "event_type": "message.received", "url": "https://example.com/hook", "method": "POST",
            "headers": {"X-PyTake-Event": "message.received"}, "payload": {"id": 7, "data": {"x": 1}},
            "status_code": 200 if ok else 500, "response_headers": {"content-type": "text/plain"},
            "response_body": "ok" if ok else "boom", "response_time_ms": 12, "success": ok,
            "error_message": None if ok else "HTTP 500", "attempt_number": n, "created_at": at}


async def test_webhook_attempts_per_webhook_with_their_outcome(store):
    org, hook, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    records = [attempt(org, hook, ok=False, at=NOW - timedelta(minutes=2)),
               attempt(org, hook, ok=True, at=NOW - timedelta(minutes=1), n=2),
               attempt(org, other, ok=True, at=NOW)]
    await store.write_webhook_attempts(records)
    await store.write_webhook_attempts(records[:2])  # a retried flush: nothing twice
    logs = await store.webhook_logs(WebhookQuery(org, hook))
    assert [(r["attempt_number"], r["success"], r["status_code"]) for r in logs] == [(2, True, 200), (1, False, 500)]
    assert logs[1]["error_message"] == "HTTP 500" and logs[1]["payload"] == {"id": 7, "data": {"x": 1}}
    assert [r["success"] for r in await store.webhook_logs(WebhookQuery(org, hook, success=False))] == [False]
    assert await store.webhook_logs(WebhookQuery(uuid.uuid4(), hook)) == []


def request_record(org, user, *, method="GET", path="/contacts", code=200, at=NOW):
    return {"id": uuid.uuid4(), "organization_id": org, "user_id": user, "method": method, "path": path,
            "query_params": {"page": "1"}, "headers": {"authorization": "***"}, "body": None,
            "status_code": code, "response_time_ms": 3.5, "ip_address": "127.0.0.1", "user_agent": "pytest",
            "success": code < 400, "error_message": None, "created_at": at}


async def test_api_requests_by_user_method_path_status_and_page(store):
    org, ana, bia = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    records = [request_record(org, ana, at=NOW - timedelta(seconds=3)),
               request_record(org, bia, method="POST", path="/contacts", code=422, at=NOW - timedelta(seconds=2)),
               request_record(org, ana, path="/users", at=NOW - timedelta(seconds=1))]
    await store.write_api_requests(records)
    await store.write_api_requests(records)

    async def paths(**kw):
        return [(r["method"], r["path"]) for r in await store.api_request_logs(RequestQuery(org, **kw))]

    assert await paths() == [("GET", "/users"), ("POST", "/contacts"), ("GET", "/contacts")]
    assert await paths(user_id=ana) == [("GET", "/users"), ("GET", "/contacts")]
    assert await paths(method="post") == [("POST", "/contacts")]
    assert await paths(status_code=422) == [("POST", "/contacts")]
    assert await paths(path="/users") == [("GET", "/users")]
    assert await paths(before=NOW - timedelta(seconds=2)) == [("GET", "/contacts")]
    (one,) = await store.api_request_logs(RequestQuery(org, limit=1))
    assert one["response_time_ms"] == 3.5 and one["ip_address"] == "127.0.0.1" and one["success"] is True


async def test_the_bots_last_reply_sent_after_the_flow_completed_stays_in_its_session(store):
    org, conv, contact = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    flow = {"flow": {"id": str(uuid.uuid4())}, "conversation_id": str(conv), "contact_id": str(contact)}
    await write(store, [ev(org, "flow.started", flow, NOW - timedelta(seconds=30), conv),
                        message(org, conv, contact, at=NOW - timedelta(seconds=29))[1],
                        ev(org, "flow.completed", {**flow, "outcome": "ended"}, NOW - timedelta(seconds=28), conv)])
    await write(store, [message(org, conv, contact, direction="outbound", sender="bot",
                                at=NOW - timedelta(seconds=27))[1]])
    (session,) = await store.conversation_sessions(org, conv)
    assert (session["message_count"], session["bot_message_count"], session["human_message_count"]) == (2, 1, 1)
    await write(store, [message(org, conv, contact, text="outra coisa", at=NOW)[1]])  # the contact again: a new one
    newer, older = await store.conversation_sessions(org, conv)
    assert newer["session_start"] == NOW and newer["human_message_count"] == 1 and older["message_count"] == 2


async def test_a_request_carrying_nul_is_logged_and_the_records_after_it_too(store):
    """A path, a query parameter or a body may carry U+0000, which PostgreSQL's text and jsonb cannot
    hold: its batch failed on every retry, and every later record waited behind it until dropped.
    The record is kept (PostgreSQL's with U+FFFD in its place) and the next ones are written."""
    org, ana = uuid.uuid4(), uuid.uuid4()
    poisoned = {**request_record(org, ana, path="/contacts\x00x", at=NOW - timedelta(seconds=1)),
                "query_params": {"q": "a\x00b"}, "body": {"name": "Ana\x00", "literal": "\\u0000"}}
    await store.write_api_requests([poisoned, request_record(org, ana, path="/users", at=NOW)])
    logged = {r["path"]: r for r in await store.api_request_logs(RequestQuery(org))}
    assert set(logged) in ({"/users", "/contacts\x00x"}, {"/users", "/contacts\ufffdx"})
    odd = logged["/contacts\x00x"] if "/contacts\x00x" in logged else logged["/contacts\ufffdx"]
    assert odd["query_params"]["q"] in ("a\x00b", "a\ufffdb")
    assert odd["body"]["literal"] == "\\u0000"  # a backslash and "u0000" as written: text, kept
