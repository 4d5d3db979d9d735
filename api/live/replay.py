"""Resuming: the events a client missed, from the `events` table.

`head` is the newest position every consumer can already see (events below
the snapshot horizon, `api.events.consumer`); `replay` reads the viewer's
organization's live events after the client's cursor up to ``head``, in the
order the live consumer publishes, filtered by the same audience rule. A
socket subscribes to its organization's channel *before* taking ``head``, so
everything after ``head`` reaches it live: the seam has no gap, and events at
or before the last cursor sent are dropped (no duplicate).
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from api.events.consumer import StoredEvent
from api.live.audience import Viewer, audience
from api.live.protocol import LIVE_TYPES, ORIGIN, Cursor, event_message

PAGE = 500
MAX_REPLAY = 10_000  # more missed events than this: the client reloads over HTTP (CloseCode.RESYNC)

# e.txid, not the output's text (the newest event is not the greatest text: "9" > "10")
_HEAD = """
SELECT e.txid::text AS txid, e.id FROM events e
 WHERE e.txid < pg_snapshot_xmin(pg_current_snapshot())
 ORDER BY e.txid DESC, e.id DESC LIMIT 1"""
_PAGE = """
SELECT e.id, e.txid::text AS txid, e.organization_id, e.type, e.version, e.ordering_key, e.payload, e.occurred_at,
       c.department_id, c.assigned_to
  FROM events e LEFT JOIN conversations c ON c.id = e.ordering_key
 WHERE (e.txid, e.id) > ($1::text::xid8, $2::bigint) AND (e.txid, e.id) <= ($3::text::xid8, $4::bigint)
   AND e.organization_id = $5 AND e.type = ANY($6::text[])
 ORDER BY e.txid, e.id
 LIMIT $7"""


class TooFarBehind(Exception):
    """More than `MAX_REPLAY` events to replay."""


async def head(db: Any) -> Cursor:
    async with db.raw() as conn:
        row = await conn.fetchrow(_HEAD)
    return Cursor(int(row["txid"]), row["id"]) if row else ORIGIN


async def replay(db: Any, viewer: Viewer, after: Cursor, until: Cursor,
                 limit: int = MAX_REPLAY) -> AsyncIterator[tuple[Cursor, str]]:
    """``(cursor, text)`` of each event the viewer may see in ``(after, until]``."""
    types = sorted(LIVE_TYPES)
    scanned = 0
    position = after
    while position < until:
        async with db.raw() as conn:
            rows = await conn.fetch(_PAGE, str(position.txid), position.id, str(until.txid), until.id,
                                    viewer.organization_id, types, PAGE)
        if not rows:
            return
        scanned += len(rows)
        if scanned > limit:
            raise TooFarBehind(str(after))
        for r in rows:
            cursor = Cursor(int(r["txid"]), r["id"])
            position = cursor
            if not audience(r["payload"], r).visible_to(viewer):
                continue
            event = StoredEvent(r["id"], cursor.txid, r["organization_id"], r["type"], r["version"],
                                r["ordering_key"], r["payload"], r["occurred_at"])
            yield cursor, event_message(cursor, event.envelope())
        if len(rows) < PAGE:
            return
