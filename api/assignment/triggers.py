"""When assignment passes run: every change that can let a waiting conversation go.

- `on_events`: the ``assignment`` consumer of domain events. A handoff fills a
  queue; a close or a transfer frees an agent (or fills another queue). For
  every organization in the batch, each department of it with conversations
  waiting gets a pass, after the consumer's cursor has moved (a crash in
  between leaves the work to the sweep).
- `on_agent_online`: an agent came online: a pass over each of their departments.
- `sweep`: the safety net, run periodically (`api.workers.maintenance`): every
  department with conversations waiting gets a pass; it also notices business
  hours opening.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any, Iterable

from api.assignment.engine import Assignment, assign_department
from api.events.consumer import consume

log = logging.getLogger("pytake.assignment")

CONSUMER = "assignment"
TRIGGERS = frozenset({"conversation.handoff", "conversation.closed", "conversation.transferred",
                      "conversation.returned_to_bot"})

_WAITING_IN_ORGS = """
SELECT DISTINCT department_id FROM conversations
 WHERE organization_id = ANY($1::uuid[]) AND status = 'waiting_in_queue' AND department_id IS NOT NULL"""
_WAITING = "SELECT DISTINCT department_id FROM conversations WHERE status = 'waiting_in_queue' AND department_id IS NOT NULL"
_AGENT_DEPARTMENTS = """
SELECT ud.department_id FROM user_departments ud
 WHERE ud.user_id = $1 AND EXISTS (SELECT 1 FROM conversations c WHERE c.department_id = ud.department_id
                                     AND c.status = 'waiting_in_queue')"""


async def assign_all(db: Any, redis: Any, departments: Iterable[uuid.UUID],
                     now: datetime | None = None) -> list[Assignment]:
    """A pass over each department (sorted: the same order in every process)."""
    done: list[Assignment] = []
    for department_id in sorted(set(departments)):
        done += await assign_department(db, redis, department_id, now)
    return done


async def on_events(db: Any, redis: Any, limit: int = 500) -> list[Assignment]:
    """Handle the consumer's batches until none is left (or another worker holds
    the consumer); the assignments made."""
    done: list[Assignment] = []
    while True:
        taken = await _take(db, limit)
        if taken is None:
            return done
        count, departments = taken
        done += await assign_all(db, redis, departments)
        if count < limit:
            return done


async def _take(db: Any, limit: int) -> tuple[int, list[uuid.UUID]] | None:
    """The next batch's size and the departments it asks a pass for (its
    organizations' departments with conversations waiting); the cursor moves."""
    async with consume(db, CONSUMER, limit, payloads=False) as batch:  # types and organizations only
        if batch is None:
            return None
        orgs = list({e.organization_id for e in batch.events if e.type in TRIGGERS})
        departments = [r[0] for r in await batch.conn.fetch(_WAITING_IN_ORGS, orgs)] if orgs else []
        return len(batch.events), departments


async def on_agent_online(db: Any, redis: Any, user_id: uuid.UUID) -> list[Assignment]:
    async with db.raw() as conn:
        departments = [r[0] for r in await conn.fetch(_AGENT_DEPARTMENTS, user_id)]
    return await assign_all(db, redis, departments)


async def sweep(db: Any, redis: Any, now: datetime | None = None) -> list[Assignment]:
    async with db.raw() as conn:
        departments = [r[0] for r in await conn.fetch(_WAITING)]
    done = await assign_all(db, redis, departments, now)
    if done:
        log.info("sweep assigned %d waiting conversation(s)", len(done))
    return done


SWEEP_SECONDS = 5.0


async def tick(db: Any, redis: Any, *, sweep_now: bool) -> list[Assignment]:
    """The maintenance loop's turn (every worker, every tick): the consumer's new
    events (one worker at a time gets them), and the sweep when ``sweep_now``."""
    done = await on_events(db, redis)
    if sweep_now:
        done += await sweep(db, redis)
    return done
