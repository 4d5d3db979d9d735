"""The log store's one interface (`LogStore`), its records, and what both stores share.

Records are plain dicts shaped like docs/SCHEMA.md's MongoDB documents (the
PostgreSQL store keeps the same fields as columns). Writes come in batches
and are idempotent: a batch handed over twice (a feeder that failed after a
partial write) leaves the same logs as once.

- message records: one per message event; the store keeps one log per
  message id, its ``status_history`` (one entry per status, the first time
  seen) and its current ``status`` (the furthest along);
- conversation entries: what happened in a conversation, in event order
  (`fold_sessions` turns them into bot sessions, the same for both stores);
- webhook attempts and API requests: appended.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

# How long each kind of log is kept (docs/SCHEMA.md's TTL indexes); conversation_logs has none.
LIFETIMES: dict[str, timedelta] = {
    "message_logs": timedelta(days=365),
    "webhook_logs": timedelta(days=90),
    "api_request_logs": timedelta(days=30),
}
# a message's current status is the furthest one reached (failed wins)
STATUS_RANK = {"received": 1, "pending": 1, "sent": 2, "delivered": 3, "read": 4, "failed": 5}
MAX_LIMIT = 200


class StoreUnavailable(RuntimeError):
    """The log store did not answer (down, unreachable, refused the write)."""


@dataclass(frozen=True, slots=True)
class MessageQuery:
    organization_id: uuid.UUID
    text: str | None = None
    contact_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None
    status: str | None = None
    direction: str | None = None  # inbound / outbound
    since: datetime | None = None
    until: datetime | None = None
    before: datetime | None = None  # keyset cursor: logs created strictly before
    limit: int = 50


@dataclass(frozen=True, slots=True)
class WebhookQuery:
    organization_id: uuid.UUID
    webhook_id: uuid.UUID
    success: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: datetime | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class RequestQuery:
    organization_id: uuid.UUID
    user_id: uuid.UUID | None = None
    path: str | None = None
    method: str | None = None
    status_code: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: datetime | None = None
    limit: int = 50


@runtime_checkable
class LogStore(Protocol):
    """Where logs are written and searched (PostgreSQL by default, MongoDB with ``MONGODB_URL``)."""

    kind: str  # "postgresql" | "mongodb"

    async def prepare(self) -> None:
        """Make sure the store's structure exists (partitions ahead, indexes)."""

    async def write_messages(self, records: list[dict[str, Any]]) -> None: ...

    async def write_conversation_entries(self, entries: list[dict[str, Any]]) -> None: ...

    async def write_webhook_attempts(self, records: list[dict[str, Any]]) -> None: ...

    async def write_api_requests(self, records: list[dict[str, Any]]) -> None: ...

    async def search_messages(self, query: MessageQuery) -> list[dict[str, Any]]: ...

    async def conversation_sessions(self, organization_id: uuid.UUID,
                                    conversation_id: uuid.UUID) -> list[dict[str, Any]]: ...

    async def webhook_logs(self, query: WebhookQuery) -> list[dict[str, Any]]: ...

    async def api_request_logs(self, query: RequestQuery) -> list[dict[str, Any]]: ...

    async def enforce_retention(self, now: datetime) -> list[str]:
        """Remove logs past their lifetime; what was removed (partitions, or nothing: TTL indexes)."""

    async def close(self) -> None: ...


def merge_status(history: list[dict[str, Any]], entry: dict[str, Any]) -> list[dict[str, Any]]:
    """``history`` with ``entry`` (``{status, timestamp, error?}``) added unless its status is
    there already (a replayed event adds nothing)."""
    if not entry.get("status") or any(h.get("status") == entry["status"] for h in history):
        return history
    return [*history, entry]


def furthest(current: str | None, new: str | None) -> str | None:
    """The further along of two statuses (a late `delivered` never undoes `read`)."""
    if current is None:
        return new
    if new is None:
        return current
    return new if STATUS_RANK.get(new, 0) > STATUS_RANK.get(current, 0) else current


def new_session(entry: dict[str, Any]) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "organization_id": entry["organization_id"],
            "conversation_id": entry["conversation_id"], "contact_id": entry.get("contact_id"),
            "session_start": entry["at"], "session_end": None, "duration_seconds": None,
            "message_count": 0, "bot_message_count": 0, "human_message_count": 0,
            "flow_path": [], "ai_prompts": [], "handoff_occurred": False, "handoff_reason": None,
            "handoff_timestamp": None, "agent_id": None, "resolved": None, "resolution_time_seconds": None,
            "satisfaction_rating": None, "outcome": None, "created_at": entry["at"], "last_event_id": 0}


def _end(session: dict[str, Any], at: datetime, outcome: str, resolved: bool) -> None:
    session["session_end"] = at
    session["duration_seconds"] = max(0, round((at - session["session_start"]).total_seconds()))
    session["outcome"] = outcome
    session["resolved"] = resolved
    if resolved:
        session["resolution_time_seconds"] = session["duration_seconds"]


def fold_sessions(latest: dict[uuid.UUID, dict[str, Any]],
                  entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply ``entries`` (in event order) to each conversation's latest session
    (``latest``: conversation id → its newest stored session); the sessions
    changed or created. An entry at or below a session's ``last_event_id`` was
    applied already and is skipped.

    A session starts with the conversation's first entry after the previous one
    ended; it ends when its flow completes without a handoff (``completed``),
    or when the conversation is closed (``closed``); after a handoff it stays
    open while the agent talks, until the close. The bot's messages belong to
    the latest session even when it has ended: a flow's last replies are sent
    after the step that completed it."""
    changed: dict[uuid.UUID, dict[str, Any]] = {}
    for entry in sorted(entries, key=lambda e: e["event_id"]):
        conv = entry["conversation_id"]
        session = latest.get(conv)
        if session is not None and entry["event_id"] <= session["last_event_id"]:
            continue
        kind = entry["kind"]
        late_reply = kind == "message" and entry.get("sender") == "bot"  # sent after its step ended the flow
        if session is None or (session["session_end"] is not None and not late_reply):
            if kind in ("closed", "completed"):  # nothing open to end
                continue
            session = new_session(entry)
            latest[conv] = session
        session["last_event_id"] = entry["event_id"]
        session["contact_id"] = session["contact_id"] or entry.get("contact_id")
        changed[session["id"]] = session
        at = entry["at"]
        if kind == "message":
            session["message_count"] += 1
            key = "bot_message_count" if entry.get("sender") == "bot" else "human_message_count"
            session[key] += 1
        elif kind == "step":
            session["flow_path"] = [*session["flow_path"], *entry.get("path", [])]
            session["ai_prompts"] = [*session["ai_prompts"], *entry.get("ai", [])]
        elif kind == "handoff":
            session["handoff_occurred"] = True
            session["handoff_reason"] = entry.get("reason")
            session["handoff_timestamp"] = at
        elif kind == "assigned":
            session["agent_id"] = entry.get("agent_id")
        elif kind == "completed":
            if not session["handoff_occurred"]:
                _end(session, at, entry.get("outcome") or "ended", resolved=True)
        elif kind == "closed":
            _end(session, at, "closed", resolved=True)
        elif kind == "error":
            session["outcome"] = "error"
    return list(changed.values())


__all__ = ["LIFETIMES", "LogStore", "MAX_LIMIT", "MessageQuery", "RequestQuery", "STATUS_RANK", "StoreUnavailable",
           "WebhookQuery", "fold_sessions", "furthest", "merge_status", "new_session"]
