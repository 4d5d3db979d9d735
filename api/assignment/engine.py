"""One assignment pass over a department's queue, safe with any number of assigners.

A pass is one transaction:

1. lock the department row (``FOR NO KEY UPDATE``: it does not block the
   foreign-key checks of conversations pointing at it): passes over one
   department run one after the other, and each sees what the last committed;
2. stop unless the department is active, ``auto_assign_enabled`` and within
   its ``business_hours``;
3. lock the rows of the agents who may take its conversations now (members
   with ``can_pull_from_queue``, online, active, not viewers), in id order, so
   two passes over departments sharing an agent never both give them one
   past their maximum; count what each holds open (``assigned``/``open``/
   ``pending``) against their ``max_concurrent_conversations`` here;
4. lock the head of the queue (``waiting_in_queue``, in the strategy's order,
   as many as there is room for), pair conversations and agents
   (`strategies.plan`), write the assignments, their ``conversation.assigned``
   events and the agents' greetings (outbox rows), and commit.

Nothing is skipped: a conversation is only left in the queue when no agent
has room, and every later change that can make room (a close, a transfer, an
agent coming online, business hours opening) triggers a pass
(`api.assignment.triggers`). The round-robin rotation is kept in Redis per
department (``assignment:turns:{department}``, a sorted set agent → turn);
losing it only resets whose turn is next.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import asyncpg

from api.assignment.greetings import local_time, render
from api.assignment.strategies import Candidate, plan, queue_order
from api.conversations.business_hours import is_open
from api.events import conversation_payload, emit_conn, event
from api.outbox.enqueue import kick_sender, outbound_rows

log = logging.getLogger("pytake.assignment")

AGENT_ROLES = ("agent", "org_admin", "super_admin")
OPEN_STATUSES = ("assigned", "open", "pending")
TURNS_KEY = "assignment:turns:{}"
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock, serialization failure
LOCK_NOT_AVAILABLE = "55P03"
RETRIES = 5
# a pass never waits long behind a row someone holds (it holds the department and its
# agents meanwhile): it gives up, and the next trigger or the sweep runs it again
LOCK_TIMEOUT = "3s"


@dataclass(frozen=True, slots=True)
class Assignment:
    conversation_id: uuid.UUID
    agent_id: uuid.UUID
    department_id: uuid.UUID
    waiting_seconds: float | None
    greeting_id: uuid.UUID | None = None


_DEPARTMENT = """
SELECT id, organization_id, name, assignment_strategy, auto_assign_enabled, business_hours, is_active
  FROM departments WHERE id = $1 FOR NO KEY UPDATE"""

_AGENTS = f"""
SELECT u.id, u.full_name, COALESCE(ud.max_concurrent_conversations, 5) AS max_open,
       COALESCE(ud.priority_level, 0) AS priority_level
  FROM user_departments ud JOIN users u ON u.id = ud.user_id
 WHERE ud.department_id = $1 AND u.organization_id = $2
   AND ud.can_pull_from_queue IS NOT FALSE AND u.is_online AND u.is_active IS NOT FALSE
   AND u.deleted_at IS NULL AND u.role IN ({", ".join(f"'{r}'" for r in AGENT_ROLES)})
 ORDER BY u.id
   FOR NO KEY UPDATE OF u"""

_LOADS = f"""
SELECT assigned_to, count(*) AS n FROM conversations
 WHERE assigned_to = ANY($1::uuid[]) AND status IN ({", ".join(f"'{s}'" for s in OPEN_STATUSES)})
 GROUP BY assigned_to"""

_QUEUE = """
SELECT id FROM conversations
 WHERE department_id = $1 AND organization_id = $2 AND status = 'waiting_in_queue'
 ORDER BY {order} LIMIT $3
   FOR UPDATE"""

_ASSIGN = """
UPDATE conversations c
   SET assigned_to = a.agent, assigned_at = $3, status = 'assigned', pulled_from_queue_at = $3,
       queue_position = NULL, is_bot_active = false, updated_at = $3
  FROM unnest($1::uuid[], $2::uuid[]) AS a(id, agent)
 WHERE c.id = a.id AND c.status = 'waiting_in_queue'
RETURNING c.id, c.organization_id, c.contact_id, c.whatsapp_number_id, c.status, c.department_id,
          c.assigned_to, c.priority, c.is_bot_active, c.entered_queue_at, c.handoff_at"""

_GREETINGS = """
SELECT user_id, message_template FROM agent_greetings
 WHERE user_id = ANY($1::uuid[]) AND is_active IS NOT FALSE AND auto_send IS NOT FALSE"""

_CONTACT_NAMES = "SELECT id, COALESCE(name, whatsapp_name) AS name FROM contacts WHERE id = ANY($1::uuid[])"

_INSERT_MESSAGES = """
INSERT INTO messages (id, conversation_id, direction, sender_type, sender_id, type, content, status,
                      metadata, created_at)
SELECT id, conversation_id, 'outbound', 'agent', sender_id, type, content, 'pending', $6::jsonb, created_at
  FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::jsonb[], $7::timestamptz[])
       AS m(id, conversation_id, sender_id, type, content, created_at)"""

_COUNT_MESSAGES = """
UPDATE conversations SET message_count = COALESCE(message_count, 0) + 1, last_message_at = $2
 WHERE id = ANY($1::uuid[])"""


async def assign_department(db: Any, redis: Any, department_id: uuid.UUID,
                            now: datetime | None = None) -> list[Assignment]:
    """Assign what the department's queue and its available agents allow, in one
    transaction (retried on a deadlock); the greetings' sender is woken after."""
    for attempt in range(RETRIES + 1):
        try:
            async with db.raw() as conn:
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                    done = await _pass(conn, redis, department_id, now or datetime.now(timezone.utc))
            break
        except asyncpg.PostgresError as exc:
            if getattr(exc, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                log.warning("department %s: a row stayed locked past %s; its pass is left to the next trigger",
                            department_id, LOCK_TIMEOUT)
                return []
            if getattr(exc, "sqlstate", None) not in TRANSIENT_SQLSTATES or attempt == RETRIES:
                raise
            await asyncio.sleep(random.uniform(0.005, 0.02) * 2 ** attempt)
    greetings = [a.greeting_id for a in done if a.greeting_id is not None]
    if greetings:
        try:
            await kick_sender(redis, greetings)
        except Exception:  # noqa: BLE001 - the rows are durable; the sender's sweep finds them
            log.warning("could not wake the sender for %d greeting(s)", len(greetings), exc_info=True)
    return done


async def _pass(conn: Any, redis: Any, department_id: uuid.UUID, now: datetime) -> list[Assignment]:
    dept = await conn.fetchrow(_DEPARTMENT, department_id)
    if (dept is None or dept["is_active"] is False or dept["auto_assign_enabled"] is False
            or not is_open(dept["business_hours"] or {}, now)):
        return []
    org = dept["organization_id"]
    agents = await conn.fetch(_AGENTS, department_id, org)
    if not agents:
        return []
    loads = {r["assigned_to"]: r["n"] for r in await conn.fetch(_LOADS, [a["id"] for a in agents])}
    turns_key = TURNS_KEY.format(department_id)
    scores = await redis.zmscore(turns_key, [str(a["id"]) for a in agents])
    candidates = [Candidate(a["id"], a["max_open"] - loads.get(a["id"], 0), loads.get(a["id"], 0),
                            a["priority_level"], float(s or 0)) for a, s in zip(agents, scores)]
    room = sum(max(0, c.free) for c in candidates)
    if room <= 0:
        return []
    strategy = dept["assignment_strategy"]
    queue = [r["id"] for r in await conn.fetch(_QUEUE.format(order=queue_order(strategy)), department_id, org, room)]
    if not queue:
        return []
    last = await redis.zrevrange(turns_key, 0, 0, withscores=True)
    pairs = plan(strategy, queue, candidates, (last[0][1] if last else 0.0) + 1)
    rows = await conn.fetch(_ASSIGN, [c for c, _ in pairs], [a for _, a in pairs], now)
    if not rows:
        return []
    served = {c: i for i, (c, _) in enumerate(pairs)}
    rows.sort(key=lambda r: served[r["id"]])  # queue order (RETURNING's is not defined)
    names = {a["id"]: a["full_name"] for a in agents}
    greetings = await _greetings(conn, dept, rows, names, now)
    await emit_conn(conn, *(_assigned_event(r, strategy, now) for r in rows))
    assigned = {r["assigned_to"] for r in rows}
    await redis.zadd(turns_key, {str(c.id): c.turn for c in candidates if c.id in assigned})
    return [Assignment(r["id"], r["assigned_to"], department_id, waited_seconds(r, now), greetings.get(r["id"]))
            for r in rows]


def waited_seconds(row: Any, now: datetime) -> float | None:
    since = row["entered_queue_at"] or row["handoff_at"]
    return None if since is None else max(0.0, (now - since).total_seconds())


def _assigned_event(row: Any, strategy: str | None, now: datetime) -> Any:
    payload = conversation_payload(row)
    payload["assignment"] = {"automatic": True, "strategy": strategy or "round_robin",
                             "assigned_at": now.isoformat(), "waiting_seconds": waited_seconds(row, now)}
    return event(row["organization_id"], "conversation.assigned", payload, row["id"])


async def _greetings(conn: Any, dept: Any, rows: list[Any], names: dict[uuid.UUID, str],
                     now: datetime) -> dict[uuid.UUID, uuid.UUID]:
    """Queue each assigned agent's greeting (if active and ``auto_send``) as an
    outbound message of the conversation; conversation id -> message id."""
    templates = {r["user_id"]: r["message_template"]
                 for r in await conn.fetch(_GREETINGS, list({r["assigned_to"] for r in rows}))}
    greeted = [r for r in rows if templates.get(r["assigned_to"])]
    if not greeted:
        return {}
    contacts = {r["id"]: r["name"] for r in await conn.fetch(_CONTACT_NAMES, [r["contact_id"] for r in greeted])}
    local_now = local_time(dept["business_hours"], now)
    out: dict[uuid.UUID, uuid.UUID] = {}
    ids, conversations, senders, types, contents, ats = [], [], [], [], [], []
    for r in greeted:
        text = render(templates[r["assigned_to"]], agent_name=names.get(r["assigned_to"]),
                      department=dept["name"], contact_name=contacts.get(r["contact_id"]), local_now=local_now)
        if not text:
            continue
        for m in outbound_rows(r["id"], [{"type": "text", "content": {"text": text}}], sender_type="agent",
                               sender_id=r["assigned_to"]):
            ids.append(m["id"])
            conversations.append(r["id"])
            senders.append(r["assigned_to"])
            types.append(m["type"])
            contents.append(_json(m["content"]))
            ats.append(m["created_at"])
            out.setdefault(r["id"], m["id"])
    if ids:
        await conn.execute(_INSERT_MESSAGES, ids, conversations, senders, types, contents,
                           _json({"source": "agent_greeting"}), ats)
        await conn.execute(_COUNT_MESSAGES, list(out), now)
    return out


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
