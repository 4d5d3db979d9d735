"""An agent's availability: ``users.is_online`` and ``last_seen_at``.

`set_status` is what ``POST /agents/me/status`` calls and what the live
channel (`api.live.presence`) calls when a user's first socket opens and their
last one closes, or is swept with its dead API process; going online runs an
assignment pass over the agent's departments at once, so their backlog
comes to them without waiting for the sweep.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from api.assignment.engine import Assignment
from api.assignment.triggers import on_agent_online

STATUSES = ("online", "away")

_SET = """
UPDATE users SET is_online = $3, last_seen_at = now(), updated_at = now()
 WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL
RETURNING is_online, last_seen_at"""


@dataclass
class Presence:
    status: str
    last_seen_at: datetime | None
    assigned: list[Assignment] = field(default_factory=list)


async def set_status(db: Any, redis: Any, user_id: uuid.UUID, organization_id: uuid.UUID,
                     status: str) -> Presence | None:
    """Mark the user online or away (None: no such user in the organization)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")
    async with db.raw() as conn:
        row = await conn.fetchrow(_SET, user_id, organization_id, status == "online")
    if row is None:
        return None
    presence = Presence("online" if row["is_online"] else "away", row["last_seen_at"])
    if row["is_online"]:
        presence.assigned = await on_agent_online(db, redis, user_id)
    return presence
