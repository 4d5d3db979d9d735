"""``chatbots.statistics`` kept current from the domain events (consumer ``chatbot_statistics``).

Each batch of events (api/events/consumer.py) is folded into per-chatbot
additions, written with the consumer's cursor in one transaction: exactly once.
A new consumer starts at the beginning of the outbox, so the history already
stored is counted too.

Keys (all added to; the other keys of ``statistics`` are kept):

- ``executions``: ``flow.started`` (a flow run began);
- ``completions``: ``flow.completed`` with outcome ``ended``;
- ``handoffs``: ``conversation.handoff`` (the bot gave the conversation to
  agents: a handoff node or a keyword);
- ``errors``: ``flow.error``;
- ``completion_ms_total`` / ``completions_timed``: the sum and number of
  ``flow.completed`` durations (ended or handed off), and
  ``avg_completion_ms`` their quotient (rounded);
- ``ai_calls``, ``ai_prompt_tokens``, ``ai_completion_tokens``, ``ai_tokens``:
  the ``ai_prompt`` calls of ``flow.step`` events (its ``ai`` list) and the
  tokens their providers reported (a call without usage adds none);
- ``updated_at``: when the statistics last changed.

A flow event's chatbot is its flow's; a handoff's is its conversation's (set by
the same statement that wrote the handoff). Events of another organization than
the chatbot's are not counted.
"""

from __future__ import annotations

import json
from typing import Any

from api.db.session import bind
from api.events.consumer import consume

CONSUMER = "chatbot_statistics"
TYPES = ("flow.started", "flow.completed", "flow.error", "flow.step", "conversation.handoff")
AI_KEYS = ("ai_calls", "ai_prompt", "ai_completion", "ai_total")

_APPLY = """
WITH e AS (
  SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:types AS text[]), CAST(:flows AS uuid[]),
                       CAST(:convs AS uuid[]), CAST(:outcomes AS text[]), CAST(:durations AS bigint[]),
                       CAST(:ai_calls AS bigint[]), CAST(:ai_prompt AS bigint[]), CAST(:ai_completion AS bigint[]),
                       CAST(:ai_total AS bigint[]))
           AS e(org, type, flow, conv, outcome, duration, ai_calls, ai_prompt, ai_completion, ai_total)
), attributed AS (
  SELECT COALESCE(f.chatbot_id, c.chatbot_id) AS chatbot_id, e.*
    FROM e
    LEFT JOIN flows f ON e.flow IS NOT NULL AND f.id = e.flow
    LEFT JOIN conversations c ON e.flow IS NULL AND c.id = e.conv
), sums AS (
  SELECT chatbot_id, org,
         count(*) FILTER (WHERE type = 'flow.started') AS executions,
         count(*) FILTER (WHERE type = 'flow.completed' AND outcome = 'ended') AS completions,
         count(*) FILTER (WHERE type = 'conversation.handoff') AS handoffs,
         count(*) FILTER (WHERE type = 'flow.error') AS errors,
         COALESCE(sum(duration) FILTER (WHERE type = 'flow.completed'), 0) AS ms,
         count(duration) FILTER (WHERE type = 'flow.completed') AS timed,
         COALESCE(sum(ai_calls), 0) AS ai_calls, COALESCE(sum(ai_prompt), 0) AS ai_prompt,
         COALESCE(sum(ai_completion), 0) AS ai_completion, COALESCE(sum(ai_total), 0) AS ai_total
    FROM attributed WHERE chatbot_id IS NOT NULL
   GROUP BY chatbot_id, org
), added AS (
  SELECT b.id, s.*, COALESCE(b.statistics, '{}'::jsonb) AS old FROM chatbots b JOIN sums s
      ON s.chatbot_id = b.id AND s.org = b.organization_id
)
UPDATE chatbots b SET statistics = a.old || jsonb_build_object(
    'executions', COALESCE((a.old->>'executions')::bigint, 0) + a.executions,
    'completions', COALESCE((a.old->>'completions')::bigint, 0) + a.completions,
    'handoffs', COALESCE((a.old->>'handoffs')::bigint, 0) + a.handoffs,
    'errors', COALESCE((a.old->>'errors')::bigint, 0) + a.errors,
    'completion_ms_total', COALESCE((a.old->>'completion_ms_total')::bigint, 0) + a.ms,
    'completions_timed', COALESCE((a.old->>'completions_timed')::bigint, 0) + a.timed,
    'avg_completion_ms', CASE WHEN COALESCE((a.old->>'completions_timed')::bigint, 0) + a.timed > 0
        THEN round((COALESCE((a.old->>'completion_ms_total')::bigint, 0) + a.ms)::numeric
                   / (COALESCE((a.old->>'completions_timed')::bigint, 0) + a.timed))
        ELSE NULL END,
    'ai_calls', COALESCE((a.old->>'ai_calls')::bigint, 0) + a.ai_calls,
    'ai_prompt_tokens', COALESCE((a.old->>'ai_prompt_tokens')::bigint, 0) + a.ai_prompt,
    'ai_completion_tokens', COALESCE((a.old->>'ai_completion_tokens')::bigint, 0) + a.ai_completion,
    'ai_tokens', COALESCE((a.old->>'ai_tokens')::bigint, 0) + a.ai_total,
    'updated_at', now())
  FROM added a WHERE b.id = a.id
"""


def _uuid_or_none(value: Any) -> str | None:
    return str(value) if value else None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def ai_sums(calls: Any) -> tuple[int, int, int, int]:
    """``(calls, prompt tokens, completion tokens, tokens)`` of a ``flow.step``'s ``ai`` list."""
    calls = [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
    return (len(calls), sum(_count(c.get("prompt_tokens")) for c in calls),
            sum(_count(c.get("completion_tokens")) for c in calls), sum(_count(c.get("tokens_used")) for c in calls))


async def update_chatbot_statistics(db: Any, limit: int = 500) -> int:
    """Fold the consumer's new events into ``chatbots.statistics`` until none is left
    (or another worker holds the consumer); the number of events read."""
    read = 0
    while True:
        # without payloads: the payloads of the few events counted come in one more query
        async with consume(db, CONSUMER, limit, payloads=False) as batch:
            if batch is None:
                return read
            cols: dict[str, list[Any]] = {k: [] for k in ("orgs", "types", "flows", "convs", "outcomes", "durations",
                                                           *AI_KEYS)}
            for e in await batch.with_payloads([e for e in batch.events if e.type in TYPES]):
                payload = e.payload if isinstance(e.payload, dict) else json.loads(e.payload or "{}")
                ai = ai_sums(payload.get("ai")) if e.type == "flow.step" else (0, 0, 0, 0)
                if e.type == "flow.step" and not ai[0]:  # a step without AI calls adds nothing
                    continue
                if e.type == "conversation.handoff":
                    flow, conv = None, (payload.get("conversation") or {}).get("id")
                else:
                    flow, conv = (payload.get("flow") or {}).get("id"), payload.get("conversation_id")
                if not flow and not conv:
                    continue
                duration = payload.get("duration_ms")
                for name, value in zip(cols, (e.organization_id, e.type, _uuid_or_none(flow), _uuid_or_none(conv),
                                              payload.get("outcome"),
                                              int(duration) if isinstance(duration, (int, float)) else None,
                                              *ai)):
                    cols[name].append(value)
            if cols["types"]:
                await batch.conn.execute(*bind(_APPLY, cols))
            read += len(batch.events)
            if len(batch.events) < limit:
                return read
