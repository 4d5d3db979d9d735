"""A live flow's recent failures, as the runtime keeps them on each inbound message
(``metadata.run``: ``errors`` for flow errors, ``failed_calls`` for `api_call` /
`ai_prompt` calls that failed), for the editor's "recent errors" panel."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

RECENT_DAYS = 30  # bounds the scan to the recent partitions of messages
LIMIT = 20

_QUERY = text(f"""
    SELECT m.id, m.conversation_id, m.created_at, m.metadata->'run' AS run
    FROM messages m JOIN conversations c ON c.id = m.conversation_id
    WHERE c.organization_id = :org AND m.direction = 'inbound'
      AND m.created_at > now() - interval '{RECENT_DAYS} days'
      AND m.metadata->'run'->>'flow_id' = :flow
      AND (m.metadata->'run' ? 'errors' OR m.metadata->'run' ? 'failed_calls')
    ORDER BY m.created_at DESC
    LIMIT :limit""")


def _describe(doc: dict[str, Any]) -> str:
    """One line a designer can act on, from the event the engine emitted."""
    if doc.get("type") == "error":
        return " ".join(str(doc[k]) for k in ("code", "message") if doc.get(k)) or "error"
    parts = [str(doc[k]) for k in ("method", "url") if doc.get(k)]
    if doc.get("provider"):
        parts.append(f"{doc['provider']} {doc.get('model') or ''}".strip())
    if doc.get("status"):
        parts.append(f"HTTP {doc['status']}")
    parts += [str(doc[k]) for k in ("error", "message") if doc.get(k)]
    return " · ".join(parts) or "call failed"


async def recent_problems(session: AsyncSession, organization_id: uuid.UUID, flow_id: uuid.UUID,
                          limit: int = LIMIT) -> list[dict[str, Any]]:
    """The flow's failures, newest first: one item per failing node of each message."""
    rows = (await session.execute(_QUERY, {"org": organization_id, "flow": str(flow_id), "limit": limit})).all()
    items: list[dict[str, Any]] = []
    for row in rows:
        run = row.run if isinstance(row.run, dict) else {}
        for key, kind in (("errors", "error"), ("failed_calls", "failed_call")):
            for doc in run.get(key) or []:
                if isinstance(doc, dict):
                    items.append({"message_id": row.id, "conversation_id": row.conversation_id,
                                  "at": row.created_at, "kind": kind, "node": doc.get("node"),
                                  "event": doc.get("type"), "message": _describe(doc)})
    return items[:limit]
