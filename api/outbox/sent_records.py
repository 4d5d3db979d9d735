"""Group commit of the sender's ``sent`` records.

When Meta accepts a row, the sender writes it ``sent`` with the wamid. On the
hot path (one reply per flow step) that record is a statement of its own, one
per message. `SentRecorder` writes the records of every sender of a process
that are waiting at the same moment in ONE statement: the first record starts
a write at once; records arriving while it runs wait and go together in the
next one. Nothing waits for a timer, so a lone record costs what it did, and
under load one statement carries many.

A caller's ``record`` returns once its row is written (or raises what the
write raised), exactly as the single statement did: callers see no
difference. Rows are written in id order, so two concurrent batches (two
processes) lock rows in the same order; a deadlock with a status webhook is
retried. The statement (`ACCEPTED_CTES`) never lowers a status a faster
status webhook already raised, and updates the campaign recipient with it
(only when a row of the batch is a campaign's: `any_campaign`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import asyncpg

from api.db.session import Database, bind
from api.events import cte_params

log = logging.getLogger("pytake.runtime.sender")

MAX_BATCH = 256
RETRIES = 4
_TRANSIENT = frozenset({"40P01", "40001"})  # deadlock, serialization failure

# accepted → sent with the wamid (never lowering a status a fast status webhook
# already raised), the campaign recipient with it, and each row's message.sent
# event, for the rows in the arrays :ids/:ats/:wamids/:metas and their events
# (`accepted_values`); the sender's record-and-claim statement uses these CTEs
# too. The event is written only for a row the statement updated, after its
# row lock: a row is claimed once, so it is accepted (and its event written)
# once; a status webhook on the same message waits on that lock, so the
# message's events stay in commit order.
_INPUT_AND_ACCEPTED = """
input AS (
  SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[]), CAST(:wamids AS text[]),
                       CAST(:metas AS jsonb[]), CAST(:ev_orgs AS uuid[]), CAST(:ev_types AS text[]),
                       CAST(:ev_versions AS int2[]), CAST(:ev_keys AS uuid[]), CAST(:ev_payloads AS text[]))
         AS i(id, created_at, wamid, meta, ev_org, ev_type, ev_version, ev_key, ev_payload)
), accepted AS (
  UPDATE messages m SET
    status = CASE WHEN m.status IN ('pending', 'failed') THEN 'sent' ELSE m.status END,
    whatsapp_message_id = COALESCE(m.whatsapp_message_id, i.wamid),
    sent_at = COALESCE(m.sent_at, now()),
    error_message = CASE WHEN m.status = 'failed' THEN NULL ELSE m.error_message END,
    metadata = m.metadata || i.meta
    FROM input i
   WHERE m.id = i.id AND m.created_at = i.created_at
  RETURNING m.id, i.wamid
)"""
# Only a campaign's message (``metadata.campaign_id``, api/campaigns/runner.py) has a
# recipient row: a statement with none leaves the CTE out, as an UPDATE of
# campaign_recipients fires its statement trigger (the campaign counters, migration
# 0016) even when it changes no row.
_RECIPIENTS = """
recipients AS (
  UPDATE campaign_recipients r SET
    whatsapp_message_id = COALESCE(r.whatsapp_message_id, a.wamid),
    status = CASE WHEN r.status = 'pending' THEN 'sent' ELSE r.status END,
    sent_at = COALESCE(r.sent_at, now())
    FROM accepted a
   WHERE r.message_id = a.id
)"""
_SENT_EVENTS = """
sent_events AS (
  INSERT INTO events (organization_id, type, version, ordering_key, payload)
  SELECT i.ev_org, i.ev_type, i.ev_version, i.ev_key, CAST(i.ev_payload AS jsonb)
    FROM input i JOIN accepted a ON a.id = i.id
   ORDER BY i.id
)"""


def accepted_ctes(campaign: bool = True) -> str:
    """The CTEs; ``campaign`` False (no row of the statement is a campaign's) leaves the
    recipients' update out."""
    return ",".join([_INPUT_AND_ACCEPTED, *([_RECIPIENTS] if campaign else []), _SENT_EVENTS])


ACCEPTED_CTES = accepted_ctes()
_RECORD_SENT = {campaign: f"WITH {accepted_ctes(campaign)} SELECT count(*) FROM accepted"
                for campaign in (True, False)}


def any_campaign(records: list[dict[str, Any]]) -> bool:
    """Whether a record is (or may be) a campaign's message: its ``campaign`` flag
    (`sender._Accepted.params` sets it from the row's metadata); a record without the
    flag (the campaign runner's) counts as one."""
    return any(p.get("campaign", True) for p in records)


def accepted_values(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """`ACCEPTED_CTES`' parameters for `sender._Accepted.params` dicts (with their
    message.sent ``event``), in id order
    (one lock order for every writer)."""
    records = sorted(records, key=lambda p: p["sent_id"])
    return {"ids": [p["sent_id"] for p in records], "ats": [p["sent_created_at"] for p in records],
            "wamids": [p["wamid"] for p in records], "metas": [p["meta"] for p in records],
            **cte_params(p["event"] for p in records)}


class SentRecorder:
    """Writes ``sent`` records for one process's senders, batched by arrival."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._waiting: list[tuple[dict[str, Any], asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def record(self, params: dict[str, Any]) -> None:
        """Write one accepted row (`sender._Accepted.params`); returns once written."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((params, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_while_waiting())
        # a cancelled caller does not cancel the write: its row is recorded anyway
        await asyncio.shield(future)

    async def _write_while_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                await self._write([params for params, _ in batch])
            except asyncio.CancelledError:  # the process is stopping
                for _, future in batch + self._waiting:
                    future.cancel()
                self._waiting = []
                raise
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        values = accepted_values(batch)
        for attempt in range(RETRIES + 1):
            try:
                async with self._db.raw() as conn:
                    await conn.fetchval(*bind(_RECORD_SENT[any_campaign(batch)], values))
                return
            except asyncpg.PostgresError as exc:
                if getattr(exc, "sqlstate", None) not in _TRANSIENT or attempt == RETRIES:
                    raise
                log.info("sent records: %s, writing %d again", exc.sqlstate, len(batch))
                await asyncio.sleep(random.uniform(0.005, 0.02) * 2 ** attempt)
