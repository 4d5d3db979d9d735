"""Reading the event outbox: one cursor per consumer, no event skipped, none lost.

A consumer (outbound webhooks' dispatcher, the live channel, the log store...)
has a row in `event_consumers` holding the ``(txid, id)`` of the last event it
handled. `consume` opens a transaction, locks that row (``FOR UPDATE SKIP
LOCKED``: one worker at a time per consumer, the others get ``None`` and move
on), reads the next events and, when the caller's block ends without an error,
moves the cursor past them in the same transaction.

Why ``(txid, id)`` and the snapshot horizon: ids are taken when a row is
inserted, but transactions commit in another order, so a cursor on ``id``
alone would step over a row whose transaction commits late. Only rows whose
transaction is older than every transaction still running
(``txid < pg_snapshot_xmin(pg_current_snapshot())``) are read: that set can
no longer grow below the cursor, so ``(txid, id)`` order is gap-free. A long
transaction delays consumers (never the message path) until it ends.

Within one ``ordering_key`` (a conversation), ``id`` order is commit order when
each writer takes the conversation's row lock before writing its event (see
`api.events.emit`); a batch is handed over in ``(txid, id)`` order, and a
consumer that must keep per-conversation order sorts by ``id`` within a key
(`Batch.by_key`).

Delivery semantics: what the caller writes with ``batch.conn`` commits with
the cursor (exactly once); what it does outside the database (publish,
HTTP) happens at least once: a crash before the commit hands the same
events over again, so consumers must be idempotent (events carry their
``id``).
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, AsyncIterator

DEFAULT_BATCH = 500


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    txid: int
    organization_id: uuid.UUID
    type: str
    version: int
    ordering_key: uuid.UUID | None
    payload: Any
    occurred_at: datetime

    def envelope(self) -> dict[str, Any]:
        """The event as consumers outside the process see it (docs/events.md)."""
        return {"id": self.id, "type": self.type, "version": self.version,
                "organization_id": str(self.organization_id), "occurred_at": self.occurred_at.isoformat(),
                "data": self.payload}


@dataclass
class Batch:
    conn: Any  # the asyncpg connection, inside the consumer's transaction (when there are events)
    events: list[StoredEvent]
    after: tuple[int, int] = (0, 0)  # the cursor's (txid, id) before the batch: it covers the events after it

    async def with_payloads(self, events: list[StoredEvent]) -> list[StoredEvent]:
        """``events`` (of a batch read with ``payloads=False``) with their payloads: one
        query for the few a consumer keeps, instead of decoding every payload of the batch."""
        if not events:
            return events
        rows = await self.conn.fetch(_PAYLOADS, [str(e.txid) for e in events], [e.id for e in events])
        payloads = {r["id"]: r["payload"] for r in rows}
        return [replace(e, payload=payloads.get(e.id)) for e in events]

    def by_key(self) -> dict[uuid.UUID | None, list[StoredEvent]]:
        """Events grouped by ordering key, each group in ``id`` order."""
        groups: dict[uuid.UUID | None, list[StoredEvent]] = {}
        for e in sorted(self.events, key=lambda e: e.id):
            groups.setdefault(e.ordering_key, []).append(e)
        return groups


_LOCK = "SELECT cursor_txid::text AS txid, cursor_id FROM event_consumers WHERE name = $1 FOR UPDATE SKIP LOCKED"
# ORDER BY names the table's columns (e.): a bare `txid` is the output's text, whose order
# is not the transactions' ("10" < "9": a batch crossing a power of ten skipped events and
# repeated others) and which no index has (every batch sorted the whole table)
_READ = """
SELECT e.id, e.txid::text AS txid, e.organization_id, e.type, e.version, e.ordering_key, {payload} AS payload,
       e.occurred_at
  FROM events e
 WHERE (e.txid, e.id) > ($1::text::xid8, $2::bigint)
   AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
 ORDER BY e.txid, e.id
 LIMIT $3
"""
# by the primary key (txid, id): `events` has no index on id alone, and a lookup by id
# scanned the whole table on every batch, slower the more events it held
_PAYLOADS = """
SELECT e.id, e.payload
  FROM unnest($1::text[]::xid8[], $2::bigint[]) AS k(txid, id)
  JOIN events e ON e.txid = k.txid AND e.id = k.id
"""
_READ_WITH_PAYLOADS = _READ.format(payload="e.payload")
_READ_WITHOUT_PAYLOADS = _READ.format(payload="NULL::jsonb")
# Anything for this consumer? Read-only, no lock (a row lock takes a transaction id
# and a commit): an idle consumer's poll costs one index probe. NULL: no such
# consumer (a reset database). ORDER BY ... LIMIT 1 makes the planner probe the
# (txid, id) index (with EXISTS it scanned the table).
_ANY = """
SELECT (SELECT true FROM events e
         WHERE (e.txid, e.id) > (c.cursor_txid, c.cursor_id)
           AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY e.txid, e.id LIMIT 1) IS NOT NULL
  FROM event_consumers c WHERE c.name = $1
"""
_registered: set[str] = set()  # consumers whose row this process has made sure of

_ADVANCE = ("UPDATE event_consumers SET cursor_txid = $2::text::xid8, cursor_id = $3, updated_at = now() "
            "WHERE name = $1")


async def register(conn: Any, name: str, *, from_now: bool = False) -> None:
    """Create the consumer's cursor if missing: at the start of the outbox, or
    (``from_now``) past every event committed so far."""
    if from_now:
        await conn.execute(
            "INSERT INTO event_consumers (name, cursor_txid, cursor_id) "
            "SELECT $1, COALESCE(max(txid), '0'::xid8), COALESCE(max(id), 0) FROM events "
            "WHERE txid < pg_snapshot_xmin(pg_current_snapshot()) ON CONFLICT (name) DO NOTHING", name)
    else:
        await conn.execute("INSERT INTO event_consumers (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", name)


@asynccontextmanager
async def consume(db: Any, name: str, limit: int = DEFAULT_BATCH, *,
                  payloads: bool = True) -> AsyncIterator[Batch | None]:
    """``async with consume(db, "webhooks") as batch:`` the next events of a
    consumer, or ``None`` while another worker holds it. The cursor moves past
    ``batch.events`` when the block exits normally; an exception rolls back.
    When a lock-free look finds nothing past the cursor the batch is empty at
    once (no transaction: the idle poll of every worker stays cheap).
    ``payloads=False``: the events come without their payload (``None``), for a
    consumer that looks only at types and keys, or reads what it needs in SQL
    (decoding every payload is most of a consumer's cost per event)."""
    async with db.raw() as conn:
        for _ in range(2):
            if name not in _registered:  # its own statement: an insert inside the transaction
                await register(conn, name)  # would make a second worker wait instead of moving on
                _registered.add(name)
            elif await conn.fetchval(_ANY, name) is False:
                yield Batch(conn, [])  # nothing new: no transaction, no lock
                return
            async with conn.transaction():
                row = await conn.fetchrow(_LOCK, name)
                if row is None:
                    if await conn.fetchval("SELECT 1 FROM event_consumers WHERE name = $1", name):
                        break  # another worker holds it
                    _registered.discard(name)  # the row is gone (a reset database): register again
                    continue
                records = await conn.fetch(_READ_WITH_PAYLOADS if payloads else _READ_WITHOUT_PAYLOADS,
                                           row["txid"], row["cursor_id"], limit)
                events = [StoredEvent(r["id"], int(r["txid"]), r["organization_id"], r["type"], r["version"],
                                      r["ordering_key"], r["payload"], r["occurred_at"]) for r in records]
                batch = Batch(conn, events, (int(row["txid"]), row["cursor_id"]))
                yield batch
                if events:
                    last = events[-1]
                    await conn.execute(_ADVANCE, name, str(last.txid), last.id)
                return
        yield None


async def backlog(db: Any, name: str) -> int:
    """Events committed and not yet handled by a consumer (a metric; counts rows)."""
    async with db.raw() as conn:
        row = await conn.fetchrow("SELECT cursor_txid::text AS txid, cursor_id FROM event_consumers WHERE name = $1",
                                  name)
        txid, cursor_id = (row["txid"], row["cursor_id"]) if row else ("0", 0)
        return await conn.fetchval(
            "SELECT count(*) FROM events WHERE (txid, id) > ($1::text::xid8, $2::bigint)", txid, cursor_id)
