"""Apply status webhooks (sent / delivered / read / failed) to outbound messages.

Meta does not promise order: ``read`` may arrive before ``delivered``. A
status never moves backwards. Rank: pending < sent < delivered < read.
``failed`` replaces pending or sent; it is terminal, except that a later
``delivered`` or ``read`` proves the message did arrive (multi-device
customers can produce both) and wins; for a row we failed ourselves as
``delivery_unknown`` (its sender died mid-request), ``sent`` wins too. Each status's timestamp column
(``sent_at``, ``delivered_at``, ``read_at``, ``failed_at``) is filled the first
time that status is seen, even when it no longer changes the status.

The row is found by WhatsApp message id, or by ``biz_opaque_callback_data``
(our message id, sent with every message): a status can arrive before the
sender has written the wamid back, or for a row whose sender died after the
request (see sender.py), and it then also records the wamid.
The campaign recipient linked to the message found gets the same rules.

Cost: a batch of statuses is ONE statement (`_APPLY`): the rows are found,
locked in id order, updated by the rules above written in SQL, the campaign
recipients updated, and a ``message.status`` domain event written for each
message whose status really changed (a redelivery writes none), all in that
statement. A status that changes nothing (Meta's ``sent`` after the sender
recorded the row sent, which every message gets; a redelivery) neither locks
nor writes its message or recipient row: no row version, no WAL. A batch
holding several statuses for one message (its ``sent``, ``delivered`` and
``read`` together) is applied in rounds, one statement per round, in payload
order, so each status sees the one before it.
`StatusBatcher` gathers the statuses of concurrent webhooks into such batches
(group commit): each webhook answers once its statuses are committed.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Iterable

from sqlalchemy import text

from api.db.session import bind
from api.events.catalogue import EVENT_TYPES
from api.whatsapp.payloads import StatusUpdate

# SQL CASE deciding the new status from the current one (`cur`) and the incoming (`st`).
_NEXT_STATUS = """
CASE
  WHEN {cur} = 'failed' THEN (CASE WHEN {st} IN ('delivered', 'read') OR ({unknown} AND {st} = 'sent')
                                   THEN {st} ELSE 'failed' END)
  WHEN {st} = 'failed' THEN (CASE WHEN {cur} IN ('pending', 'sent') OR {cur} IS NULL THEN 'failed' ELSE {cur} END)
  WHEN array_position(ARRAY['pending','sent','delivered','read'], {st})
       > COALESCE(array_position(ARRAY['pending','sent','delivered','read'], {cur}::text), 0) THEN {st}
  ELSE {cur}
END
"""

# the timestamp columns and Meta's error, shared by messages and campaign recipients: column -> new value
_FIRST_SEEN_COLUMNS = {
    "sent_at": "CASE WHEN {i}.st IN ('sent', 'delivered', 'read') THEN COALESCE({t}.sent_at, {i}.at) ELSE {t}.sent_at END",
    "delivered_at": "CASE WHEN {i}.st IN ('delivered', 'read') THEN COALESCE({t}.delivered_at, {i}.at) "
                    "ELSE {t}.delivered_at END",
    "read_at": "CASE WHEN {i}.st = 'read' THEN COALESCE({t}.read_at, {i}.at) ELSE {t}.read_at END",
    "failed_at": "CASE WHEN {i}.st = 'failed' THEN COALESCE({t}.failed_at, {i}.at) ELSE {t}.failed_at END",
    "error_message": "CASE WHEN {i}.st = 'failed' AND {t}.status IN ('pending', 'sent') THEN {i}.error "
                     "ELSE {t}.error_message END",
}


def _new_values(i: str, t: str, unknown: str, wamid: str) -> dict[str, str]:
    """What applying status ``{i}.st`` sets on row ``{t}``: column -> SQL expression (metadata apart)."""
    return {"status": _NEXT_STATUS.format(cur=f"{t}.status", st=f"{i}.st", unknown=unknown).strip(),
            "whatsapp_message_id": f"COALESCE({t}.whatsapp_message_id, {wamid})",
            **{column: value.format(i=i, t=t) for column, value in _FIRST_SEEN_COLUMNS.items()}}


def _assignments(values: dict[str, str]) -> str:
    return ",\n    ".join(f"{column} = {value}" for column, value in values.items())


def _changes(values: dict[str, str], t: str) -> str:
    """True when the new values differ from row ``{t}``'s: a status that changes nothing (Meta's
    ``sent`` after the sender recorded the row sent, a redelivery) locks and writes nothing.
    Monotonic: a status that changes nothing now changes nothing later either (a status never
    moves back; a timestamp or wamid, once set, stays), so deciding it on the statement's snapshot
    is safe against a concurrent writer."""
    return (f"ROW({', '.join(values.values())})\n    IS DISTINCT FROM "
            f"ROW({', '.join(f'{t}.{column}' for column in values)})")


_MESSAGE_VALUES = _new_values("f", "m", "m.metadata ? 'delivery_unknown'", "f.wamid")
_FOUND_VALUES = _new_values("i", "m", "m.metadata ? 'delivery_unknown'", "i.wamid")
# what the lookup reads of a message: its id, what the lookup checks, and what `_FOUND_VALUES` reads
_ROW_COLUMNS = ", ".join(f"m.{c}" for c in (
    "id", "direction", "conversation_id", "status", "whatsapp_message_id", "sent_at", "delivered_at", "read_at",
    "failed_at", "error_message", "metadata"))
# the recipient follows its message's rules: a row we failed ourselves as ``delivery_unknown``
# (the message's metadata says so) takes Meta's ``sent``, as its message does
_RECIPIENT_VALUES = _new_values("i", "r", "i.unknown", "i.wamid")

# One round: at most one status per message. `org` NULL = the deployment's
# default app (any organization); else only that organization's rows.
_APPLY = f"""
WITH input AS (
  SELECT * FROM unnest(CAST(:st AS text[]), CAST(:wamid AS text[]), CAST(:at AS timestamptz[]),
                       CAST(:error AS text[]), CAST(:meta AS jsonb[]), CAST(:cb AS uuid[]), CAST(:org AS uuid[]))
         WITH ORDINALITY AS i(st, wamid, at, error, meta, cb, org, ord)
),
found AS (
  -- changes: the status changes the row as the statement's snapshot sees it (one carrying
  -- Meta's errors always: its metadata may change). One that changes nothing (Meta's ``sent``
  -- after the sender recorded the row sent, a redelivery) is not locked or written.
  SELECT i.*, m.id AS mid, (i.meta <> '{{}}'::jsonb OR {_changes(_FOUND_VALUES, "m")}) AS changes,
         COALESCE(m.metadata ? 'delivery_unknown', false) AS unknown
    FROM input i
    -- by wamid, else by our callback id while the row has no wamid yet: two index
    -- lookups, never one BitmapOr (it read every NULL entry of the wamid index, each
    -- outbound row's until its send, so a status cost more the more had been sent).
    -- OFFSET 0 keeps the other conditions out of the lookups' index conditions: "IS
    -- NULL" out of the primary key's, and "direction = 'outbound'" out of both (it
    -- matched idx_messages_status's predicate, dropped since (migration 0023), and a partition
    -- without statistics, as each month's is at first, was read through that whole index)
    CROSS JOIN LATERAL (
      SELECT f.* FROM (
        (SELECT x.*, 0 AS pref FROM (SELECT {_ROW_COLUMNS} FROM messages m
                                      WHERE m.whatsapp_message_id = i.wamid OFFSET 0) x
          WHERE x.direction = 'outbound'
            AND (i.org IS NULL OR EXISTS (SELECT 1 FROM conversations c
                                           WHERE c.id = x.conversation_id AND c.organization_id = i.org))
          LIMIT 1)
        UNION ALL
        (SELECT x.*, 1 FROM (SELECT {_ROW_COLUMNS} FROM messages m WHERE m.id = i.cb OFFSET 0) x
          WHERE x.whatsapp_message_id IS NULL AND x.direction = 'outbound'
            AND (i.org IS NULL OR EXISTS (SELECT 1 FROM conversations c
                                           WHERE c.id = x.conversation_id AND c.organization_id = i.org))
          LIMIT 1)) f
       ORDER BY f.pref LIMIT 1) m
),
locked AS (  -- the rows as they are now, locked in id order (concurrent batches do not deadlock);
             -- = ANY(ARRAY(...)): a probe of each partition's key, never a join that may read them all
  -- only those the status changes (`changes`)
  SELECT m.id, m.status FROM messages m WHERE m.id = ANY(ARRAY(SELECT mid FROM found WHERE changes))
   ORDER BY m.id FOR UPDATE
),
updated AS (
  UPDATE messages m SET
    {_assignments(_MESSAGE_VALUES)},
    metadata = m.metadata || f.meta
    FROM found f JOIN locked l ON l.id = f.mid
   WHERE m.id = f.mid
  RETURNING m.id, m.conversation_id, m.whatsapp_message_id, m.status, m.error_message, m.metadata,
            l.status AS old_status, f.at, f.ord,
            -- a row still pending had no message.sent (it failed before it was sent, or its sender
            -- has not recorded Meta's answer: it may have died after the request): its event carries
            -- the message
            CASE WHEN l.status = 'pending' THEN jsonb_build_object(
              'id', m.id, 'conversation_id', m.conversation_id, 'direction', m.direction,
              'sender_type', m.sender_type, 'type', m.type, 'content', m.content, 'status', m.status,
              'whatsapp_message_id', m.whatsapp_message_id, 'created_at', m.created_at) END AS unsent
),
recipients AS (  -- through the message found (a recipient has its message from the claim on,
                 -- before its send; no index on the recipient's wamid: recording it is a HOT
                 -- update, migration 0024); the campaign's counters move in the same statement
                 -- (trigger campaign_recipient_counters). = ANY(ARRAY(...)): probes of
                 -- idx_campaign_recipients_message, never a hash join that reads every
                 -- recipient per batch (tests/runtime/test_status_plans.py)
  UPDATE campaign_recipients r SET
    {_assignments(_RECIPIENT_VALUES)}
    FROM found i
   WHERE r.message_id = ANY(ARRAY(SELECT mid FROM found)) AND r.message_id = i.mid
     AND (i.org IS NULL OR r.campaign_id IN (SELECT id FROM campaigns WHERE organization_id = i.org))
     AND {_changes(_RECIPIENT_VALUES, "r")}
  RETURNING r.id
),
events_written AS (  -- message.status, only where the status really changed; the status of a
                     -- message never recorded as sent carries the whole message (docs/events.md)
  INSERT INTO events (organization_id, type, version, ordering_key, payload)
  SELECT c.organization_id, 'message.status', :version, u.conversation_id, jsonb_build_object(
           'message_id', u.id, 'conversation_id', u.conversation_id, 'whatsapp_message_id', u.whatsapp_message_id,
           'status', u.status, 'previous_status', u.old_status, 'timestamp', u.at,
           'error', CASE WHEN u.status = 'failed' THEN u.error_message END,
           'meta_errors', CASE WHEN u.status = 'failed' THEN u.metadata -> 'meta_errors' END)
         || CASE WHEN u.unsent IS NULL THEN '{{}}'::jsonb
                 ELSE jsonb_build_object('message', u.unsent || jsonb_build_object('contact_id', c.contact_id)) END
    FROM updated u JOIN conversations c ON c.id = u.conversation_id
   WHERE u.status IS DISTINCT FROM u.old_status
  RETURNING 1
)
SELECT ord FROM found  -- matched: changed by it or not
"""
_APPLY_TEXT = text(_APPLY)
_VERSION = EVENT_TYPES["message.status"]


def _callback_id(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


_Item = tuple[int, StatusUpdate, "uuid.UUID | None"]  # (index, status, organization or None)


def _rounds(items: Iterable[_Item]) -> list[list[_Item]]:
    """Split into rounds holding at most one status per message (by wamid and by
    callback id), keeping each message's statuses in their order."""
    rounds: list[list[_Item]] = []
    seen: dict[Any, int] = {}  # key -> the round after its last status
    for item in items:
        st = item[1]
        keys = [("w", st.wamid)] + ([("c", st.biz_opaque_callback_data)] if st.biz_opaque_callback_data else [])
        index = max((seen.get(k, 0) for k in keys), default=0)
        if index == len(rounds):
            rounds.append([])
        rounds[index].append(item)
        for k in keys:
            seen[k] = index + 1
    return rounds


def _params(items: list[_Item]) -> dict[str, Any]:
    params: dict[str, list[Any]] = {"st": [], "wamid": [], "at": [], "error": [], "meta": [], "cb": [], "org": []}
    for _, st, org in items:
        params["st"].append(st.status)
        params["wamid"].append(st.wamid)
        params["at"].append(st.timestamp)
        params["error"].append("; ".join(e.describe() for e in st.errors) or ("failed" if st.status == "failed" else None))
        params["meta"].append(json.dumps({"meta_errors": [e.to_json() for e in st.errors]}) if st.errors else "{}")
        params["cb"].append(_callback_id(st.biz_opaque_callback_data))
        params["org"].append(org)
    return {**params, "version": _VERSION}


async def apply_statuses(session: Any, statuses: list[StatusUpdate], organization_id: uuid.UUID | None = None) -> int:
    """Apply statuses in ``session``'s transaction; the number of messages matched.
    With ``organization_id``, only that organization's messages and campaign recipients are touched."""
    matched = 0
    for batch in _rounds((i, st, organization_id) for i, st in enumerate(statuses)):
        matched += len((await session.execute(_APPLY_TEXT, _params(batch))).all())
    return matched


async def apply_on_connection(conn: Any, items: list[tuple[StatusUpdate, uuid.UUID | None]]) -> set[int]:
    """Apply ``(status, organization or None)`` pairs on a raw asyncpg connection (in
    autocommit), in one transaction; the indexes in ``items`` of the statuses that matched a message."""
    rounds = _rounds((i, st, org) for i, (st, org) in enumerate(items))
    if len(rounds) == 1:  # the common case: one statement, atomic by itself; no BEGIN/COMMIT round trips
        return _matched(rounds[0], await conn.fetch(*bind(_APPLY, _params(rounds[0]))))
    matched: set[int] = set()
    async with conn.transaction():
        for batch in rounds:
            matched |= _matched(batch, await conn.fetch(*bind(_APPLY, _params(batch))))
    return matched


def _matched(batch: list[_Item], rows: list[Any]) -> set[int]:
    """The indexes (in the caller's items) of the statuses ``rows`` (`_APPLY`'s ``ord``) matched."""
    return {batch[row[0] - 1][0] for row in rows}


class StatusBatcher:
    """Group commit for status webhooks: `apply` waits until its statuses are
    committed, together with those of every webhook that arrived meanwhile.

    One batch is written at a time by default (``max_in_flight``): while it is,
    the next gather, so a status flood comes in half as many statements as with
    two slots, and two of a process's batches never wait on each other's row
    locks (the sent, delivered and read of a message arrive close together);
    bench/campaign.py, 20,000 recipients, six alternated runs: PostgreSQL's
    CPU per message about 7% lower than with two. Processes (``serve
    --processes``) still write side by side.

    Adaptive, with no timer: when a slot is free a webhook's statuses are
    written at once, alone (an idle API adds no wait); only while
    ``max_in_flight`` batches are being written do the next webhooks gather,
    and they are written together as soon as a slot frees. A batch holds at
    most ``max_batch`` statuses (whole webhooks; one larger webhook alone), so
    a burst becomes several bounded statements instead of one long one that
    would hold its rows' locks, and every webhook in it, for its whole run.
    Rows are locked in id order (`_APPLY`), so concurrent batches touching the
    same messages wait for each other's commit but never deadlock.
    ``batches`` and ``largest`` count what was written (for benchmarks).

    Live conversations first: `live` says a customer's message was just stored,
    and its reply is being made (the worker's flow, then the send) in the next
    few milliseconds. Statuses arriving within ``live_window`` of such a message
    wait and are written together after it, but none waits more than
    ``max_defer``, and none once ``defer_batch`` statuses are waiting (a batch
    that size is already cheap per status; a flood of statuses, a campaign's,
    keeps its pace instead of being held ``max_defer`` at a time). Status writes
    then stay out of the replies' way and come in fewer, larger statements (a
    status flood costs PostgreSQL less per status); a webhook carrying only
    statuses on an API with no message traffic is still written at once. Meta waits seconds for a webhook's answer, not milliseconds.
    (bench/e2e.py: reply p99 at 100 msg/s, statuses on and off; issue 19.)"""

    def __init__(self, db: Any, max_in_flight: int = 1, max_batch: int = 200,
                 live_window: float = 0.025, max_defer: float = 0.05, defer_batch: int = 32) -> None:
        self.db = db
        self.max_batch = max_batch
        self.live_window, self.max_defer, self.defer_batch = live_window, max_defer, min(defer_batch, max_batch)
        self.batches = self.largest = 0
        self._live_until = 0.0  # loop time until which statuses yield to a customer's message
        self._full = asyncio.Event()  # defer_batch statuses are waiting: deferring ends
        # (statuses, their webhook's future, loop time it arrived), oldest first
        self._waiting: list[tuple[list[tuple[StatusUpdate, Any]], asyncio.Future, float]] = []
        self._slots = asyncio.Semaphore(max_in_flight)
        self._pending = 0  # statuses waiting
        self._queued = 0  # flush tasks waiting for a slot, each to take up to max_batch of them
        self._tasks: set[asyncio.Task] = set()

    async def apply(self, statuses: list[StatusUpdate], organization_id: uuid.UUID | None = None) -> int:
        """Apply ``statuses`` (committed on return); the number that matched a message."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.append(([(st, organization_id) for st in statuses], future, loop.time()))
        self._pending += len(statuses)
        if self._pending >= self.defer_batch:
            self._full.set()
        self._schedule_if_needed()
        return await future

    def live(self) -> None:
        """A customer's message was stored: statuses arriving in the next ``live_window``
        seconds wait (at most ``max_defer``) while its reply is made."""
        self._live_until = asyncio.get_running_loop().time() + self.live_window

    async def _yield_to_live(self) -> None:
        """Wait while a reply is being made, until the oldest waiting status has waited
        ``max_defer`` or ``defer_batch`` statuses are waiting."""
        loop = asyncio.get_running_loop()
        while self._waiting and self._pending < self.defer_batch:
            wait = min(self._live_until, self._waiting[0][2] + self.max_defer) - loop.time()
            if wait <= 0:
                return
            self._full.clear()
            try:
                await asyncio.wait_for(self._full.wait(), wait)
            except asyncio.TimeoutError:
                pass

    def _schedule_if_needed(self) -> None:
        """One more flush task if the waiting statuses are more than the queued ones will take."""
        if self._pending > self._queued * self.max_batch:
            self._queued += 1
            task = asyncio.create_task(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take(self) -> list[tuple[list[tuple[StatusUpdate, Any]], asyncio.Future, float]]:
        """The oldest waiting webhooks, up to ``max_batch`` statuses (at least one webhook)."""
        count = size = 0
        for batch, _, _ in self._waiting:
            if count and size + len(batch) > self.max_batch:
                break
            count += 1
            size += len(batch)
        taken, self._waiting = self._waiting[:count], self._waiting[count:]
        self._pending -= size
        return taken

    async def _flush(self) -> None:
        await self._yield_to_live()
        async with self._slots:
            self._queued -= 1
            waiting = self._take()
            self._schedule_if_needed()  # what did not fit waits for the next slot
            if not waiting:
                return
            items = [item for batch, _, _ in waiting for item in batch]
            self.batches += 1
            self.largest = max(self.largest, len(items))
            try:
                matched = await self._write(items)
            except BaseException as exc:  # every webhook of the batch answers with the failure
                for _, future, _ in waiting:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                return
            start = 0
            for batch, future, _ in waiting:
                if not future.done():
                    future.set_result(sum(1 for i in range(start, start + len(batch)) if i in matched))
                start += len(batch)

    async def _write(self, items: list[tuple[StatusUpdate, Any]]) -> set[int]:
        """One transaction; written again if PostgreSQL chose it as a deadlock victim (two
        batches updating the same campaign recipients in another order)."""
        from asyncpg.exceptions import DeadlockDetectedError

        for attempt in range(3):
            try:
                async with self.db.raw() as conn:
                    return await apply_on_connection(conn, items)
            except DeadlockDetectedError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
