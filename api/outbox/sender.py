"""The outbox sender: delivers pending outbound rows through the Graph API.

Per conversation, one sender at a time (a Redis lease), rows in ``created_at``
order, so a customer sees the bot's messages in the order the flow sent them.
For each row:

1. **24-hour window**: outside the customer service window only templates
   may go; a free-form row is marked ``failed`` with the reason, never sent.
2. **Rate limits** (`rate_limit.SendRateLimiter`): the number's throughput
   (default 80/s, ``whatsapp_numbers.settings.rate_limit_per_second``) and
   Meta's per-recipient pair limit, shared by every worker through Redis.
   The sender waits; it does not fail.
3. **Claim**: ``metadata.claim_token``/``claimed_at``/``sending_attempt`` are
   committed BEFORE the request (status stays ``pending``). Only an unclaimed
   pending row can be claimed, so no two senders send one row. The claim
   statement also records the previous row's answer (step 5), when there
   was no wait in between: one round trip per row. A worker's step claims
   its first reply in its own statement (`Reservation`, `Sender.reserve`);
   otherwise, on the processor's hand-off, the first row is claimed by the
   read itself (`_NEXT_ROWS_CLAIMING_FIRST`).
4. **Send**, with ``biz_opaque_callback_data`` = the row id.
5. **Record**: accepted → ``sent`` with the wamid (never lowering a status a
   fast status webhook already raised); transient error → claim released,
   retried later with exponential backoff and jitter (the conversation's later
   rows wait, keeping order); permanent error → ``failed`` with Meta's code,
   message and details; an answer that never came (read timeout) → the claim
   is marked ``failed`` at once with ``metadata.delivery_unknown`` and the
   reason (e.g. "Graph API request timed out after 15 s"), never resent.

A claimed row is never sent again. If the worker dies after claiming (before
or after the request), the maintenance sweep (`reconcile_abandoned_claims`)
marks it ``failed`` with ``metadata.delivery_unknown`` once the claim is
older than the grace period; should Meta have sent it after all, its status
webhook (found through the callback data) turns it into sent/delivered/read.
See docs/runtime.md for the remaining window.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from api.db.session import bind
from api.events import emit_conn, event, failed_before_sent_payload, message_payload
from api.metrics import NO_COUNTERS, Counters
from api.runtime_context import Runtime, SendHint
from api.outbox.locks import lease_ms, sender_lease
from api.outbox.send_rate_limit import PAIR_LIMIT, Limit, SendRateLimiter
from api.outbox.sent_records import SentRecorder, accepted_ctes, accepted_values, any_campaign
from api.whatsapp.graph_client import (
    PermanentGraphError,
    SendResult,
    TransientGraphError,
    UncertainDeliveryError,
)

log = logging.getLogger("pytake.runtime.sender")

RETRY_KEY = "outbox:retry"
BATCH = 20  # rows of one conversation read at a time
MAX_ATTEMPTS = 6
BASE_BACKOFF = 1.0
MAX_BACKOFF = 300.0
CLAIM_GRACE = timedelta(minutes=2)
OUTSIDE_WINDOW = ("outside the 24-hour customer service window: only template messages may be sent "
                  "(this free-form message was not sent)")
_NOT_RESENT = "not resent to avoid a duplicate (a status webhook from Meta will correct this if it was delivered)"
DELIVERY_UNKNOWN = f"delivery unknown: the sender stopped during the request; {_NOT_RESENT}"


def uncertain_reason(exc: Exception) -> str:
    """The error of a row whose request got no answer (``exc`` says why: a timeout,
    a dropped connection...), failed at once as ``delivery_unknown``."""
    return f"delivery unknown: {exc}; {_NOT_RESENT}"


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: up to BASE * 2^(attempt-1), capped."""
    return random.uniform(0.5, 1.0) * min(MAX_BACKOFF, BASE_BACKOFF * 2 ** max(0, attempt - 1))


# An outbound row waiting to be sent: pending, and the two conditions pending implies that
# idx_messages_outbox's predicate names (migration 0023: no index names `status`, so its
# delivered and read are HOT updates), so that a read of the waiting rows reads that index
WAITING = ("m.direction = 'outbound' AND m.status = 'pending' "
           "AND m.whatsapp_message_id IS NULL AND m.failed_at IS NULL")

_NEXT_ROW_COLUMNS = f"""
SELECT m.id, m.created_at, m.type, m.content, m.metadata, m.conversation_id, m.sender_type,
       c.organization_id, c.contact_id, c.twenty_four_hour_window_expires_at AS window_expires,
       ct.whatsapp_id AS wa_id,
       n.phone_number_id, n.access_token_encrypted, n.settings AS number_settings,
       CASE WHEN n.deleted_at IS NOT NULL THEN 'deleted' WHEN n.is_active IS FALSE THEN 'deactivated'
       END AS number_gone
  FROM messages m
  JOIN conversations c ON c.id = m.conversation_id
  JOIN contacts ct ON ct.id = c.contact_id
  LEFT JOIN whatsapp_numbers n ON n.id = c.whatsapp_number_id
 WHERE m.conversation_id = :c AND {WAITING}
   AND NOT (m.metadata ? 'claim_token')
 ORDER BY m.created_at, m.id LIMIT :n"""
_NEXT_ROW = _NEXT_ROW_COLUMNS

# The pending rows as `_NEXT_ROW`, and the first one claimed in the same
# statement when it can go now (a number, inside the window or a template, no
# retry due later): one round trip less per message on the hot path, where the
# processor's hand-off already took the rate-limit sends. Its conditions are
# `_deliver_rows`' checks; a first row they stop is left unclaimed for them.
_NEXT_ROWS_CLAIMING_FIRST = f"""
WITH next AS ({_NEXT_ROW_COLUMNS}
), first AS (
  SELECT id, created_at FROM (SELECT * FROM next ORDER BY created_at, id LIMIT 1) f
   WHERE phone_number_id IS NOT NULL AND number_gone IS NULL
     AND (type = 'template' OR window_expires > now())
     AND NOT (metadata ? 'next_attempt_at' AND (metadata->>'next_attempt_at')::timestamptz > now())
), claimed AS (
  UPDATE messages m SET metadata = m.metadata || jsonb_build_object(
           'claim_token', CAST(:token AS text), 'claimed_at', CAST(:claimed_at AS text),
           'sending_attempt', COALESCE((m.metadata->>'sending_attempt')::int, 0) + 1)
    FROM first
   WHERE m.id = first.id AND m.created_at = first.created_at
     AND m.status = 'pending' AND NOT (m.metadata ? 'claim_token')
  RETURNING m.id, (m.metadata->>'sending_attempt')::int AS attempt
)
SELECT next.*, claimed.attempt AS claimed_attempt
  FROM next LEFT JOIN claimed ON claimed.id = next.id
 ORDER BY next.created_at, next.id
"""

_CLAIM_ONE = """
UPDATE messages SET metadata = metadata || CAST(:claim AS jsonb)
 WHERE id = :id AND created_at = :at AND status = 'pending' AND NOT (metadata ? 'claim_token')
RETURNING id
"""
_CLAIM = f"WITH claimed AS ({_CLAIM_ONE}) SELECT count(*) FROM claimed"

# the previous row's answer (`sent_records.accepted_ctes`) and the next row's
# claim, one statement (one round trip); keyed by whether that row is a campaign's
_ACCEPTED_AND_CLAIM = {campaign: f"WITH {accepted_ctes(campaign)}, claimed AS ({_CLAIM_ONE}) SELECT count(*) FROM claimed"
                       for campaign in (True, False)}

_FAILED = """
UPDATE messages SET status = 'failed', failed_at = now(), error_message = :error,
       metadata = (metadata - 'claim_token') || CAST(:meta AS jsonb)
 WHERE id = :id AND created_at = :at AND status = 'pending'
RETURNING failed_at
"""
# the conversation's row lock first, so its events' id order is their commit order (api.events.emit)
_LOCK_CONVERSATION = "SELECT 1 FROM conversations WHERE id = :conversation_id FOR NO KEY UPDATE"

_RECIPIENT_FAILED = """
UPDATE campaign_recipients SET status = 'failed', failed_at = now(), error_message = :error
 WHERE message_id = :id AND status = 'pending'
"""

_RETRY_LATER = """
UPDATE messages SET metadata = (metadata - 'claim_token') || CAST(:meta AS jsonb)
 WHERE id = :id AND created_at = :at AND metadata->>'claim_token' = :token
"""



async def pending_rows(conn: Any, conversation_id: uuid.UUID, limit: int, claim_token: str | None = None) -> list[Any]:
    """The sender's read on ``conn`` (asyncpg): the conversation's next sendable rows, oldest
    first, at most ``limit``; with ``claim_token`` the first is claimed too if it can go now
    (its ``claimed_attempt`` is set). It reads the outbox index, never every pending row."""
    if claim_token is None:
        return await conn.fetch(*bind(_NEXT_ROW, {"c": conversation_id, "n": limit}))
    return await conn.fetch(*bind(_NEXT_ROWS_CLAIMING_FIRST, {
        "c": conversation_id, "n": limit, "token": claim_token,
        "claimed_at": datetime.now(timezone.utc).isoformat()}))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class _Accepted:
    """A row Meta accepted whose ``sent`` is not written yet: it is written with the
    next row's claim (one statement), or alone before anything else happens."""

    __slots__ = ("row", "wamid", "claim_token")

    def __init__(self, row: Any, wamid: str, claim_token: str) -> None:
        self.row, self.wamid, self.claim_token = row, wamid, claim_token

    def params(self) -> dict[str, Any]:
        row = self.row
        sent = event(row["organization_id"], "message.sent", message_payload({
            "id": row["id"], "conversation_id": row["conversation_id"], "contact_id": row["contact_id"],
            "direction": "outbound", "sender_type": row["sender_type"], "type": row["type"],
            "content": row["content"], "status": "sent", "whatsapp_message_id": self.wamid,
            "created_at": row["created_at"]}), row["conversation_id"])
        return {"sent_id": row["id"], "sent_created_at": row["created_at"], "wamid": self.wamid,
                "meta": _dumps({"accepted_at": datetime.now(timezone.utc).isoformat(),
                                "sent_by": self.claim_token}), "event": sent,
                # a campaign's row has a recipient to update (`sent_records.any_campaign`)
                "campaign": "campaign_id" in (row["metadata"] or {})}


class Reservation:
    """What a worker's processor takes BEFORE writing a step (`Sender.reserve`): the
    conversation's sender lease and the rate-limit sends, so the step's own statement
    claims its first outbound row (`claim`: the metadata it merges into that row) and
    the sender sends it right after the commit, with no read-and-claim in between.
    ``rows``: the step's rows as the sender reads them, set once the step is written."""

    __slots__ = ("lease", "granted", "bucket", "token", "claim", "rows")

    def __init__(self, lease: Any, granted: int, bucket: tuple[str, str], token: str) -> None:
        self.lease, self.granted, self.bucket, self.token = lease, granted, bucket, token
        self.claim = {"claim_token": token, "claimed_at": datetime.now(timezone.utc).isoformat(),
                      "sending_attempt": 1} if granted else None
        self.rows: list[dict[str, Any]] | None = None

    async def release(self) -> None:
        """Let the lease go (the step was not written, or wrote nothing to send)."""
        await self.lease.release()


class Sender:
    """Delivers outbox rows. One per worker process; safe to use concurrently.

    Statements run on raw asyncpg connections (`Database.raw`), one round trip
    each, autocommit. Per row: one statement that records the previous row's
    answer and claims this one, then the request; rate limits are taken for
    the rows of a batch at once when the buckets allow it.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.limiter = SendRateLimiter(rt.redis)
        self.worker_id = uuid.uuid4().hex[:12]
        self.recorder = SentRecorder(rt.db)
        self._tokens: dict[str, str | None] = {}  # encrypted access token -> decrypted

    async def send_messages(self, message_ids: list[Any]) -> None:
        """Deliver the conversations these rows belong to (the ``kick_sender`` task)."""
        ids = [uuid.UUID(str(i)) for i in message_ids]
        if not ids:
            return
        async with self.rt.db.raw() as conn:
            conversations = [r[0] for r in await conn.fetch(
                "SELECT DISTINCT conversation_id FROM messages WHERE id = ANY($1::uuid[]) AND direction = 'outbound'",
                ids)]
        await self.deliver_conversations(conversations)

    async def deliver_conversations(self, conversation_ids: list[Any]) -> None:
        await asyncio.gather(*(self.deliver_conversation(c) for c in conversation_ids))

    async def reserve(self, conversation_id: Any, hint: SendHint) -> Reservation | None:
        """The sender lease and rate-limit sends for a step about to be written (one Redis
        round trip), or None when another sender holds the lease (the step's rows then
        wait for it, as any kicked row does)."""
        lease = sender_lease(self.rt.redis, conversation_id, lease_ms(self.rt.settings))
        number_limit, pair_limit = self._limits_for(hint.number_settings)
        granted = await self.limiter.lease_and_take(lease, hint.phone_number_id, hint.wa_id, number_limit,
                                                    pair_limit, hint.rows)
        if granted is None:
            return None
        return Reservation(lease, granted, (hint.phone_number_id, hint.wa_id), self._claim_token())

    async def deliver_conversation(self, conversation_id: Any, hint: SendHint | None = None,
                                   reserved: Reservation | None = None) -> int:
        """Send a conversation's sendable rows in order; the number sent by this call.
        ``reserved``: the lease and sends `reserve` took for the step that wrote
        ``reserved.rows`` (the first claimed by the step's statement when ``reserved.claim``)."""
        conversation_id = uuid.UUID(str(conversation_id))
        sent = 0
        while True:
            first: list[dict[str, Any]] | None = None
            if reserved is not None:
                lease, granted, bucket = reserved.lease, reserved.granted, reserved.bucket
                first, first_token, reserved = reserved.rows, reserved.token, None
            else:
                lease = sender_lease(self.rt.redis, conversation_id, lease_ms(self.rt.settings))
                granted, bucket = 0, None
                if hint is not None:
                    number_limit, pair_limit = self._limits_for(hint.number_settings)
                    got = await self.limiter.lease_and_take(lease, hint.phone_number_id, hint.wa_id, number_limit,
                                                            pair_limit, hint.rows)
                    if got is None:
                        return sent
                    granted, bucket, hint = got, (hint.phone_number_id, hint.wa_id), None
                elif not await lease.acquire():
                    return sent
            blocked = False
            try:
                while not lease.lost and not blocked:
                    claim_token = None
                    if first is not None:  # the step's rows, the first claimed by the step's statement
                        rows, claim_token, first = first, first_token, None
                    elif granted:  # sends already granted: the first row is claimed with the read
                        claim_token = self._claim_token()
                        rows = await self._pending(conversation_id, BATCH, claim_token)
                    else:
                        rows = await self._pending(conversation_id, BATCH)
                    done, blocked = await self._deliver_rows(conversation_id, rows, lease, granted, bucket,
                                                             claim_token)
                    granted = 0
                    sent += done
                    if len(rows) < BATCH:
                        break
            finally:
                await lease.release()
            # rows kicked while we held the lease: their wake-up bounced off it, look again
            if blocked or not lease.missed or not await self._pending(conversation_id, 1):
                return sent

    async def _pending(self, conversation_id: uuid.UUID, limit: int, claim_token: str | None = None) -> list[Any]:
        async with self.rt.db.raw() as conn:
            return await pending_rows(conn, conversation_id, limit, claim_token)

    async def mark_read(self, phone_number_id: str, access_token_encrypted: Any, wamid: str) -> bool:
        """Meta's read receipt for an inbound message (blue ticks); best effort:
        an error is logged, never retried (the customer only misses the ticks)."""
        token = self._token({"access_token_encrypted": access_token_encrypted})
        if token is None:
            log.warning("read receipt for %s not sent: the number's access token cannot be decrypted", wamid)
            return False
        try:
            await self.rt.graph.mark_as_read(phone_number_id, token, wamid)
        except (PermanentGraphError, TransientGraphError, UncertainDeliveryError) as exc:
            log.warning("read receipt for %s not sent: %s", wamid, exc)
            return False
        return True

    def _claim_token(self) -> str:
        return f"{self.worker_id}:{uuid.uuid4().hex[:12]}"

    async def _run(self, statement: str, params: dict[str, Any]) -> Any:
        """One statement, its own transaction, one round trip; its first value."""
        async with self.rt.db.raw() as conn:
            return await conn.fetchval(*bind(statement, params))

    def _limits(self, row: Any) -> tuple[Limit, Limit | None]:
        return self._limits_for(row["number_settings"])

    def _limits_for(self, settings: dict | None) -> tuple[Limit, Limit | None]:
        settings = settings or {}
        rate = settings.get("rate_limit_per_second") or self.rt.whatsapp.rate_per_second
        number = Limit(rate=float(rate), burst=int(settings.get("rate_limit_burst") or 1))
        pair_cfg = settings.get("pair_rate_limit", "default")
        if pair_cfg is None or pair_cfg is False:
            pair = None
        elif isinstance(pair_cfg, dict):
            pair = Limit(rate=1, per_seconds=float(pair_cfg.get("per_seconds", 6)),
                         burst=int(pair_cfg.get("burst", 45)))
        else:
            pair = PAIR_LIMIT
        return number, pair

    def _token(self, row: Any) -> str | None:
        encrypted = row["access_token_encrypted"]
        if not encrypted:
            return "sandbox"
        if encrypted not in self._tokens:
            from api.crypto import decrypt_secret

            try:
                self._tokens[encrypted] = decrypt_secret(self.rt.settings, encrypted)
            except ValueError:
                self._tokens[encrypted] = None
        return self._tokens[encrypted]

    async def _deliver_rows(self, conversation_id: uuid.UUID, rows: list[Any], lease: Any, granted: int = 0,
                            bucket: tuple[str, str] | None = None,
                            first_claim: str | None = None) -> tuple[int, bool]:
        """Send ``rows`` (oldest first) until one must wait: ``(sent, blocked)``.
        ``granted``: sends the rate limits already gave for ``bucket`` (number, recipient);
        ``first_claim``: the token the first row was claimed with when it was read
        (`_NEXT_ROWS_CLAIMING_FIRST`; its ``claimed_attempt`` says whether it was)."""
        sent = 0
        accepted: _Accepted | None = None
        try:
            for i, row in enumerate(rows):
                now = datetime.now(timezone.utc)
                due = (row["metadata"] or {}).get("next_attempt_at")
                if due and datetime.fromisoformat(due) > now:
                    await self._record(accepted)
                    accepted = None
                    await self.rt.redis.zadd(RETRY_KEY, {str(conversation_id): datetime.fromisoformat(due).timestamp()})
                    return sent, True
                token = None
                problem = None
                if row["phone_number_id"] is None:
                    problem = ("the conversation has no WhatsApp number", {})
                elif row["number_gone"] is not None:
                    problem = (f"not sent: the conversation's WhatsApp number is {row['number_gone']}", {})
                elif row["type"] != "template" and (row["window_expires"] is None or row["window_expires"] <= now):
                    problem = (OUTSIDE_WINDOW, {"outside_window": True})
                else:
                    token = self._token(row)
                    if token is None:
                        problem = ("the number's access token cannot be decrypted", {})
                if problem is not None:
                    await self._record(accepted)
                    accepted = None
                    await self._fail(row, *problem)
                    continue
                if granted and bucket != (row["phone_number_id"], row["wa_id"]):
                    granted = 0  # taken for another number or recipient: not ours to use
                if not granted:
                    number_limit, pair_limit = self._limits(row)
                    args = (row["phone_number_id"], row["wa_id"], number_limit, pair_limit)
                    granted, _ = await self.limiter.try_acquire_many(*args, n=len(rows) - i)
                    if not granted:  # we will wait: the previous answer is written first
                        await self._record(accepted)
                        accepted = None
                        granted = await self.limiter.acquire_many(*args, n=len(rows) - i)
                granted -= 1

                if i == 0 and first_claim is not None and row["claimed_attempt"] is not None:
                    attempt, claim_token = row["claimed_attempt"], first_claim  # claimed with the read
                else:
                    attempt = int((row["metadata"] or {}).get("sending_attempt") or 0) + 1
                    claim_token = self._claim_token()
                    params = {"id": row["id"], "at": row["created_at"], "claim": _dumps({
                        "claim_token": claim_token, "claimed_at": datetime.now(timezone.utc).isoformat(),
                        "sending_attempt": attempt})}
                    if accepted is not None:
                        record = accepted.params()
                        params.update(accepted_values([record]))
                        accepted = None
                        claimed = await self._run(_ACCEPTED_AND_CLAIM[any_campaign([record])], params)
                    else:
                        claimed = await self._run(_CLAIM, params)
                    if not claimed:
                        continue  # someone else claimed it
                try:
                    result: SendResult = await self.rt.graph.send_message(
                        row["phone_number_id"], token, row["wa_id"], row["type"], row["content"] or {},
                        callback_data=str(row["id"]))
                except TransientGraphError as exc:
                    self._count_error("transient", exc)
                    if await self._transient(conversation_id, row, claim_token, attempt, exc) == "retry":
                        return sent, True
                    continue
                except PermanentGraphError as exc:
                    self._count_error("permanent", exc)
                    await self._fail(row, exc.describe(), {"meta_error": {
                        "code": exc.code, "message": exc.message, "details": exc.details,
                        "fbtrace_id": exc.fbtrace_id}, "sending_attempt": attempt})
                    continue
                except UncertainDeliveryError as exc:  # never resent; a status webhook corrects it
                    self._count_error("uncertain", exc)
                    log.warning("message %s: outcome unknown (%s); not resent", row["id"], exc)
                    await self._fail(row, uncertain_reason(exc), {"delivery_unknown": True,
                                                                  "uncertain": str(exc)[:300],
                                                                  "sending_attempt": attempt})
                    continue
                accepted = _Accepted(row, result.wamid, claim_token)
                sent += 1
                self._counters().inc("pytake_messages_sent_total")
                if lease.lost:
                    break
        finally:
            if accepted is not None:
                await self._record(accepted)
        return sent, False

    def _counters(self) -> Any:
        """The process's metrics (api/metrics.py), kept on the runtime; a no-op without a Redis URL."""
        rt = self.rt
        if rt.counters is None:
            rt.counters = Counters(rt.settings.redis_url) if rt.settings.redis_url else NO_COUNTERS
        return rt.counters

    def _count_error(self, kind: str, exc: Any) -> None:
        code = getattr(exc, "code", None)
        self._counters().inc("pytake_send_errors_total", (("kind", kind), ("code", str(code) if code else "none")))

    async def _record(self, accepted: _Accepted | None) -> None:
        if accepted is not None:  # with other senders' records waiting now, one statement
            await self.recorder.record(accepted.params())

    async def _fail(self, row: Any, error: str, meta: dict[str, Any]) -> str:
        """Mark the row failed, with its ``message.status`` event (the shape status
        webhooks write, `api.inbound.statuses`: Meta's error under ``meta_errors``), which
        carries the whole message too: it never had a ``message.sent``."""
        params = {"id": row["id"], "at": row["created_at"], "error": error, "meta": _dumps(meta)}
        async with self.rt.db.raw() as conn:
            async with conn.transaction():
                await conn.execute(*bind(_LOCK_CONVERSATION, {"conversation_id": row["conversation_id"]}))
                failed_at = await conn.fetchval(*bind(_FAILED, params))
                await conn.execute(*bind(_RECIPIENT_FAILED, params))
                if failed_at is not None:
                    meta_error = meta.get("meta_error")
                    await emit_conn(conn, event(row["organization_id"], "message.status", failed_before_sent_payload(
                        row, error=error, failed_at=failed_at, meta_errors=[meta_error] if meta_error else None),
                        row["conversation_id"]))
        return "failed"

    async def _transient(self, conversation_id: uuid.UUID, row: Any, claim_token: str, attempt: int,
                         exc: TransientGraphError) -> str:
        error = exc.describe()
        if attempt >= MAX_ATTEMPTS:
            return await self._fail(row, f"gave up after {attempt} attempts: {error}", {"sending_attempt": attempt})
        due = datetime.now(timezone.utc) + timedelta(seconds=backoff(attempt))
        await self._run(_RETRY_LATER, {"id": row["id"], "at": row["created_at"], "token": claim_token,
                                       "meta": _dumps({"next_attempt_at": due.isoformat(), "last_error": error,
                                                       "sending_attempt": attempt})})
        await self.rt.redis.zadd(RETRY_KEY, {str(conversation_id): due.timestamp()})
        return "retry"


_RECONCILE = f"""
WITH failed AS (
  UPDATE messages m SET status = 'failed', failed_at = now(), error_message = :error,
         metadata = m.metadata || '{{"delivery_unknown": true}}'::jsonb
   WHERE {WAITING} AND m.metadata ? 'claim_token'
     AND (m.metadata->>'claimed_at')::timestamptz < :cutoff
  RETURNING m.id, m.conversation_id, m.sender_type, m.type, m.content, m.created_at, m.failed_at
), recipients AS (
  UPDATE campaign_recipients r SET status = 'failed', failed_at = now(), error_message = :error
    FROM failed f
   WHERE r.message_id = f.id AND r.status = 'pending'
)
SELECT f.*, c.organization_id, c.contact_id FROM failed f JOIN conversations c ON c.id = f.conversation_id
 ORDER BY f.id
"""


async def reconcile_abandoned_claims(rt: Runtime, grace: timedelta = CLAIM_GRACE) -> int:
    """Rows claimed longer than ``grace`` ago and still pending: their sender
    died. Never resent; marked failed with ``delivery_unknown``, each with its
    ``message.status`` event carrying the whole message (it has no ``message.sent``)."""
    cutoff = datetime.now(timezone.utc) - grace
    async with rt.db.raw() as conn:
        async with conn.transaction():
            rows = await conn.fetch(*bind(_RECONCILE, {"error": DELIVERY_UNKNOWN, "cutoff": cutoff}))
            await emit_conn(conn, *(event(r["organization_id"], "message.status", failed_before_sent_payload(
                r, error=DELIVERY_UNKNOWN, failed_at=r["failed_at"]), r["conversation_id"]) for r in rows))
    return len(rows)
