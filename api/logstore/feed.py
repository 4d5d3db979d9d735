"""The ``logs`` event consumer: domain events become message and conversation logs.

`feed_once` reads one batch of committed events (`api.events.consumer.consume`),
turns them into records (`records_of`) and writes them to the log store. The
cursor moves only when the store took the whole batch: a store that is down
(or slow past `WRITE_TIMEOUT`) leaves the cursor where it was, the events stay
in the outbox, and the next round hands them over again. Writes are idempotent
(a message keeps one log; a session skips events it has applied), so a batch
written twice leaves the same logs.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone
from typing import Any

from api.events.consumer import StoredEvent, backlog, consume
from api.logstore.store import LogStore, StoreUnavailable, furthest, merge_status

CONSUMER = "logs"
FEED_BATCH = 2000  # events per batch: bench/logs.py writes about half again as many per second as with 500
WRITE_TIMEOUT = 30.0  # seconds one batch may take to write before it counts as a failure
MESSAGE_EVENTS = ("message.received", "message.sent", "message.status")


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _time(value: Any, default: datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        except ValueError:
            return default
    return default


def text_of(content: Any) -> str | None:
    """The words of a message, for search: its text, caption, body or title."""
    if not isinstance(content, dict):
        return None
    parts = [content.get(k) for k in ("text", "caption", "body", "title", "header", "footer")]
    words = " ".join(p for p in parts if isinstance(p, str) and p)
    return words or None


def _status_entry(payload: dict[str, Any], at: datetime) -> dict[str, Any]:
    """A status event's ``status_history`` entry: a failure keeps its reason and Meta's error code."""
    status = payload.get("status")
    entry: dict[str, Any] = {"status": status, "timestamp": _time(payload.get("timestamp"), at).isoformat()}
    if status == "failed":
        if payload.get("error"):
            entry["error"] = payload.get("error")
        codes = [m.get("code") for m in payload.get("meta_errors") or [] if isinstance(m, dict) and m.get("code")]
        if codes:
            entry["error_code"] = codes[0]
    return entry


def message_record(e: StoredEvent) -> dict[str, Any] | None:
    """The message log record of a message event (``full``: it carries the whole message;
    a status event carries only the message's id and its new status, except the status of
    a message never recorded as sent (failed before it was sent, or accepted by Meta while
    its sender died before recording it), which carries the whole message too)."""
    payload = e.payload or {}
    at = e.occurred_at
    status_entry = None
    if e.type == "message.status":
        status = payload.get("status")
        status_entry = _status_entry(payload, at) if status else None
        if not isinstance(payload.get("message"), dict):
            message_id = _uuid(payload.get("message_id"))
            if message_id is None:
                return None
            return {"full": False, "message_id": message_id, "organization_id": e.organization_id,
                    "conversation_id": _uuid(payload.get("conversation_id")),
                    "whatsapp_message_id": payload.get("whatsapp_message_id"), "status": status,
                    "status_history": [status_entry] if status_entry else [],
                    "created_at": _time(payload.get("timestamp"), at), "event_id": e.id}
    message = payload.get("message") or {}
    message_id = _uuid(message.get("id"))
    if message_id is None:
        return None
    content = message.get("content") if isinstance(message.get("content"), dict) else {}
    created = _time(message.get("created_at"), at)
    status = message.get("status") or ("received" if message.get("direction") == "inbound" else None)
    if status_entry is not None:  # the status of a message never recorded as sent: it, its reason and code
        status = status_entry["status"]
    return {"full": True, "message_id": message_id, "organization_id": e.organization_id,
            "conversation_id": _uuid(message.get("conversation_id")), "contact_id": _uuid(message.get("contact_id")),
            "direction": message.get("direction"), "sender_type": message.get("sender_type"),
            "type": message.get("type"), "content": content, "text": text_of(content),
            "whatsapp_message_id": message.get("whatsapp_message_id"),
            "whatsapp_metadata": {"timestamp": created.isoformat(), "context": content.get("context"),
                                  "reply_id": content.get("reply_id")},
            "status": status,
            "status_history": [status_entry] if status_entry else (
                [{"status": status, "timestamp": at.isoformat()}] if status else []),
            "created_at": created, "event_id": e.id}


def merge_messages(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per message: its events of one batch folded in event order."""
    merged: dict[uuid.UUID, dict[str, Any]] = {}
    for r in sorted(records, key=lambda r: r["event_id"]):
        have = merged.get(r["message_id"])
        if have is None:
            merged[r["message_id"]] = dict(r)
            continue
        history = have["status_history"]
        for h in r["status_history"]:
            history = merge_status(history, h)
        if r["full"] and not have["full"]:
            have.update({k: v for k, v in r.items() if k not in ("status_history", "status")})
        have["status_history"] = history
        have["status"] = furthest(have.get("status"), r.get("status"))
        have["whatsapp_message_id"] = have.get("whatsapp_message_id") or r.get("whatsapp_message_id")
        have["event_id"] = r["event_id"]
    return list(merged.values())


def conversation_entry(e: StoredEvent) -> dict[str, Any] | None:
    """What an event tells a conversation's log (`api.logstore.store.fold_sessions`), if anything."""
    p = e.payload or {}
    base: dict[str, Any] = {"event_id": e.id, "organization_id": e.organization_id, "at": e.occurred_at}
    if e.type in ("message.received", "message.sent"):
        m = p.get("message") or {}
        sender = "bot" if m.get("sender_type") == "bot" else "human"
        return {**base, "kind": "message", "conversation_id": _uuid(m.get("conversation_id")),
                "contact_id": _uuid(m.get("contact_id")), "sender": sender}
    if e.type.startswith("flow."):
        base.update(conversation_id=_uuid(p.get("conversation_id")), contact_id=_uuid(p.get("contact_id")))
        if e.type == "flow.started":
            return {**base, "kind": "started"}
        if e.type == "flow.step":
            return {**base, "kind": "step", "path": list(p.get("path") or []), "ai": list(p.get("ai") or [])}
        if e.type == "flow.completed":
            return {**base, "kind": "completed", "outcome": p.get("outcome")}
        if e.type == "flow.error":
            return {**base, "kind": "error"}
        return None
    if e.type.startswith("conversation."):
        c = p.get("conversation") or {}
        base.update(conversation_id=_uuid(c.get("id")), contact_id=_uuid(c.get("contact_id")))
        if e.type == "conversation.handoff":
            return {**base, "kind": "handoff", "reason": (p.get("handoff") or {}).get("reason")}
        if e.type in ("conversation.assigned", "conversation.transferred"):
            return {**base, "kind": "assigned", "agent_id": _uuid(c.get("assigned_agent_id"))}
        if e.type == "conversation.closed":
            return {**base, "kind": "closed"}
    return None


def records_of(events: list[StoredEvent]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(message records merged per message, conversation entries)`` of a batch."""
    messages: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for e in events:
        if e.type in MESSAGE_EVENTS:
            record = message_record(e)
            if record is not None:
                messages.append(record)
        entry = conversation_entry(e)
        if entry is not None and entry.get("conversation_id") is not None:
            entries.append(entry)
    return merge_messages(messages), entries


async def feed_once(db: Any, store: LogStore, limit: int = FEED_BATCH) -> int | None:
    """One batch of the ``logs`` consumer into ``store``: the events handled, ``None``
    while another worker feeds. Raises `StoreUnavailable` (the cursor stays) when
    the store fails or does not answer within `WRITE_TIMEOUT`."""
    async with consume(db, CONSUMER, limit) as batch:
        if batch is None:
            return None
        messages, entries = records_of(batch.events)
        try:
            async with asyncio.timeout(WRITE_TIMEOUT):
                if messages:
                    await store.write_messages(messages)
                if entries:
                    await store.write_conversation_entries(entries)
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the store: the batch waits
            raise StoreUnavailable(f"{store.kind} log store: {exc!r}") from exc
        return len(batch.events)


async def event_backlog(db: Any) -> int:
    """Committed events the log store has not taken yet."""
    return await backlog(db, CONSUMER)


__all__ = ["CONSUMER", "conversation_entry", "event_backlog", "feed_once", "merge_messages", "message_record",
           "records_of", "text_of"]
