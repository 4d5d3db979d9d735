"""Analytics snapshots: an organization's figures per hour, day, week and month.

Each snapshot is computed from the source tables (conversations, messages,
contacts, users, events) for one period ``[start, end)`` in the organization's
timezone (api/analytics/periods.py) and stored in ``analytics_snapshots``, one
row per ``(organization_id, period, start)``: computing a period again replaces
its row, so a refresh or a backfill can run any number of times.

Figures (times in seconds; rates from 0 to 1, null without a denominator):

- ``conversations``: ``total`` (created in the period or with a message in it),
  ``new`` (created), ``resolved`` (``resolved_at`` in it), ``open`` (at the end:
  created before it and not yet resolved or closed), ``avg_resolution_time``
  (created → resolved, of those resolved in it);
- ``messages``: ``total``, ``inbound``, ``outbound``, ``by_type`` (created in it);
- ``contacts``: ``total`` (existing at the end, not deleted), ``new``, ``active``
  (wrote a message in it);
- ``chatbots`` (from the ``flow.*`` events): ``total_executions``
  (``flow.started``), ``completion_rate`` and ``handoff_rate`` (``flow.completed``
  with outcome ``ended`` / ``handoff`` per execution), ``avg_completion_time``
  (of the ``ended`` runs' durations), ``ai_calls``, ``ai_prompt_tokens``,
  ``ai_completion_tokens``, ``ai_tokens`` (the ``ai`` lists of ``flow.step``:
  the AI calls and the tokens their providers reported);
- ``agents``: ``total`` (active agent users now), ``active`` (sent a message in
  it), ``avg_response_time`` (an agent's message after a customer's, the gap,
  both in the period and the same conversation), ``conversations_per_agent``
  (conversations an agent wrote in / active agents).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import text

from api.analytics.periods import PERIODS, UTC, period_end, period_start, periods_between, zone_of
from api.json_codec import loads_json

_COMPUTE = """
WITH conv AS (
  SELECT count(*) FILTER (WHERE created_at >= :start AND created_at < :end) AS new,
         count(*) FILTER (WHERE resolved_at >= :start AND resolved_at < :end) AS resolved,
         count(*) FILTER (WHERE created_at < :end AND (resolved_at >= :end OR (resolved_at IS NULL
                          AND status NOT IN ('resolved', 'closed')))) AS open,
         avg(extract(epoch FROM resolved_at - created_at))
             FILTER (WHERE resolved_at >= :start AND resolved_at < :end) AS avg_resolution
    FROM conversations WHERE organization_id = :org AND created_at < :end
), msg AS (
  SELECT m.conversation_id, m.direction, m.type, m.sender_type, m.sender_id, m.created_at, c.contact_id,
         lag(m.direction) OVER w AS prev_direction, lag(m.created_at) OVER w AS prev_at
    FROM messages m JOIN conversations c ON c.id = m.conversation_id
   WHERE c.organization_id = :org AND m.created_at >= :start AND m.created_at < :end
  WINDOW w AS (PARTITION BY m.conversation_id ORDER BY m.created_at, m.id)
), msgs AS (
  SELECT count(*) AS total, count(*) FILTER (WHERE direction = 'inbound') AS inbound,
         count(*) FILTER (WHERE direction = 'outbound') AS outbound,
         count(DISTINCT contact_id) FILTER (WHERE direction = 'inbound') AS active_contacts,
         count(DISTINCT sender_id) FILTER (WHERE sender_type = 'agent' AND sender_id IS NOT NULL) AS active_agents,
         count(DISTINCT conversation_id) FILTER (WHERE sender_type = 'agent' AND sender_id IS NOT NULL) AS agent_convs,
         avg(extract(epoch FROM created_at - prev_at))
             FILTER (WHERE sender_type = 'agent' AND prev_direction = 'inbound') AS avg_response
    FROM msg
), conv_total AS (
  SELECT count(*) AS total FROM (
    SELECT id FROM conversations WHERE organization_id = :org AND created_at >= :start AND created_at < :end
    UNION SELECT conversation_id FROM msg) t
), types AS (
  SELECT COALESCE(jsonb_object_agg(type, n), '{}'::jsonb) AS by_type
    FROM (SELECT COALESCE(type, 'text') AS type, count(*) AS n FROM msg GROUP BY 1) t
), cont AS (
  SELECT count(*) FILTER (WHERE deleted_at IS NULL OR deleted_at >= :end) AS total,
         count(*) FILTER (WHERE created_at >= :start) AS new
    FROM contacts WHERE organization_id = :org AND created_at < :end
), ev AS (
  SELECT count(*) FILTER (WHERE type = 'flow.started') AS executions,
         count(*) FILTER (WHERE type = 'flow.completed' AND payload->>'outcome' = 'ended') AS completions,
         count(*) FILTER (WHERE type = 'flow.completed' AND payload->>'outcome' = 'handoff') AS handoffs,
         avg((payload->>'duration_ms')::numeric / 1000)
             FILTER (WHERE type = 'flow.completed' AND payload->>'outcome' = 'ended'
                     AND jsonb_typeof(payload->'duration_ms') = 'number') AS avg_completion
    FROM events WHERE organization_id = :org AND occurred_at >= :start AND occurred_at < :end
     AND type IN ('flow.started', 'flow.completed')
), ai AS (
  SELECT count(a.call) AS calls,
         COALESCE(sum((a.call->>'prompt_tokens')::bigint) FILTER (WHERE jsonb_typeof(a.call->'prompt_tokens') = 'number'), 0)
             AS prompt,
         COALESCE(sum((a.call->>'completion_tokens')::bigint)
                  FILTER (WHERE jsonb_typeof(a.call->'completion_tokens') = 'number'), 0) AS completion,
         COALESCE(sum((a.call->>'tokens_used')::bigint) FILTER (WHERE jsonb_typeof(a.call->'tokens_used') = 'number'), 0)
             AS total
    FROM events e
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(e.payload->'ai') = 'array'
                                                 THEN e.payload->'ai' ELSE '[]'::jsonb END) AS a(call)
   WHERE e.organization_id = :org AND e.occurred_at >= :start AND e.occurred_at < :end AND e.type = 'flow.step'
), agents AS (
  SELECT count(*) AS total FROM users
   WHERE organization_id = :org AND role = 'agent' AND deleted_at IS NULL AND is_active IS NOT FALSE
)
SELECT jsonb_build_object('total', conv_total.total, 'new', conv.new, 'resolved', conv.resolved,
                          'open', conv.open, 'avg_resolution_time', round(conv.avg_resolution, 3)) AS conversations,
       jsonb_build_object('total', msgs.total, 'inbound', msgs.inbound, 'outbound', msgs.outbound,
                          'by_type', types.by_type) AS messages,
       jsonb_build_object('total', cont.total, 'new', cont.new, 'active', msgs.active_contacts) AS contacts,
       jsonb_build_object('total_executions', ev.executions,
                          'completion_rate', round(ev.completions::numeric / NULLIF(ev.executions, 0), 4),
                          'avg_completion_time', round(ev.avg_completion, 3),
                          'handoff_rate', round(ev.handoffs::numeric / NULLIF(ev.executions, 0), 4),
                          'ai_calls', ai.calls, 'ai_prompt_tokens', ai.prompt,
                          'ai_completion_tokens', ai.completion, 'ai_tokens', ai.total) AS chatbots,
       jsonb_build_object('total', agents.total, 'active', msgs.active_agents,
                          'avg_response_time', round(msgs.avg_response, 3),
                          'conversations_per_agent',
                          round(msgs.agent_convs::numeric / NULLIF(msgs.active_agents, 0), 2)) AS agents
  FROM conv, msgs, conv_total, types, cont, ev, ai, agents
"""

_UPSERT = """
INSERT INTO analytics_snapshots (organization_id, period, start, "end", timezone, conversations, messages,
                                 contacts, chatbots, agents, computed_at)
VALUES (:org, :period, :start, :end, :timezone, CAST(:conversations AS jsonb), CAST(:messages AS jsonb),
        CAST(:contacts AS jsonb), CAST(:chatbots AS jsonb), CAST(:agents AS jsonb), now())
ON CONFLICT (organization_id, period, start) DO UPDATE SET
  "end" = excluded."end", timezone = excluded.timezone, conversations = excluded.conversations,
  messages = excluded.messages, contacts = excluded.contacts, chatbots = excluded.chatbots,
  agents = excluded.agents, computed_at = excluded.computed_at
"""

SECTIONS = ("conversations", "messages", "contacts", "chatbots", "agents")
MAX_PERIODS = 1000  # one backfill or read: at most this many periods of one organization


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def compute_snapshot(session: Any, organization_id: uuid.UUID, start: datetime, end: datetime) -> dict[str, Any]:
    """The figures of ``[start, end)`` (the five sections), read from the source tables."""
    row = (await session.execute(text(_COMPUTE), {"org": organization_id, "start": start, "end": end})).mappings().one()
    return {name: _loaded(row[name]) for name in SECTIONS}


async def _organizations(session: Any, organization_id: uuid.UUID | None) -> list[Any]:
    sql = "SELECT id, settings FROM organizations WHERE deleted_at IS NULL"
    params: dict[str, Any] = {}
    if organization_id is not None:
        sql += " AND id = :org"
        params["org"] = organization_id
    else:
        sql += " AND is_active IS NOT FALSE"
    return list((await session.execute(text(sql + " ORDER BY id"), params)).all())


async def store_snapshot(db: Any, organization_id: uuid.UUID, period: str, start: datetime, end: datetime,
                         zone_name: str) -> dict[str, Any]:
    """Compute one period and store it (replacing the row of that period, if any)."""
    async with db.transaction() as session:
        figures = await compute_snapshot(session, organization_id, start, end)
        await session.execute(text(_UPSERT), {
            "org": organization_id, "period": period, "start": start, "end": end, "timezone": zone_name,
            **{name: json.dumps(figures[name]) for name in SECTIONS}})
    return figures


async def backfill_snapshots(db: Any, since: datetime, until: datetime, *, periods: Iterable[str] = PERIODS,
                             organization_id: uuid.UUID | None = None) -> int:
    """Compute and store every period overlapping ``[since, until)`` of each organization
    (or of one); the number of snapshots written. A time without offset (naive) is each
    organization's local time: ``2026-03-01`` to ``2026-04-01`` is its March."""
    periods = tuple(periods)
    for period in periods:
        if period not in PERIODS:
            raise ValueError(f"unknown period {period!r}")
    async with db.session() as session:
        orgs = await _organizations(session, organization_id)
    written = 0
    for org in orgs:
        zone = zone_of(_loaded(org.settings))
        begin, finish = (t if t.tzinfo else t.replace(tzinfo=zone) for t in (since, until))
        for period in periods:
            for start, end in periods_between(period, begin, finish, zone):
                await store_snapshot(db, org.id, period, start, end, zone.key)
                written += 1
    return written


async def refresh_snapshots(db: Any, now: datetime | None = None, *, periods: Iterable[str] = PERIODS) -> int:
    """The scheduled refresh: each organization's current and previous period of each of
    ``periods`` (the previous one takes the late rows of its last minutes)."""
    now = now or datetime.now(UTC)
    written = 0
    async with db.session() as session:
        orgs = await _organizations(session, None)
    for org in orgs:
        zone = zone_of(_loaded(org.settings))
        for period in periods:
            current = period_start(period, now, zone)
            previous = period_start(period, current - timedelta(seconds=1), zone)
            for start in (previous, current):
                await store_snapshot(db, org.id, period, start, period_end(period, start, zone), zone.key)
                written += 1
    return written


async def list_snapshots(session: Any, organization_id: uuid.UUID, period: str, since: datetime | None,
                         until: datetime | None) -> list[dict[str, Any]]:
    """The stored snapshots of ``period`` starting in ``[since, until)``, oldest first."""
    # The sections come back as JSON text and are decoded in one loads (orjson) for the
    # whole page: a year of days is 1,825 small documents, and decoding each on its
    # own was most of the route's CPU (bench/dashboard.py).
    rows = (await session.execute(text(
        """SELECT period, start, "end", timezone, computed_at, conversations::text, messages::text,
                  contacts::text, chatbots::text, agents::text
             FROM analytics_snapshots WHERE organization_id = :org AND period = :period
              AND (CAST(:since AS timestamptz) IS NULL OR start >= CAST(:since AS timestamptz))
              AND (CAST(:until AS timestamptz) IS NULL OR start < CAST(:until AS timestamptz))
            ORDER BY start LIMIT :limit"""),
        {"org": organization_id, "period": period, "since": since, "until": until, "limit": MAX_PERIODS})).all()
    sections = iter(loads_json("[" + ",".join(part for row in rows for part in row[5:]) + "]"))
    return [{"period": row[0], "start": row[1], "end": row[2], "timezone": row[3], "computed_at": row[4],
             **{name: next(sections) for name in SECTIONS}} for row in rows]


__all__ = ["MAX_PERIODS", "SECTIONS", "backfill_snapshots", "compute_snapshot", "list_snapshots",
           "refresh_snapshots", "store_snapshot"]
