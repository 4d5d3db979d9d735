"""Outbound webhooks: events become deliveries, deliveries become signed HTTP POSTs.

Two steps, both safe on any number of workers (docs/events.md):

- `dispatch`: the ``webhooks`` consumer (`api.events.consumer.consume`) turns
  each batch of committed events into one ``pending`` `webhook_deliveries` row
  per active subscription (``events`` holds the type, or ``*``), in the
  consumer's transaction: one ``INSERT ... SELECT FROM unnest`` per batch.
  ``UNIQUE (webhook_id, event_id)`` makes a replayed batch harmless. When it
  wrote deliveries it publishes on the Redis channel `wake_channel` (one per
  database: pub/sub ignores Redis's numbered databases), so the deliverers of
  every worker claim them at once instead of at their next poll.
- `Deliverer`: claims due deliveries (``FOR UPDATE SKIP LOCKED``, then a lease
  on ``next_attempt_at``, so two workers never send the same one at once) and
  POSTs them over one keep-alive aiohttp pool. `run_forever` keeps up to
  ``webhooks_concurrency`` requests in flight: as answers come back it records
  them (one statement for every answer that came in meanwhile) and claims as
  many more, without waiting for the slowest request of a round. A delivery
  waits while an earlier event of the same (webhook, ordering key) is still
  pending or retrying: one conversation's events reach a receiver in order.

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
import ipaddress
import json
import logging
import random
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver
from yarl import URL

from api.events.consumer import DEFAULT_BATCH, consume
from api.events.emit import dumps as _dumps
from api.redis_clients import pubsub_of

log = logging.getLogger("pytake.webhooks")

CONSUMER = "webhooks"
WAKE_CHANNEL = "pytake:webhooks:wake:"  # + the database's name (Redis pub/sub): the dispatcher wrote deliveries
RETRY_FACTORS = (1, 4, 20, 60, 120, 360, 720, 1440)  # x retry_delay_seconds (default 30 s)
EXCERPT = 1024  # bytes of a receiver's answer kept per attempt (and characters of each header)
HEADERS_KEPT = 32  # of the answer's headers, logged per attempt
TEST_EVENT_ID = 0  # `webhook.test` is not a stored event
Observer = Callable[[list[dict[str, Any]]], None]  # told the attempts a round recorded (no I/O, no await)

# A batch's events (the range after the consumer's cursor up to its last event,
# all below the snapshot horizon, so exactly the batch) become deliveries in SQL:
# the envelope (`StoredEvent.envelope`) is built here from the stored payload,
# which never travels to the worker and back; with no subscription in the
# batch's organizations nothing is read but the events' keys.
_DISPATCH = """
INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, ordering_key, payload, state, next_attempt_at,
                                attempt_number)
SELECT w.id, e.id, e.type, e.ordering_key,
       jsonb_build_object('id', e.id, 'type', e.type, 'version', e.version, 'organization_id', e.organization_id,
                          'occurred_at', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
                          'data', e.payload),
       'pending', now(), 0
  FROM events e
  JOIN webhooks w ON w.organization_id = e.organization_id AND w.is_active IS TRUE
                 AND (e.type = ANY (w.events) OR '*' = ANY (w.events))
 WHERE (e.txid, e.id) > ($1::text::xid8, $2::bigint) AND (e.txid, e.id) <= ($3::text::xid8, $4::bigint)
   AND e.organization_id = ANY ($5::uuid[])
ON CONFLICT (webhook_id, event_id) DO NOTHING
"""

# The due deliveries in (next_attempt_at, event_id) order, read along
# idx_webhook_deliveries_due (same order: the scan stops after $1 claimable
# rows), skipping one whose (webhook, ordering key) has an earlier live delivery
# (idx_webhook_deliveries_order). The payload comes back as text: it is POSTed
# as stored, never decoded and encoded again.
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
RETURNING d.id, d.webhook_id, d.event_type, d.payload::text AS body, d.attempt_number, w.organization_id, w.url,
          w.secret, w.is_active, w.disabled_reason, w.max_retries, w.retry_delay_seconds
"""

# Every attempt of a batch and the webhooks' counters, in ONE statement (one
# round trip, its own transaction). The webhooks rows are locked first (the
# main query reads `stats`; `attempts` runs after it), then their deliveries,
# as a cascading delete does.
_RECORD = """
WITH stats AS (
  UPDATE webhooks w
     SET total_deliveries = COALESCE(w.total_deliveries, 0) + s.total,
         failed_deliveries = COALESCE(w.failed_deliveries, 0) + s.failed,
         last_delivery_at = now(), last_delivery_status = s.status,
         consecutive_failures = CASE WHEN s.reset THEN s.tail ELSE w.consecutive_failures + s.tail END,
         is_active = CASE WHEN w.is_active IS TRUE AND (CASE WHEN s.reset THEN s.tail
                          ELSE w.consecutive_failures + s.tail END) >= w.failure_threshold THEN false ELSE w.is_active END,
         disabled_at = CASE WHEN w.is_active IS TRUE AND (CASE WHEN s.reset THEN s.tail
                          ELSE w.consecutive_failures + s.tail END) >= w.failure_threshold THEN now() ELSE w.disabled_at END
    FROM (SELECT * FROM unnest($10::uuid[], $11::int[], $12::int[], $13::text[], $14::bool[], $15::int[])
                        AS s(id, total, failed, status, reset, tail) ORDER BY s.id) s
   WHERE w.id = s.id
  RETURNING w.id, w.organization_id, w.consecutive_failures, (w.is_active IS FALSE AND w.disabled_at = now()) AS disabled
), attempts AS (
  UPDATE webhook_deliveries d
     SET state = r.state, status_code = r.code, response_body = r.body, response_time_ms = r.ms,
         error_message = r.error, success = (r.state = 'delivered'),
         attempt_number = d.attempt_number + r.counted, attempts = d.attempts || r.attempt::jsonb,
         next_attempt_at = CASE WHEN r.delay IS NULL THEN NULL ELSE now() + make_interval(secs => r.delay) END,
         updated_at = now()
    FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::int[], $6::text[], $7::float8[], $8::int[],
                $9::text[]) AS r(id, state, code, body, ms, error, delay, counted, attempt)
   WHERE d.id = r.id
)
SELECT * FROM stats
"""

_AUDIT = """
INSERT INTO audit_logs (organization_id, action, resource_type, resource_id, description, changes)
VALUES ($1, 'webhook.disabled', 'webhook', $2, $3, $4::jsonb)
"""


def wake_channel(db: Any) -> str:
    """The Redis channel announcing new deliveries in ``db``'s database."""
    return WAKE_CHANNEL + (db.engine.url.database or "")


def retry_delay(attempts_made: int, base_seconds: float, scale: float = 1.0) -> float:
    """Seconds between attempt ``attempts_made`` and the next, with +-10 % jitter."""
    factor = RETRY_FACTORS[min(attempts_made, len(RETRY_FACTORS)) - 1]
    return base_seconds * factor * scale * random.uniform(0.9, 1.1)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-PyTake-Signature`` value: ``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def body_of(envelope: Any) -> bytes:
    """The bytes POSTed for an envelope (a dict, or the JSON text stored for it)."""
    if isinstance(envelope, str):
        return envelope.encode("utf-8")
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def test_envelope(organization_id: Any, webhook_id: Any) -> dict[str, Any]:
    return {"id": TEST_EVENT_ID, "type": "webhook.test", "version": 1, "organization_id": str(organization_id),
            "occurred_at": datetime.now(timezone.utc).isoformat(), "data": {"webhook": {"id": str(webhook_id)}}}


async def dispatch(db: Any, limit: int = DEFAULT_BATCH, redis: Any = None) -> int | None:
    """One batch of the ``webhooks`` consumer: its events become pending deliveries
    (committed with the cursor), announced on `wake_channel` when there are any.
    The number of events read, ``None`` while another worker dispatches."""
    written = 0
    async with consume(db, CONSUMER, limit, payloads=False) as batch:
        if batch is None:
            return None
        if batch.events:
            ev = batch.events
            status = await batch.conn.execute(
                _DISPATCH, str(batch.after[0]), batch.after[1], str(ev[-1].txid), ev[-1].id,
                list({e.organization_id for e in ev}))
            written = int(status.rsplit(" ", 1)[-1])
        read = len(batch.events)
    if written and redis is not None:
        try:
            await redis.publish(wake_channel(db), "1")
        except Exception:  # noqa: BLE001 - the deliverers' poll is the fallback
            log.warning("could not publish the webhooks wake-up", exc_info=True)
    return read


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


class _GuardedResolver(AbstractResolver):
    """aiohttp's name resolution through the SSRF guard: a connection is only ever
    opened to an address the guard accepted (the address is pinned, as the guard's
    own client does). aiohttp does not resolve IP literals: `Deliverer._target`
    checks those."""

    def __init__(self, guard: Any) -> None:
        self.guard = guard

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        found = await self.guard.addresses(httpx.URL(scheme="http", host=host, port=port or None, path="/"))
        return [{"hostname": host, "host": addr, "port": port, "proto": 0, "flags": socket.AI_NUMERICHOST,
                 "family": socket.AF_INET6 if ":" in addr else socket.AF_INET} for addr in found]

    async def close(self) -> None:
        return None


def unreachable_target(url: str, settings: Any) -> str | None:
    """Why no delivery to ``url`` could ever be made (its host is an address, or
    ``localhost``, that the guard refuses), else None: checked when a webhook is
    saved, so its owner hears it then rather than from a run of dead letters. A
    name is checked at each connection instead (what it resolves to changes)."""
    from engine.adapters.http import refusal_reason

    try:
        host = (URL(url).host or "").strip("[]").rstrip(".").lower()
    except ValueError:
        return None  # the schema said what is wrong with it
    written = _ipv4_written_otherwise(host)
    if written is not None:  # the connection refuses these whatever the address
        return (f"{host}: an IPv4 address written other than as four decimal numbers, which no delivery "
                f"connects to (write {written})")
    if settings.webhooks_allow_private_networks:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host}: a loopback name, which webhooks may not reach"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    reason = refusal_reason(address)
    return f"{address}: {reason}, which webhooks may not reach" if reason else None


def _ipv4_written_otherwise(host: str) -> ipaddress.IPv4Address | None:
    """The address of a host written as a number in another form than a.b.c.d (2130706433,
    127.1, 0x7f.0.0.1, 0177.0.0.1), else None (a plain address, or a name)."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if not host or not all(c in "0123456789abcdefx." for c in host) or not host[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


class Deliverer:
    """One per process: a keep-alive aiohttp pool behind the SSRF guard, and the
    delivery loop (`run_forever`; `deliver_due` is one claim-post-record round)."""

    def __init__(self, db: Any, settings: Any, redis: Any = None, observe: Observer | None = None) -> None:
        from engine.adapters.http import GuardedHttpClient

        self.db = db
        self.settings = settings
        self.redis = redis
        self.observe = observe  # told every recorded attempt (the log store's webhook_logs)
        self.concurrency = max(1, int(settings.webhooks_concurrency))
        self.timeout = float(settings.webhooks_timeout_seconds)
        self.lease = self.timeout * 2 + 30.0  # one attempt, with room for a slow round's bookkeeping
        self.guard = GuardedHttpClient(allow_private_networks=settings.webhooks_allow_private_networks,
                                       refused_for="webhooks")
        self._session: aiohttp.ClientSession | None = None
        self.wake = asyncio.Event()  # set: claim now (new deliveries, or answers recorded)
        self._secrets: dict[str, str] = {}  # encrypted -> plaintext (a webhook's rows share one)
        self._targets: dict[str, URL] = {}  # a webhook's URL, parsed and (an IP literal) checked
        self._answered: list[tuple[Any, Attempt]] = []  # POSTs done, not yet recorded
        self._has_answers = asyncio.Event()
        self._in_flight: set[asyncio.Task] = set()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # created inside the running loop
            connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=0, keepalive_timeout=30,
                                             resolver=_GuardedResolver(self.guard))
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": "PyTake-Webhooks/1"}, auto_decompress=False)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
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

    async def _target(self, url: str) -> URL:
        """``url`` parsed; an IP literal goes through the guard here (names do when
        the pool resolves them to connect). The guard checks the host as yarl parsed
        it, the one aiohttp connects to: httpx reads some URLs differently (yarl turns
        ``①②⑦.0.0.1`` into 127.0.0.1, httpx refuses it). Raises ``HttpRequestError``."""
        from engine.ports import HttpRequestError

        target = self._targets.get(url)
        if target is None:
            try:
                target = URL(url)
                host = target.host
                if target.scheme not in ("http", "https") or not host:
                    raise ValueError("only http and https URLs with a host")
            except ValueError as exc:
                raise HttpRequestError(f"bad URL {url!r}: {exc}") from None
            try:
                literal = ipaddress.ip_address(host.strip("[]"))
            except ValueError:
                pass  # a name: checked at connection time (`_GuardedResolver`)
            else:
                await self.guard.addresses(httpx.URL(scheme="http", host=str(literal), path="/"))
            if len(self._targets) > 4096:
                self._targets.clear()
            self._targets[url] = target
        return target

    async def post(self, url: str, secret_encrypted: str | None, event_type: str, delivery_id: Any,
                   envelope: Any) -> Attempt:
        """POST one envelope (a dict, or its stored JSON text), signed; never raises
        (the failure is the attempt's error)."""
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
            target = await self._target(url)
            # the session's total timeout covers the pool, name resolution, connect and the answer
            async with self._client().post(target, data=body, headers=headers, allow_redirects=False) as response:
                result.status_code = response.status
                result.response_headers = _headers_of(response)
                result.response = await _excerpt(response)
            if not result.ok:
                result.error = f"HTTP {result.status_code}"
        except TimeoutError:
            result.error = f"no answer within {self.timeout:g}s"
        except aiohttp.ClientConnectorError as exc:
            cause = exc.os_error if isinstance(exc.os_error, HttpRequestError) else None
            result.error = str(cause or exc) or type(exc).__name__
        except (HttpRequestError, aiohttp.ClientError, ValueError) as exc:
            result.error = str(exc) or type(exc).__name__
        result.duration_ms = int((time.perf_counter() - started) * 1000)
        return result

    async def _attempt(self, row: Any) -> Attempt:
        if not row["is_active"]:
            return Attempt(error=f"webhook disabled: {row['disabled_reason'] or 'by a user'}", counted=False)
        return await self.post(row["url"], row["secret"], row["event_type"], row["id"], row["body"])

    # -- claims and records -----------------------------------------------------------
    async def claim(self, limit: int) -> list[Any]:
        """Up to ``limit`` due deliveries, leased to this process."""
        async with self.db.raw() as conn:
            return await conn.fetch(_CLAIM, limit, self.lease)

    async def deliver_due(self, limit: int | None = None) -> int:
        """One round: claim due deliveries, POST them concurrently, record every
        attempt. How many were claimed."""
        # no more than can be in flight at once: a claimed row never waits for a slot
        # while its lease runs out (another worker would then send it too)
        rows = await self.claim(min(limit or self.concurrency, self.concurrency))
        if not rows:
            return 0
        results = await asyncio.gather(*(self._attempt(r) for r in rows))
        await self.record(rows, results)
        return len(rows)

    async def record(self, rows: list[Any], results: list[Attempt], *, final: bool = False) -> None:
        """Write the attempts and the webhooks' counters (one statement), and disable
        webhooks whose run of failures reached their threshold."""
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
                                         res.error, delay, 1 if res.counted else 0, _dumps(attempt))):
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
        ids = sorted(stats)
        args = (*cols, ids, *([stats[i][k] for i in ids] for k in range(5)))
        async with self.db.raw() as conn:
            if not any(s[4] for s in stats.values()):  # all answered 2xx: no webhook can be disabled
                await conn.execute(_RECORD, *args)
            else:
                async with conn.transaction():  # a webhook disabled with its reason, dead letters and audit entry
                    for hook in await conn.fetch(_RECORD, *args):
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

    # -- the loop -------------------------------------------------------------------
    # Three tasks, each on its own pooled connection, so no statement waits for
    # another: dispatching (events -> deliveries), claiming (free slots ->
    # POSTs in flight) and recording (answers -> one statement for all that came
    # in meanwhile). `wake` tells the claimer to look now: new deliveries (this
    # process's dispatch, `wake_channel`) or recorded answers (a later event of
    # the same conversation may be free, and slots are).

    def _launch(self, row: Any) -> None:
        task = asyncio.ensure_future(self._attempt(row))
        self._in_flight.add(task)

        def answered(t: asyncio.Task) -> None:
            self._in_flight.discard(t)
            if not t.cancelled():
                self._answered.append((row, t.result()))  # `_attempt` never raises
            self._has_answers.set()

        task.add_done_callback(answered)

    async def run_once(self) -> int:
        """Dispatch one batch of events, then deliver one round: the work done."""
        dispatched = await dispatch(self.db, redis=self.redis) or 0
        return dispatched + await self.deliver_due()

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop``: up to ``webhooks_concurrency`` POSTs in flight,
        answers recorded and free slots claimed again as they come back. Idle, it
        looks for events and due deliveries every ``webhooks_poll_seconds``, or
        at once when `wake` is set. On ``stop``, the POSTs under way finish
        (within the timeout) and are recorded."""
        self._has_answers = asyncio.Event()
        tasks = [asyncio.ensure_future(self._dispatching(stop)), asyncio.ensure_future(self._claiming(stop))]
        if self.redis is not None:
            tasks.append(asyncio.ensure_future(self._listen(stop)))
        recording = asyncio.ensure_future(self._recording(stop))
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._has_answers.set()
            await recording

    async def _dispatching(self, stop: asyncio.Event) -> None:
        poll = float(self.settings.webhooks_poll_seconds)
        while not stop.is_set():
            read = 0
            try:
                read = await dispatch(self.db, redis=self.redis) or 0
                if read:
                    self.wake.set()
            except Exception:  # noqa: BLE001 - a database blip: the next poll retries
                log.exception("webhook dispatch failed")
            if read < DEFAULT_BATCH:
                await _wait(stop, poll)

    async def _claiming(self, stop: asyncio.Event) -> None:
        poll = float(self.settings.webhooks_poll_seconds)
        while not stop.is_set():
            self.wake.clear()
            free = self.concurrency - len(self._in_flight)
            rows: list[Any] = []
            if free > 0:
                try:
                    rows = await self.claim(free)
                except Exception:  # noqa: BLE001 - a database blip: the next poll retries
                    log.exception("webhook claim failed")
                for row in rows:
                    self._launch(row)
            if not rows or len(rows) < free:  # nothing more due now: until something changes
                await _wait(stop, poll, self.wake)
            elif len(self._in_flight) >= self.concurrency:  # every slot busy: until answers are recorded
                await _wait(stop, poll, self.wake)

    async def _recording(self, stop: asyncio.Event) -> None:
        while True:
            await self._has_answers.wait()
            self._has_answers.clear()
            done, self._answered = self._answered, []
            if done:
                try:
                    await self.record([r for r, _ in done], [a for _, a in done])
                except Exception:  # noqa: BLE001 - their leases run out: sent again (at least once)
                    log.exception("could not record webhook attempts")
                self.wake.set()
            if stop.is_set() and not self._in_flight and not self._answered:
                return

    async def _listen(self, stop: asyncio.Event) -> None:
        """Set `wake` on every `wake_channel` message (reconnecting after an error) until
        ``stop``. `run_forever` also cancels it then, but a cancellation landing in redis-py's
        timed read can be lost (seen on a loaded machine with a worker stopped just after it
        started: the loop went on listening and the worker never finished stopping), so the
        loop looks at ``stop`` too, at least every 5 s."""
        while not stop.is_set():
            pubsub = None
            try:
                pubsub = await pubsub_of(self.redis, ignore_subscribe_messages=True)
                await pubsub.subscribe(wake_channel(self.db))
                while not stop.is_set():
                    message = await pubsub.get_message(timeout=5.0)
                    if message is not None:
                        self.wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis away: the poll carries on, try again shortly
                log.warning("webhooks wake-up channel lost", exc_info=True)
                await asyncio.sleep(1.0)
            finally:
                try:
                    if pubsub is not None:
                        await pubsub.aclose()
                except Exception:  # noqa: BLE001
                    pass


async def _wait(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> None:
    """Until ``stop`` (or ``wake``) is set, at most ``seconds``."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


def _headers_of(response: aiohttp.ClientResponse) -> dict[str, str]:
    """The answer's headers as text the log store can keep: the first `HEADERS_KEPT`, each
    value cut at `EXCERPT` characters (aiohttp takes about 128 of 8 KB each: a receiver made
    every attempt's log row a megabyte). aiohttp decodes a header's bytes as UTF-8 with
    surrogate escapes: one byte that is not UTF-8 (a Latin-1 "é") left a lone surrogate that
    PostgreSQL refuses, failing the log batch of every organization's attempts (retried, and
    failing, until the buffer dropped them)."""
    kept: dict[str, str] = {}
    for name, value in response.headers.items():
        if len(kept) >= HEADERS_KEPT:
            break
        kept[_valid_text(name)[:EXCERPT]] = _valid_text(value)[:EXCERPT]
    return kept


def _valid_text(value: str) -> str:
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


async def _excerpt(response: aiohttp.ClientResponse) -> str:
    """The first `EXCERPT` bytes of the answer (the rest is not read), decoded with the
    answer's charset when Python knows it as a text encoding, else as UTF-8: the
    receiver is the customer's server, and an unknown charset must not keep its
    attempt from being recorded. NUL characters (which PostgreSQL's text and jsonb
    refuse) are replaced: one binary answer would otherwise fail the statement that
    records the whole round, other organizations' deliveries included."""
    raw = b""
    while len(raw) < EXCERPT:
        chunk = await response.content.read(EXCERPT - len(raw))
        if not chunk:
            break
        raw += chunk
    try:  # "no-such-charset", or a codec that is not a text encoding ("base64", "zlib")
        text = raw[:EXCERPT].decode(response.charset or "utf-8", errors="replace")
    except LookupError:
        text = raw[:EXCERPT].decode("utf-8", errors="replace")
    return text.replace("\x00", "\ufffd")


async def send_test(db: Any, settings: Any, webhook: Any, observe: Observer | None = None) -> uuid.UUID:
    """POST a `webhook.test` event to ``webhook`` now: one attempt, recorded as a
    delivery (``delivered`` or ``dead``). Returns the delivery's id."""
    envelope = test_envelope(webhook.organization_id, webhook.id)
    async with db.raw() as conn:
        row = await conn.fetchrow(
            "INSERT INTO webhook_deliveries (webhook_id, event_type, payload, state, next_attempt_at, attempt_number) "
            "VALUES ($1, 'webhook.test', $2::jsonb, 'pending', now() + interval '1 hour', 0) "
            "RETURNING id, webhook_id, event_type, payload::text AS body, attempt_number",
            webhook.id, json.dumps(envelope))
    deliverer = Deliverer(db, settings, observe=observe)
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
                    "payload": json.loads(row["body"]), "status_code": res.status_code,
                    "response_headers": res.response_headers, "response_body": res.response,
                    "response_time_ms": res.duration_ms, "success": res.ok, "error_message": res.error,
                    "attempt_number": row["attempt_number"] + 1, "created_at": when})
    return out


def start(db: Any, settings: Any, stop: asyncio.Event, redis: Any = None,
          observe: Observer | None = None) -> asyncio.Task:
    """The delivery loop of a worker process (api/workers/tasks.py); the task closes
    its client when ``stop`` is set. With ``redis``, the dispatcher announces new
    deliveries on `wake_channel` and the loop listens there (the poll stays).
    ``observe``: told every recorded attempt (the log store's ``webhook_logs``)."""

    async def loop() -> None:
        deliverer = Deliverer(db, settings, redis, observe)
        try:
            await deliverer.run_forever(stop)
        finally:
            await deliverer.aclose()

    return asyncio.create_task(loop(), name="webhook-delivery")
