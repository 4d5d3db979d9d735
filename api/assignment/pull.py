""""Pull next": an agent takes the next waiting conversation of their departments themselves.

One statement: the head of the queues of the departments where the agent has
``can_pull_from_queue`` (active departments of their organization) — the
highest priority first (urgent, high, normal, low), then the one waiting
longest — is locked ``FOR UPDATE SKIP LOCKED`` and assigned to them. Two
agents pulling at once never get the same conversation: the second skips
the row the first holds and takes the next. A pull is the agent's explicit
choice, so it is not limited by ``max_concurrent_conversations`` (automatic
assignment is). The ``conversation.assigned`` event says ``"pulled": true``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from api.assignment.engine import waited_seconds
from api.events import conversation_payload, emit_conn, event

_PULLABLE = """
SELECT ud.department_id FROM user_departments ud
  JOIN departments d ON d.id = ud.department_id
  JOIN users u ON u.id = ud.user_id
 WHERE ud.user_id = $1 AND d.organization_id = $2 AND u.organization_id = $2
   AND ud.can_pull_from_queue IS NOT FALSE AND d.is_active IS NOT FALSE
   AND u.is_active IS NOT FALSE AND u.deleted_at IS NULL"""

_PULL = """
WITH head AS (
  SELECT id FROM conversations
   WHERE organization_id = $2 AND status = 'waiting_in_queue' AND department_id = ANY($3::uuid[])
   ORDER BY CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'low' THEN 3 ELSE 2 END,
            COALESCE(entered_queue_at, handoff_at, created_at), id
   LIMIT 1
     FOR UPDATE SKIP LOCKED)
UPDATE conversations c
   SET assigned_to = $1, assigned_at = $4, status = 'assigned', pulled_from_queue_at = $4,
       queue_position = NULL, is_bot_active = false, updated_at = $4
  FROM head
 WHERE c.id = head.id AND c.status = 'waiting_in_queue'
RETURNING c.id, c.organization_id, c.contact_id, c.whatsapp_number_id, c.status, c.department_id,
          c.assigned_to, c.priority, c.is_bot_active, c.entered_queue_at, c.handoff_at"""


@dataclass(frozen=True, slots=True)
class Pulled:
    departments: list[uuid.UUID]  # where the agent may pull from (empty: nowhere)
    conversation_id: uuid.UUID | None  # what they got (None: the queues are empty)


async def pull_next(db: Any, user_id: uuid.UUID, organization_id: uuid.UUID,
                    department_id: uuid.UUID | None = None) -> Pulled:
    """Assign the next waiting conversation of the agent's pullable departments (or of
    ``department_id`` only, when it is one of them) to them."""
    now = datetime.now(timezone.utc)
    async with db.raw() as conn:
        async with conn.transaction():
            departments = [r[0] for r in await conn.fetch(_PULLABLE, user_id, organization_id)
                           if department_id is None or r[0] == department_id]
            if not departments:
                return Pulled([], None)
            row = await conn.fetchrow(_PULL, user_id, organization_id, departments, now)
            if row is None:
                return Pulled(departments, None)
            payload = conversation_payload(row)
            payload["assignment"] = {"automatic": False, "pulled": True, "assigned_at": now.isoformat(),
                                     "waiting_seconds": waited_seconds(row, now)}
            await emit_conn(conn, event(row["organization_id"], "conversation.assigned", payload, row["id"]))
    return Pulled(departments, row["id"])
