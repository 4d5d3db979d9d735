"""Per-conversation service times, for analytics: waiting, first response, resolution.

Where each is recorded (no migration; ``conversations`` has no metadata column):

- **waiting**: ``pulled_from_queue_at - entered_queue_at`` (SCHEMA.md columns; the
  assignment pass writes ``pulled_from_queue_at``; the ``conversation.assigned``
  event carries ``assignment.waiting_seconds`` too);
- **first response**: from the assignment (``assigned_at``) to the first message an
  agent wrote (``messages`` with ``sender_type = 'agent'``, the automatic greeting
  — ``metadata.source = 'agent_greeting'`` — not counted): the message row is
  the record;
- **resolution**: ``resolved_at - COALESCE(handoff_at, created_at)`` (the close route
  writes ``resolved_at``).

A figure is None until its end has happened.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Iterable

_TIMES = """
SELECT c.id,
       EXTRACT(EPOCH FROM c.pulled_from_queue_at - c.entered_queue_at)::float8 AS waiting,
       EXTRACT(EPOCH FROM r.first_at - c.assigned_at)::float8 AS first_response,
       EXTRACT(EPOCH FROM c.resolved_at - COALESCE(c.handoff_at, c.created_at))::float8 AS resolution
  FROM conversations c
  LEFT JOIN LATERAL (
       SELECT min(m.created_at) AS first_at FROM messages m
        WHERE m.conversation_id = c.id AND m.direction = 'outbound' AND m.sender_type = 'agent'
          AND m.created_at >= c.assigned_at
          AND COALESCE(m.metadata->>'source', '') <> 'agent_greeting') r ON true
 WHERE c.id = ANY($1::uuid[]) AND c.organization_id = $2"""


@dataclass(frozen=True, slots=True)
class ServiceTimes:
    waiting_seconds: float | None
    first_response_seconds: float | None
    resolution_seconds: float | None


async def service_times(conn: Any, organization_id: uuid.UUID,
                        conversation_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ServiceTimes]:
    """The organization's conversations among ``conversation_ids`` and their times."""
    rows = await conn.fetch(_TIMES, list(conversation_ids), organization_id)
    return {r["id"]: ServiceTimes(r["waiting"], r["first_response"], r["resolution"]) for r in rows}
