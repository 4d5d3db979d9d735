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
   pending row can be claimed, so no two senders send one row.
4. **Send**, with ``biz_opaque_callback_data`` = the row id.
5. **Record**: accepted → ``sent`` with the wamid (never lowering a status a
   fast status webhook already raised); transient error → claim released,
   retried later with exponential backoff and jitter (the conversation's later
   rows wait, keeping order); permanent error → ``failed`` with Meta's code,
   message and details; an answer that never came (read timeout) → the claim
   stays: the outcome is unknown.

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

from sqlalchemy import text

from api.runtime.context import Runtime
from api.runtime.locks import sender_lease
from api.runtime.rate_limit import PAIR_LIMIT, Limit, SendRateLimiter
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
DELIVERY_UNKNOWN = ("delivery unknown: the sender stopped during the request; not resent to avoid "
                    "a duplicate (a status webhook from Meta will correct this if it was delivered)")


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: up to BASE * 2^(attempt-1), capped."""
    return random.uniform(0.5, 1.0) * min(MAX_BACKOFF, BASE_BACKOFF * 2 ** max(0, attempt - 1))


_NEXT_ROW = text("""
SELECT m.id, m.created_at, m.type, m.content, m.metadata,
       c.twenty_four_hour_window_expires_at AS window_expires,
       ct.whatsapp_id AS wa_id,
       n.phone_number_id, n.access_token_encrypted, n.settings AS number_settings
  FROM messages m
  JOIN conversations c ON c.id = m.conversation_id
  JOIN contacts ct ON ct.id = c.contact_id
  LEFT JOIN whatsapp_numbers n ON n.id = c.whatsapp_number_id
 WHERE m.conversation_id = :c AND m.direction = 'outbound' AND m.status = 'pending'
   AND NOT (m.metadata ? 'claim_token')
 ORDER BY m.created_at, m.id LIMIT :n
""")

_CLAIM = text("""
UPDATE messages SET metadata = metadata || CAST(:claim AS jsonb)
 WHERE id = :id AND created_at = :at AND status = 'pending' AND NOT (metadata ? 'claim_token')
RETURNING id
""")

_ACCEPTED = text("""
WITH accepted AS (
UPDATE messages SET
  status = CASE WHEN status IN ('pending', 'failed') THEN 'sent' ELSE status END,
  whatsapp_message_id = COALESCE(whatsapp_message_id, :wamid),
  sent_at = COALESCE(sent_at, now()),
  error_message = CASE WHEN status = 'failed' THEN NULL ELSE error_message END,
  metadata = metadata || CAST(:meta AS jsonb)
 WHERE id = :id AND created_at = :at
RETURNING id)
UPDATE campaign_recipients SET
  whatsapp_message_id = COALESCE(whatsapp_message_id, :wamid),
  status = CASE WHEN status = 'pending' THEN 'sent' ELSE status END,
  sent_at = COALESCE(sent_at, now())
 WHERE message_id IN (SELECT id FROM accepted)
""")

_FAILED = text("""
UPDATE messages SET status = 'failed', failed_at = now(), error_message = :error,
       metadata = (metadata - 'claim_token') || CAST(:meta AS jsonb)
 WHERE id = :id AND created_at = :at AND status = 'pending'
""")

_RECIPIENT_FAILED = text("""
UPDATE campaign_recipients SET status = 'failed', failed_at = now(), error_message = :error
 WHERE message_id = :id AND status = 'pending'
""")

_RETRY_LATER = text("""
UPDATE messages SET metadata = (metadata - 'claim_token') || CAST(:meta AS jsonb)
 WHERE id = :id AND created_at = :at AND metadata->>'claim_token' = :token
""")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class Sender:
    """Delivers outbox rows. One per worker process; safe to use concurrently."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.limiter = SendRateLimiter(rt.redis)
        self.worker_id = uuid.uuid4().hex[:12]

    async def send_messages(self, message_ids: list[Any]) -> None:
        """Deliver the conversations these rows belong to (the ``kick_sender`` task)."""
        ids = [uuid.UUID(str(i)) for i in message_ids]
        if not ids:
            return
        async with self.rt.db.reading() as s:
            conversations = (await s.execute(text(
                "SELECT DISTINCT conversation_id FROM messages WHERE id = ANY(:ids) AND direction = 'outbound'"),
                {"ids": ids})).scalars().all()
        await self.deliver_conversations(conversations)

    async def deliver_conversations(self, conversation_ids: list[Any]) -> None:
        await asyncio.gather(*(self.deliver_conversation(c) for c in conversation_ids))

    async def deliver_conversation(self, conversation_id: Any) -> int:
        """Send a conversation's sendable rows in order; the number sent by this call."""
        conversation_id = uuid.UUID(str(conversation_id))
        sent = 0
        while True:
            lease = sender_lease(self.rt.redis, conversation_id)
            if not await lease.acquire():
                return sent
            blocked = False
            try:
                while not lease.lost and not blocked:
                    rows = await self._pending(conversation_id, BATCH)
                    for row in rows:
                        due = (row.metadata or {}).get("next_attempt_at")
                        if due and datetime.fromisoformat(due) > datetime.now(timezone.utc):
                            await self.rt.redis.zadd(RETRY_KEY, {str(conversation_id): datetime.fromisoformat(due).timestamp()})
                            blocked = True
                            break
                        outcome = await self._deliver(row)
                        if outcome == "sent":
                            sent += 1
                        elif outcome == "retry":
                            blocked = True
                            break
                        if lease.lost:
                            break
                    if len(rows) < BATCH:
                        break
            finally:
                await lease.release()
            # rows kicked while we held the lease: their wake-up bounced off it, look again
            if blocked or not lease.missed or not await self._pending(conversation_id, 1):
                return sent

    async def _pending(self, conversation_id: uuid.UUID, limit: int) -> list[Any]:
        async with self.rt.db.reading() as s:
            return list((await s.execute(_NEXT_ROW, {"c": conversation_id, "n": limit})).all())

    async def _autocommit(self, statement: Any, params: dict[str, Any]) -> Any:
        """One statement, its own transaction, one round trip (no BEGIN/COMMIT)."""
        async with self.rt.db.single_statement() as conn:
            result = await conn.execute(statement, params)
            return result.first() if result.returns_rows else None

    def _limits(self, row: Any) -> tuple[Limit, Limit | None]:
        settings = row.number_settings or {}
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
        if not row.access_token_encrypted:
            return "sandbox"
        from api.crypto import decrypt_secret

        try:
            return decrypt_secret(self.rt.settings, row.access_token_encrypted)
        except ValueError:
            return None

    async def _deliver(self, row: Any) -> str:
        """``sent`` | ``failed`` | ``retry`` | ``unknown`` | ``skipped``."""
        now = datetime.now(timezone.utc)
        if row.phone_number_id is None:
            return await self._fail(row, "the conversation has no WhatsApp number", {})
        if row.type != "template" and (row.window_expires is None or row.window_expires <= now):
            return await self._fail(row, OUTSIDE_WINDOW, {"outside_window": True})
        token = self._token(row)
        if token is None:
            return await self._fail(row, "the number's access token cannot be decrypted", {})
        number_limit, pair_limit = self._limits(row)
        await self.limiter.acquire(row.phone_number_id, row.wa_id, number_limit, pair_limit)

        attempt = int((row.metadata or {}).get("sending_attempt") or 0) + 1
        claim_token = f"{self.worker_id}:{uuid.uuid4().hex[:12]}"
        claimed = await self._autocommit(_CLAIM, {"id": row.id, "at": row.created_at, "claim": _dumps({
            "claim_token": claim_token, "claimed_at": datetime.now(timezone.utc).isoformat(),
            "sending_attempt": attempt})})
        if claimed is None:
            return "skipped"
        try:
            result: SendResult = await self.rt.graph.send_message(
                row.phone_number_id, token, row.wa_id, row.type, row.content or {}, callback_data=str(row.id))
        except TransientGraphError as exc:
            return await self._transient(row, claim_token, attempt, exc)
        except PermanentGraphError as exc:
            return await self._fail(row, exc.describe(), {"meta_error": {
                "code": exc.code, "message": exc.message, "details": exc.details,
                "fbtrace_id": exc.fbtrace_id}, "sending_attempt": attempt})
        except UncertainDeliveryError as exc:
            log.warning("message %s: outcome unknown (%s); left claimed", row.id, exc)
            async with self.rt.db.transaction() as s:
                await s.execute(text(
                    "UPDATE messages SET metadata = metadata || CAST(:m AS jsonb) WHERE id = :id AND created_at = :at"),
                    {"m": _dumps({"uncertain": str(exc)[:300]}), "id": row.id, "at": row.created_at})
            return "unknown"
        await self._autocommit(_ACCEPTED, {"id": row.id, "at": row.created_at, "wamid": result.wamid, "meta": _dumps({
            "accepted_at": datetime.now(timezone.utc).isoformat(), "sent_by": claim_token})})
        return "sent"

    async def _fail(self, row: Any, error: str, meta: dict[str, Any]) -> str:
        async with self.rt.db.transaction() as s:
            await s.execute(_FAILED, {"id": row.id, "at": row.created_at, "error": error, "meta": _dumps(meta)})
            await s.execute(_RECIPIENT_FAILED, {"id": row.id, "error": error})
        return "failed"

    async def _transient(self, row: Any, claim_token: str, attempt: int, exc: TransientGraphError) -> str:
        error = exc.describe()
        if attempt >= MAX_ATTEMPTS:
            return await self._fail(row, f"gave up after {attempt} attempts: {error}", {"sending_attempt": attempt})
        due = datetime.now(timezone.utc) + timedelta(seconds=backoff(attempt))
        async with self.rt.db.transaction() as s:
            await s.execute(_RETRY_LATER, {"id": row.id, "at": row.created_at, "token": claim_token, "meta": _dumps({
                "next_attempt_at": due.isoformat(), "last_error": error, "sending_attempt": attempt})})
        async with self.rt.db.session() as s:
            conversation_id = (await s.execute(text(
                "SELECT conversation_id FROM messages WHERE id = :id AND created_at = :at"),
                {"id": row.id, "at": row.created_at})).scalar()
        await self.rt.redis.zadd(RETRY_KEY, {str(conversation_id): due.timestamp()})
        return "retry"


async def reconcile_abandoned_claims(rt: Runtime, grace: timedelta = CLAIM_GRACE) -> int:
    """Rows claimed longer than ``grace`` ago and still pending: their sender
    died. Never resent; marked failed with ``delivery_unknown``."""
    cutoff = datetime.now(timezone.utc) - grace
    async with rt.db.transaction() as s:
        rows = (await s.execute(text("""
            UPDATE messages SET status = 'failed', failed_at = now(), error_message = :error,
                   metadata = metadata || '{"delivery_unknown": true}'::jsonb
             WHERE direction = 'outbound' AND status = 'pending' AND metadata ? 'claim_token'
               AND (metadata->>'claimed_at')::timestamptz < :cutoff
            RETURNING id"""), {"error": DELIVERY_UNKNOWN, "cutoff": cutoff})).scalars().all()
        if rows:
            await s.execute(text(
                "UPDATE campaign_recipients SET status = 'failed', failed_at = now(), error_message = :error "
                "WHERE message_id = ANY(:ids) AND status = 'pending'"), {"ids": list(rows), "error": DELIVERY_UNKNOWN})
    return len(rows)
