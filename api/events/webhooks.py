"""Outbound webhooks: events become deliveries, deliveries become signed HTTP POSTs.

Two steps, both safe on any number of workers (docs/events.md):

- `dispatch`: the ``webhooks`` consumer (`api.events.consumer.consume`) turns
  each batch of committed events into one ``pending`` `webhook_deliveries` row
  per active subscription (``events`` holds the type, or ``*``), in the
  consumer's transaction: one ``INSERT ... SELECT FROM unnest`` per batch.
  ``UNIQUE (webhook_id, event_id)`` makes a replayed batch harmless.
- `Deliverer`: claims due deliveries (``FOR UPDATE SKIP LOCKED``, then a lease
  on ``next_attempt_at``, so two workers never send the same one at once),
  POSTs them concurrently over one keep-alive client, and records every
  attempt in one statement per round. A delivery waits while an earlier event
  of the same (webhook, ordering key) is still pending or retrying: one
  conversation's events reach a receiver in order.

Retries: attempt n+1 comes ``retry_delay_seconds`` x (1, 4, 20, 60, 120, 360,
720, 1440)[n-1] after attempt n (30 s, 2 m, 10 m, 30 m, 1 h, 3 h, 6 h, 12 h by
default), +-10 % jitter, times ``Settings.webhooks_retry_scale``; after
``1 + max_retries`` attempts the delivery is ``dead`` (listed by the API, and
redeliverable). ``failure_threshold`` consecutive failed attempts disable the
webhook (reason on the row, an audit entry); its pending deliveries die when
their turn comes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import httpx

from api.events.consumer import DEFAULT_BATCH, consume

log = logging.getLogger("pytake.webhooks")

CONSUMER = "webhooks"
RETRY_FACTORS = (1, 4, 20, 60, 120, 360, 720, 1440)  # x retry_delay_seconds (default 30 s)
EXCERPT = 1024  # bytes of a receiver's answer kept per attempt
TEST_EVENT_ID = 0  # `webhook.test` is not a stored event
Observer = Callable[[list[dict[str, Any]]], None]  # told the attempts a round recorded (no I/O, no await)

_DISPATCH = """
INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, ordering_key, payload, state, next_attempt_at,
                                attempt_number)
SELECT w.id, e.id, e.type, e.key, e.body::jsonb, 'pending', now(), 0
  FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::uuid[], $5::text[]) AS e(id, org, type, key, body)
  JOIN webhooks w ON w.organization_id = e.org AND w.is_active IS TRUE
                 AND (e.type = ANY (w.events) OR '*' = ANY (w.events))
ON CONFLICT (webhook_id, event_id) DO NOTHING
"""

_CLAIM = """
WITH due AS (
  SELECT d.id FROM webhook_deliveries d
   WHERE d.state IN ('pending', 'retrying') AND d.next_attempt_at <= now()
     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                      WHERE p.webhook_id = d.webhook_id AND p.ordering_key = d.ordering_key
                        AND p.state IN ('pending', 'retrying') AND p.event_id < d.event_id)
   ORDER BY d.next_attempt_at, d.event_id
   LIMIT $1
   FOR UPDATE OF d SKIP LOCKED)
UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $2), updated_at = now()
  FROM due, webhooks w
 WHERE d.id = due.id AND w.id = d.webhook_id
RETURNING d.id, d.webhook_id, d.event_type, d.payload, d.attempt_number, w.organization_id, w.url, w.secret,
          w.is_active, w.disabled_reason, w.max_retries, w.retry_delay_seconds
"""

_RECORD = """
UPDATE webhook_deliveries d
   SET state = r.state, status_code = r.code, response_body = r.body, response_time_ms = r.ms,
       error_message = r.error, success = (r.state = 'delivered'),
       attempt_number = d.attempt_number + r.counted, attempts = d.attempts || r.attempt::jsonb,
       next_attempt_at = CASE WHEN r.delay IS NULL THEN NULL ELSE now() + make_interval(secs => r.delay) END,
       updated_at = now()
  FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::int[], $6::text[], $7::float8[], $8::int[],
              $9::text[]) AS r(id, state, code, body, ms, error, delay, counted, attempt)
 WHERE d.id = r.id
"""

_STATS = """
UPDATE webhooks w
   SET total_deliveries = COALESCE(w.total_deliveries, 0) + r.total,
       failed_deliveries = COALESCE(w.failed_deliveries, 0) + r.failed,
       last_delivery_at = now(), last_delivery_status = r.status,
       consecutive_failures = CASE WHEN r.reset THEN r.tail ELSE w.consecutive_failures + r.tail END,
       is_active = CASE WHEN w.is_active IS TRUE AND (CASE WHEN r.reset THEN r.tail
                        ELSE w.consecutive_failures + r.tail END) >= w.failure_threshold THEN false ELSE w.is_active END,
       disabled_at = CASE WHEN w.is_active IS TRUE AND (CASE WHEN r.reset THEN r.tail
                        ELSE w.consecutive_failures + r.tail END) >= w.failure_threshold THEN now() ELSE w.disabled_at END
  FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::bool[], $6::int[])
       AS r(id, total, failed, status, reset, tail)
 WHERE w.id = r.id
RETURNING w.id, w.organization_id, w.consecutive_failures, (w.is_active IS FALSE AND w.disabled_at = now()) AS disabled
"""

_AUDIT = """
INSERT INTO audit_logs (organization_id, action, resource_type, resource_id, description, changes)
VALUES ($1, 'webhook.disabled', 'webhook', $2, $3, $4::jsonb)
"""


def retry_delay(attempts_made: int, base_seconds: float, scale: float = 1.0) -> float:
    """Seconds between attempt ``attempts_made`` and the next, with +-10 % jitter."""
    factor = RETRY_FACTORS[min(attempts_made, len(RETRY_FACTORS)) - 1]
    return base_seconds * factor * scale * random.uniform(0.9, 1.1)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-PyTake-Signature`` value: ``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def body_of(envelope: Any) -> bytes:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def test_envelope(organization_id: Any, webhook_id: Any) -> dict[str, Any]:
    return {"id": TEST_EVENT_ID, "type": "webhook.test", "version": 1, "organization_id": str(organization_id),
            "occurred_at": datetime.now(timezone.utc).isoformat(), "data": {"webhook": {"id": str(webhook_id)}}}


async def dispatch(db: Any, limit: int = DEFAULT_BATCH) -> int | None:
    """One batch of the ``webhooks`` consumer: its events become pending deliveries
    (committed with the cursor). The number of events read, ``None`` while another
    worker dispatches."""
    async with consume(db, CONSUMER, limit) as batch:
        if batch is None:
            return None
        if batch.events:
            ev = batch.events
            await batch.conn.execute(
                _DISPATCH, [e.id for e in ev], [e.organization_id for e in ev], [e.type for e in ev],
                [e.ordering_key for e in ev], [json.dumps(e.envelope(), ensure_ascii=False) for e in ev])
        return len(batch.events)


@dataclass(slots=True)
class Attempt:
    """What one POST did (or why none was made)."""

    status_code: int | None = None
    response: str | None = None
    duration_ms: int | None = None
    error: str | None = None
    response_headers: dict[str, str] | None = None
    counted: bool = True  # False: not sent (the webhook is disabled)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Deliverer:
    """One per process: a keep-alive client, the SSRF guard, and the delivery rounds."""

    def __init__(self, db: Any, settings: Any, observe: Observer | None = None) -> None:
        from engine.adapters.http import GuardedHttpClient

        self.db = db
        self.settings = settings
        self.observe = observe  # told every recorded attempt (the log store's webhook_logs)
        self.concurrency = max(1, int(settings.webhooks_concurrency))
        self.timeout = float(settings.webhooks_timeout_seconds)
        self.lease = self.timeout * 2 + 30.0  # one attempt, with room for a slow round's bookkeeping
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        self.client = httpx.AsyncClient(limits=limits, follow_redirects=False, trust_env=False,
                                        headers={"User-Agent": "PyTake-Webhooks/1"})
        self.guard = GuardedHttpClient(allow_private_networks=settings.webhooks_allow_private_networks)
        self.wake = asyncio.Event()
        self._secrets: dict[str, str] = {}  # encrypted -> plaintext (a webhook's rows share one)

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.guard.aclose()

    # -- one POST -----------------------------------------------------------------
    def _secret(self, encrypted: str | None) -> str | None:
        from api.crypto import decrypt_secret

        if not encrypted:
            return None
        if encrypted not in self._secrets:
            if len(self._secrets) > 4096:
                self._secrets.clear()
            self._secrets[encrypted] = decrypt_secret(self.settings, encrypted)  # a ValueError: the attempt's error
        return self._secrets[encrypted]

    async def post(self, url: str, secret_encrypted: str | None, event_type: str, delivery_id: Any,
                   envelope: Any) -> Attempt:
        """POST one envelope, signed; never raises (the failure is the attempt's error)."""
        from engine.ports import HttpRequestError

        body = body_of(envelope)
        started = time.perf_counter()
        result = Attempt()
        try:
            headers = {"Content-Type": "application/json", "X-PyTake-Event": event_type,
                       "X-PyTake-Delivery": str(delivery_id)}
            secret = self._secret(secret_encrypted)
            if secret is not None:
                headers["X-PyTake-Signature"] = signature(secret, int(time.time()), body)
            target = httpx.URL(url)
            async with asyncio.timeout(self.timeout):  # name resolution included
                addresses = await self.guard.addresses(target)  # the api_call SSRF guard; pinned below
                headers["Host"] = target.netloc.decode("ascii")
                extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
                request = self.client.build_request("POST", target.copy_with(host=addresses[0]), content=body,
                                                    headers=headers, timeout=self.timeout, extensions=extensions)
                response = await self.client.send(request, stream=True)
                try:
                    result.status_code = response.status_code
                    result.response_headers = dict(response.headers)
                    result.response = await _excerpt(response)
                finally:
                    await response.aclose()
            if not result.ok:
                result.error = f"HTTP {result.status_code}"
        except (TimeoutError, httpx.TimeoutException):
            result.error = f"no answer within {self.timeout:g}s"
        except (HttpRequestError, httpx.HTTPError, ValueError) as exc:
            result.error = str(exc) or type(exc).__name__
        result.duration_ms = int((time.perf_counter() - started) * 1000)
        return result

    # -- rounds ---------------------------------------------------------------------
    async def deliver_due(self, limit: int | None = None) -> int:
        """Claim due deliveries, POST them concurrently, record every attempt. How many were claimed."""
        async with self.db.raw() as conn:
            # no more than can be in flight at once: a claimed row never waits for a slot
            # while its lease runs out (another worker would then send it too)
            rows = await conn.fetch(_CLAIM, min(limit or self.concurrency, self.concurrency), self.lease)
        if not rows:
            return 0

        async def one(row: Any) -> Attempt:
            if not row["is_active"]:
                return Attempt(error=f"webhook disabled: {row['disabled_reason'] or 'by a user'}", counted=False)
            return await self.post(row["url"], row["secret"], row["event_type"], row["id"], row["payload"])

        results = await asyncio.gather(*(one(r) for r in rows))
        await self.record(rows, results)
        return len(rows)

    async def record(self, rows: list[Any], results: list[Attempt], *, final: bool = False) -> None:
        """Write the attempts (one statement), the webhooks' counters (one more), and
        disable webhooks whose run of failures reached their threshold."""
        now = datetime.now(timezone.utc).isoformat()
        cols: list[list[Any]] = [[] for _ in range(9)]
        stats: dict[uuid.UUID, list[Any]] = {}  # webhook -> [total, failed, status, reset, tail]
        for row, res in zip(rows, results):
            made = row["attempt_number"] + (1 if res.counted else 0)
            if res.ok:
                state, delay = "delivered", None
            elif not res.counted or final or made > (row["max_retries"] or 0):
                state, delay = "dead", None
            else:
                state = "retrying"
                delay = retry_delay(made, row["retry_delay_seconds"] or 30, self.settings.webhooks_retry_scale)
            attempt = [{"n": made, "at": now, "status_code": res.status_code, "response": res.response,
                        "duration_ms": res.duration_ms, "error": res.error}] if res.counted else []
            for col, value in zip(cols, (row["id"], state, res.status_code, res.response, res.duration_ms,
                                         res.error, delay, 1 if res.counted else 0, json.dumps(attempt))):
                col.append(value)
            if res.counted:
                s = stats.setdefault(row["webhook_id"], [0, 0, None, False, 0])
                s[0] += 1
                s[2] = "success" if res.ok else "failed"
                if res.ok:
                    s[3], s[4] = True, 0
                else:
                    s[1] += 1
                    s[4] += 1
        async with self.db.raw() as conn:
            async with conn.transaction():  # webhooks rows before their deliveries, as a cascading delete
                changed = []
                if stats:
                    ids = sorted(stats)
                    changed = await conn.fetch(_STATS, ids, *([stats[i][k] for i in ids] for k in range(5)))
                await conn.execute(_RECORD, *cols)
                for hook in changed:
                    if hook["disabled"]:
                        await self._disabled(conn, hook)
        if self.observe is not None:
            self.observe(attempt_logs(rows, results, now))

    async def _disabled(self, conn: Any, hook: Any) -> None:
        reason = f"disabled after {hook['consecutive_failures']} consecutive failed deliveries"
        await conn.execute("UPDATE webhooks SET disabled_reason = $2 WHERE id = $1", hook["id"], reason)
        await conn.execute("UPDATE webhook_deliveries SET state = 'dead', next_attempt_at = NULL, updated_at = now(), "
                           "error_message = $2 WHERE webhook_id = $1 AND state IN ('pending', 'retrying')",
                           hook["id"], "webhook " + reason)
        await conn.execute(_AUDIT, hook["organization_id"], hook["id"], reason,
                           json.dumps({"before": {"is_active": True},
                                       "after": {"is_active": False, "disabled_reason": reason}}))
        log.warning("webhook %s %s", hook["id"], reason)

    async def run_once(self) -> int:
        """Dispatch one batch of events, then deliver one round: the work done."""
        dispatched = await dispatch(self.db) or 0
        return dispatched + await self.deliver_due()

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Rounds until ``stop``: back to back while there is work, else every
        ``webhooks_poll_seconds`` or as soon as `wake` is set."""
        poll = float(self.settings.webhooks_poll_seconds)
        while not stop.is_set():
            try:
                busy = await self.run_once()
            except Exception:  # noqa: BLE001 - a database blip: the next round retries
                log.exception("webhook delivery round failed")
                busy = 0
            if busy:
                continue
            self.wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
            await asyncio.wait(waiters, timeout=poll, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()


async def _excerpt(response: httpx.Response) -> str:
    """The first `EXCERPT` bytes of the answer (the rest is not read)."""
    raw = b""
    async for chunk in response.aiter_bytes():
        raw += chunk
        if len(raw) >= EXCERPT:
            break
    return raw[:EXCERPT].decode(response.encoding or "utf-8", errors="replace")


async def send_test(db: Any, settings: Any, webhook: Any, observe: Observer | None = None) -> uuid.UUID:
    """POST a `webhook.test` event to ``webhook`` now: one attempt, recorded as a
    delivery (``delivered`` or ``dead``). Returns the delivery's id."""
    envelope = test_envelope(webhook.organization_id, webhook.id)
    async with db.raw() as conn:
        row = await conn.fetchrow(
            "INSERT INTO webhook_deliveries (webhook_id, event_type, payload, state, next_attempt_at, attempt_number) "
            "VALUES ($1, 'webhook.test', $2::jsonb, 'pending', now() + interval '1 hour', 0) "
            "RETURNING id, webhook_id, event_type, payload, attempt_number",
            webhook.id, json.dumps(envelope))
    deliverer = Deliverer(db, settings, observe)
    try:
        result = await deliverer.post(webhook.url, webhook.secret, "webhook.test", row["id"], envelope)
        claimed = {**dict(row), "max_retries": 0, "retry_delay_seconds": webhook.retry_delay_seconds,
                   "organization_id": webhook.organization_id, "url": webhook.url}
        await deliverer.record([claimed], [result], final=True)
    finally:
        await deliverer.aclose()
    return row["id"]


def attempt_logs(rows: list[Any], results: list[Attempt], at: str) -> list[dict[str, Any]]:
    """Each attempt made, as the log store's ``webhook_logs`` keeps it (docs/logs.md)."""
    when = datetime.fromisoformat(at)
    out = []
    for row, res in zip(rows, results):
        if not res.counted:
            continue
        out.append({"id": uuid.uuid4(), "organization_id": row["organization_id"], "webhook_id": row["webhook_id"],
                    "delivery_id": row["id"], "event_type": row["event_type"], "url": row["url"], "method": "POST",
                    "headers": {"Content-Type": "application/json", "X-PyTake-Event": row["event_type"],
                                "X-PyTake-Delivery": str(row["id"])},
                    "payload": row["payload"], "status_code": res.status_code,
                    "response_headers": res.response_headers, "response_body": res.response,
                    "response_time_ms": res.duration_ms, "success": res.ok, "error_message": res.error,
                    "attempt_number": row["attempt_number"] + 1, "created_at": when})
    return out


def start(db: Any, settings: Any, stop: asyncio.Event, observe: Observer | None = None) -> asyncio.Task:
    """The delivery loop of a worker process (api/workers/tasks.py); the task closes
    its client when ``stop`` is set. ``observe``: told every recorded attempt."""

    async def loop() -> None:
        deliverer = Deliverer(db, settings, observe)
        try:
            await deliverer.run_forever(stop)
        finally:
            await deliverer.aclose()

    return asyncio.create_task(loop(), name="webhook-delivery")
