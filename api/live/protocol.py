"""The live channel's wire protocol (docs/live.md): cursors, close codes, message shapes.

Everything a client sees is built here, so the protocol lives in one file:
server messages are JSON objects with a ``type`` (``event``, ``typing``,
``ready``, ``status``, ``pong``, ``error``); client messages likewise
(``typing``, ``status``, ``ping``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Event types the live channel carries (docs/events.md has their payloads)
LIVE_TYPES = frozenset({
    "message.received", "message.sent", "message.status",
    "conversation.created", "conversation.handoff", "conversation.assigned", "conversation.transferred",
    "conversation.closed", "conversation.returned_to_bot",
})

TYPING_SECONDS = 5  # typing:{conversation_id}:{user_id} lives this long; clients show it this long


class CloseCode:
    """WebSocket close codes (4000-4999 are the application's; RFC 6455 §7.4.2)."""

    GOING_AWAY = 1001  # the server is shutting down: reconnect (with ?after=) elsewhere
    INTERNAL = 1011
    INTERRUPTED = 1012  # this process lost its Redis pub/sub connection: reconnect with ?after= (nothing is lost)
    BAD_REQUEST = 4400  # a malformed ``after`` cursor
    UNAUTHORIZED = 4401  # no token, invalid, expired, revoked, session ended; reason = the error code
    FORBIDDEN = 4403  # the user is inactive or gone
    TOO_SLOW = 4408  # the client did not read its messages fast enough: reconnect with ?after=
    RESYNC = 4409  # the cursor is too far behind to replay: reload over HTTP, reconnect without ?after=


@dataclass(frozen=True, order=True, slots=True)
class Cursor:
    """A position in the event stream: ``(txid, id)``, the order the live consumer
    publishes in (`api.events.consumer`). Clients hold it as an opaque string."""

    txid: int
    id: int

    def __str__(self) -> str:
        return f"{self.txid}-{self.id}"

    @classmethod
    def parse(cls, text: str) -> "Cursor":
        """``"<txid>-<id>"``; ValueError when malformed."""
        txid, sep, event_id = text.partition("-")
        if not sep or not txid.isdigit() or not event_id.isdigit():
            raise ValueError("after must be a cursor as sent by the server (\"<txid>-<id>\")")
        return cls(int(txid), int(event_id))


ORIGIN = Cursor(0, 0)


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)


def event_message(cursor: Cursor, envelope: dict[str, Any]) -> str:
    """``{"type": "event", "cursor": "...", "event": <the envelope of docs/events.md>}``."""
    return dumps({"type": "event", "cursor": str(cursor), "event": envelope})


def typing_message(conversation_id: str, user_id: str, user_name: str | None) -> str:
    return dumps({"type": "typing", "conversation_id": conversation_id, "user_id": user_id,
                  "user_name": user_name, "expires_in": TYPING_SECONDS})


def ready_message(cursor: Cursor, replayed: int, *, user_id: str, organization_id: str, role: str,
                  scope: str, department_ids: list[str], status: str) -> str:
    return dumps({"type": "ready", "cursor": str(cursor), "replayed": replayed, "user_id": user_id,
                  "organization_id": organization_id, "role": role, "scope": scope,
                  "department_ids": department_ids, "status": status})


def error_message(code: str, message: str, field: str | None = None) -> str:
    return dumps({"type": "error", "code": code, "message": message, "field": field})
