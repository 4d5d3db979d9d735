"""The campaign runner: claims pending recipients into the outbox and sends them.

One runner per campaign at a time (a Redis lease, ``campaign:runner:{id}``),
a `RUN_CAMPAIGN` task on the LOW lane. Each round:

1. **Live traffic first**: while the number has conversation rows waiting in
   the outbox (pending, unclaimed, sendable now), the runner takes nothing and
   waits: a customer's reply never queues behind campaign traffic.
2. **Rate**: sends are taken from the number's bucket
   (`api.outbox.SendRateLimiter`, the same Redis bucket the conversation
   sender uses) at the number's tier: ``whatsapp_numbers.settings.
   rate_limit_per_second``, default 80, at most 1,000; a tenth of a
   second's worth per round (a round waits until that many have come due;
   two rounds' worth may gather), as a ``bulk`` `Limit`: only sends already
   earned, never ahead of the clock, so a conversation's reply on the same
   number takes its send at once and the campaign gets what replies leave.
3. **Claim** (`_CLAIM`, one statement, one transaction): while the campaign
   is ``running`` (its row held ``FOR KEY SHARE``), the next pending recipients
   in id order (``FOR UPDATE SKIP LOCKED``); an opted-out, blocked or deleted
   contact's recipient becomes ``skipped`` ("opted out"); for the others an
   outbox row (``messages``, pending, ``metadata.campaign_id``) on the
   contact's open conversation on the number (one is opened if none), already
   *claimed for sending* (``claim_token``), and the recipient linked to it.
   A recipient is claimed once: it is never sent twice, by this runner or
   another, and the conversation sender never picks a claimed row.
4. **Personalise**: a campaign whose parameters hold expressions
   (`api.campaigns.personalise`) fills them in per row from the contact's
   columns and the recipient's ``variables`` (read by the claim itself); a
   row whose parameters cannot be sent is failed with the reason, never sent
   to Meta; the others get their own content (one UPDATE a batch).
5. **Send** the claimed rows (callback data = the row id), then record them:
   accepted → ``sent`` with the wamid (`api.outbox.SentRecorder`, which
   updates the recipient with it); Meta's error → ``failed`` with it; an
   error that refuses the template itself (`TEMPLATE_REFUSED`: paused,
   disabled, not in this language) also pauses the campaign with the reason. A row
   failed here (or in step 4) gets a ``message.status`` ``failed`` event
   carrying the whole message, as the conversation sender writes it.
6. **Statistics**: once the claims have added as many rows as ``messages``
   (its partition) or ``conversations`` held at their last ANALYZE, those are
   analyzed in the background (`api.campaigns.statistics`), so the generic
   plans of the status and claim statements are made again for the tables'
   real size instead of reading them by sequential scan.

A worker killed between 3 and 5 leaves claimed rows: the maintenance sweep's
`reconcile_abandoned_claims` marks them ``failed`` (delivery unknown) after
the grace period, unless Meta's status webhook (found through the callback
data) shows they went. Rows never claimed are untouched: the next runner
(maintenance wakes running campaigns nobody runs) continues with them.
When no pending recipient is left the campaign is ``completed``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import text

from api.campaigns.control import (MAX_RATE_PER_SECOND, Plan, campaign_event, paused_by_pytake, reason_of,
                                   sending_plan)
from api.campaigns.personalise import RecipientError, render
from api.campaigns.statistics import GrowthAnalyzer
from api.crypto import decrypt_secret
from api.db.models import Campaign
from api.db.session import bind
from api.errors import ApiError
from api.events import emit_conn, event, failed_before_sent_payload, message_payload
from api.events.catalogue import CAMPAIGN_FIELDS
from api.outbox import Lease, Limit, SendRateLimiter, SentRecorder
from api.runtime_context import Runtime
from api.templates.lifecycle import sync_number
from api.whatsapp.graph_client import PermanentGraphError, TransientGraphError, UncertainDeliveryError

log = logging.getLogger("pytake.campaigns")

LEASE_MS = 15_000
MAX_BATCH = 100
TRANSIENT_ATTEMPTS = 4
# Meta's answers that refuse the campaign's template itself, whoever it goes to: not in this
# language (132001), paused for low quality (132015), disabled (132016). The first one pauses the
# campaign at once (the chore would in up to 2 s, every send of that time failing the same way).
TEMPLATE_REFUSED = frozenset({132001, 132015, 132016})
REFUSED_STATUS = {132015: "PAUSED", 132016: "DISABLED"}  # the template's status such a refusal tells
_TEMPLATE_REFUSED = """
UPDATE whatsapp_templates SET meta_status = :s, rejection_reason = :why, updated_at = now()
 WHERE id = :t AND organization_id = :o AND meta_status = 'APPROVED'
"""
LIVE_POLL = 0.02  # seconds between looks while live traffic is waiting

# Conversation rows of the number waiting in the outbox, unclaimed and due (migration 0025:
# a plain index scan, which reads each campaign message's dead outbox entry once)
_LIVE_WAITING = "SELECT outbox_live_waiting(:number)"

# What a claim holds the campaign's row by: enough for a transition (`api.campaigns.control`
# locks the row FOR UPDATE) to wait for the claims in flight, but not the counters' updates
# (FOR NO KEY UPDATE, by the status webhooks' and the sent records' statements), which
# FOR SHARE held back for every claim's whole statement (the row serialised the campaign)
CLAIM_LOCK = "FOR KEY SHARE"
_CLAIM = """
WITH camp AS (
  SELECT id, organization_id FROM campaigns WHERE id = :campaign AND status = 'running' """ + CLAIM_LOCK + """
), picked AS (
  SELECT r.id, r.contact_id, CASE WHEN CAST(:personal AS boolean) THEN r.variables END AS variables
    FROM campaign_recipients r
   WHERE r.campaign_id = (SELECT id FROM camp) AND r.status = 'pending' AND r.message_id IS NULL AND r.skip_reason IS NULL
   ORDER BY r.id LIMIT :n FOR UPDATE SKIP LOCKED
), targets AS MATERIALIZED (
  SELECT p.id AS rid, p.contact_id, ct.whatsapp_id, p.variables,
         -- what a personalised campaign's parameters read (`personalise.render`); NULL otherwise
         CASE WHEN CAST(:personal AS boolean) THEN ct.name END AS name,
         CASE WHEN CAST(:personal AS boolean) THEN ct.whatsapp_name END AS whatsapp_name,
         CASE WHEN CAST(:personal AS boolean) THEN ct.phone END AS phone,
         CASE WHEN CAST(:personal AS boolean) THEN ct.email END AS email,
         CASE WHEN CAST(:personal AS boolean) THEN ct.attributes END AS attributes,
         (ct.opt_in IS NOT FALSE AND ct.is_blocked IS NOT TRUE AND ct.deleted_at IS NULL) AS ok,
         (SELECT c.id FROM conversations c
           WHERE c.organization_id = :org AND c.contact_id = p.contact_id AND c.whatsapp_number_id = :number
             AND c.status NOT IN ('resolved', 'closed')
           ORDER BY c.created_at DESC LIMIT 1) AS existing,
         gen_random_uuid() AS new_conversation, gen_random_uuid() AS mid,
         row_number() OVER (ORDER BY p.id) AS n
    FROM picked p JOIN contacts ct ON ct.id = p.contact_id
), opened AS (
  INSERT INTO conversations (id, organization_id, contact_id, whatsapp_number_id, status, priority, is_bot_active,
                             message_count)
  SELECT new_conversation, :org, contact_id, :number, 'open', 'normal', true, 0
    FROM targets WHERE ok AND existing IS NULL
  RETURNING id
), outbox AS (
  INSERT INTO messages (id, conversation_id, direction, sender_type, type, content, status, metadata, created_at)
  SELECT t.mid, COALESCE(t.existing, t.new_conversation), 'outbound', 'bot', 'template', CAST(:content AS jsonb),
         'pending', jsonb_build_object('campaign_id', CAST(:campaign AS text), 'campaign_recipient_id', t.rid,
                                       'claim_token', CAST(:token AS text), 'claimed_at', CAST(:claimed_at AS text),
                                       'sending_attempt', 1),
         CAST(:now AS timestamptz) + t.n * interval '1 microsecond'
    FROM targets t
   WHERE t.ok AND (t.existing IS NOT NULL OR t.new_conversation IN (SELECT id FROM opened))
  RETURNING id, created_at, conversation_id
), marked AS (
  UPDATE campaign_recipients r SET
    status = CASE WHEN t.ok THEN r.status ELSE 'skipped' END,
    skip_reason = CASE WHEN t.ok THEN r.skip_reason ELSE 'opted out' END,
    message_id = o.id, message_created_at = o.created_at
    FROM targets t LEFT JOIN outbox o ON o.id = t.mid
   WHERE r.id = t.rid
  RETURNING r.id
)
SELECT o.id, o.created_at, o.conversation_id, t.contact_id, t.whatsapp_id, t.variables, t.name, t.whatsapp_name,
       t.phone, t.email, t.attributes, (SELECT count(*) FROM marked) AS marked
  FROM targets t JOIN outbox o ON o.id = t.mid
 ORDER BY t.rid
"""

_FAILED = """
WITH input AS (
  SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[]), CAST(:errors AS text[]),
                       CAST(:metas AS jsonb[])) AS i(id, created_at, error, meta)
), failed AS (
  UPDATE messages m SET status = 'failed', failed_at = COALESCE(m.failed_at, now()), error_message = i.error,
         metadata = m.metadata || i.meta
    FROM input i
   WHERE m.id = i.id AND m.created_at = i.created_at AND m.status = 'pending'
  RETURNING m.id, m.failed_at, i.error
), recipients AS (
  UPDATE campaign_recipients r SET status = 'failed', failed_at = COALESCE(r.failed_at, now()), error_message = f.error
    FROM failed f
   WHERE r.message_id = f.id AND r.status = 'pending'
)
SELECT id, failed_at FROM failed
"""

# a personalised campaign's rows get their own content before they are sent (one statement a batch)
_CONTENTS = """
UPDATE messages m SET content = i.content
  FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[]), CAST(:contents AS jsonb[])) AS i(id, created_at, content)
 WHERE m.id = i.id AND m.created_at = i.created_at
"""

_COMPLETE = f"""
UPDATE campaigns SET status = 'completed', completed_at = now(), updated_at = now()
 WHERE id = :campaign AND status = 'running'
   AND NOT EXISTS (SELECT 1 FROM campaign_recipients WHERE campaign_id = :campaign AND status = 'pending')
RETURNING organization_id, {', '.join(CAMPAIGN_FIELDS)}
"""


def campaign_lease(rt: Runtime, campaign_id: Any) -> Lease:
    return Lease(rt.redis, f"campaign:runner:{{{campaign_id}}}", LEASE_MS)  # the id is the hash tag


class CampaignRun:
    """One campaign's sending state in this process (`run_campaign` drives it)."""

    def __init__(self, rt: Runtime, campaign: Campaign, plan: Plan) -> None:
        self.rt, self.plan = rt, plan
        self.campaign_id, self.organization_id = campaign.id, campaign.organization_id
        self.template_id = campaign.template_id
        self.limiter = SendRateLimiter(rt.redis)
        self.recorder = SentRecorder(rt.db)
        self.statistics = GrowthAnalyzer(rt.db)  # the planner's counts of the tables the claims grow
        rate = float(plan.number_settings.get("rate_limit_per_second") or rt.whatsapp.rate_per_second)
        self.rate = min(rate, float(MAX_RATE_PER_SECOND))
        self.batch = max(1, min(MAX_BATCH, int(self.rate // 10)))
        # rounds of a tenth of a second's sends: a round waits until a whole batch has come due, as
        # each costs its statements whatever its size (a round taking whatever came due since the
        # last one, often a handful, spent more of the machine the more it had to spare). The bucket
        # gathers up to two batches, so a round that ran late loses no send: the next one catches
        # up. The average stays at the number's rate; bulk: live replies first.
        self.limit = Limit(rate=self.rate, burst=2 * self.batch, bulk=True)
        self.content = json.dumps(plan.content, ensure_ascii=False)
        self.token = self._token()
        self.access_token = self._access_token()
        self.sent = 0
        self.rounds = self.deferred = 0  # rounds that sent, and looks that found live traffic waiting

    @staticmethod
    def _token() -> str:
        return f"campaign:{uuid.uuid4().hex[:12]}"

    async def live_waiting(self) -> bool:
        """Conversation rows of this number are waiting in the outbox."""
        async with self.rt.db.raw() as conn:
            return bool(await conn.fetchval(*bind(_LIVE_WAITING, {"number": self.plan.number_id})))

    async def round(self, *, wait: bool = True) -> str:
        """One round: ``"deferred"`` (live traffic waiting: nothing taken), ``"sent"``
        (a batch claimed and sent), or ``"done"`` (nothing left to claim: the campaign
        is not running, or it has no pending recipient)."""
        if await self.live_waiting():
            self.deferred += 1
            return "deferred"
        if wait:
            granted = await self.limiter.acquire_many(self.plan.phone_number_id, None, self.limit, None, self.batch,
                                                      at_least=self.batch)
        else:
            granted, _ = await self.limiter.try_acquire_many(self.plan.phone_number_id, None, self.limit, None,
                                                             self.batch, at_least=self.batch)
            if not granted:
                return "deferred"
        now = datetime.now(timezone.utc)
        async with self.rt.db.raw() as conn:
            rows = await conn.fetch(*bind(_CLAIM, {
                "campaign": self.campaign_id, "org": self.organization_id, "number": self.plan.number_id,
                "n": granted, "content": self.content, "token": self.token, "claimed_at": now.isoformat(),
                "now": now, "personal": self.plan.personal}))
        if not rows:
            return "done" if not await self._claimable() else "sent"  # all skipped: look again
        self.statistics.grew(rows)
        self.rounds += 1
        await self._send(rows)
        return "sent"

    async def _claimable(self) -> bool:
        async with self.rt.db.raw() as conn:
            return bool(await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id "
                "WHERE r.campaign_id = $1 AND c.status = 'running' AND r.status = 'pending' "
                "AND r.message_id IS NULL AND r.skip_reason IS NULL)", self.campaign_id))

    async def _personalise(self, rows: list[Any]) -> tuple[list[tuple[Any, dict[str, Any]]], list[dict[str, Any]]]:
        """Each row with its own content, and the rows whose parameters cannot be sent (failed
        without reaching Meta: the reason is the recipient's error)."""
        if not self.plan.personal:
            return [(row, self.plan.content) for row in rows], []
        ready: list[tuple[Any, dict[str, Any]]] = []
        refused: list[dict[str, Any]] = []
        for row in rows:
            try:
                ready.append((row, render(self.plan.content, row)))
            except RecipientError as exc:
                refused.append({"id": row["id"], "created_at": row["created_at"], "row": row,
                                "content": self.plan.content, "error": f"not sent: {exc}",
                                "meta": {"invalid_parameters": True}})
        if ready:
            async with self.rt.db.raw() as conn:
                await conn.execute(*bind(_CONTENTS, {
                    "ids": [r["id"] for r, _ in ready], "ats": [r["created_at"] for r, _ in ready],
                    "contents": [json.dumps(c, ensure_ascii=False) for _, c in ready]}))
        return ready, refused

    async def _send(self, rows: list[Any]) -> None:
        ready, refused = await self._personalise(rows)
        results = [*refused, *await asyncio.gather(*(self._send_one(row, content) for row, content in ready))]
        accepted = [r for r in results if "wamid" in r]
        failed = [r for r in results if "error" in r]
        if accepted:
            await asyncio.gather(*(self.recorder.record(r) for r in accepted))
            self.sent += len(accepted)
        if failed:
            await self._fail(failed)
            refused = next((f for f in failed if (f["meta"].get("meta_error") or {}).get("code") in TEMPLATE_REFUSED),
                           None)
            if refused is not None:
                meta = refused["meta"]["meta_error"]
                await self._template_refused(meta)
                await self._pause(f"template_id: Meta refused the template: "
                                  f"{meta.get('details') or meta.get('message')} (error {meta['code']})")

    async def _template_refused(self, meta: dict[str, Any]) -> None:
        """Meta refused the template on a send: its row says what Meta said, so that a resume is
        refused (422 ``template_id``) until Meta takes the template again (its webhook, a sync)
        instead of failing another round of recipients. Paused (132015) and disabled (132016)
        are written at once; "does not exist in this language, or not approved" (132001) brings
        a sync of the number's templates: Meta's status, or the row deleted if Meta has none."""
        status = REFUSED_STATUS.get(meta.get("code"))
        try:
            if status is not None:
                async with self.rt.db.raw() as conn:
                    await conn.execute(*bind(_TEMPLATE_REFUSED, {
                        "t": self.template_id, "o": self.organization_id, "s": status,
                        "why": f"{meta.get('details') or meta.get('message')} (error {meta['code']}, on a send)"}))
                return
            async with self.rt.db.session() as session:
                number = (await session.execute(text(
                    "SELECT id, organization_id, whatsapp_business_account_id, access_token_encrypted "
                    "FROM whatsapp_numbers WHERE id = :n AND organization_id = :o"),
                    {"n": self.plan.number_id, "o": self.organization_id})).first()
            if number is not None and number.whatsapp_business_account_id:
                await sync_number(self.rt.db, self.rt.settings, number)
        except Exception:  # noqa: BLE001 - the campaign is paused all the same; a sync will tell later
            log.warning("campaign %s: the template Meta refused was not updated", self.campaign_id, exc_info=True)

    async def _pause(self, reason: str) -> None:
        """Pause the campaign (its ``campaign.paused`` carries ``reason``): the next round finds it
        not running and this runner stops; the recipients not claimed stay pending for a resume."""
        log.warning("campaign %s paused: %s", self.campaign_id, reason)
        async with self.rt.db.session() as session:
            await paused_by_pytake(session, self.campaign_id, "running", reason)
            await session.commit()

    async def _fail(self, failed: list[dict[str, Any]]) -> None:
        """Mark rows failed before they were sent, each with its ``message.status`` event carrying the
        whole message (it has no ``message.sent``), in one transaction."""
        failed.sort(key=lambda f: f["id"])
        async with self.rt.db.raw() as conn:
            async with conn.transaction():
                done = {r["id"]: r["failed_at"] for r in await conn.fetch(*bind(_FAILED, {
                    "ids": [f["id"] for f in failed], "ats": [f["created_at"] for f in failed],
                    "errors": [f["error"] for f in failed], "metas": [json.dumps(f["meta"]) for f in failed]}))}
                await emit_conn(conn, *(event(self.organization_id, "message.status", failed_before_sent_payload(
                    {"id": f["id"], "conversation_id": f["row"]["conversation_id"],
                     "contact_id": f["row"]["contact_id"], "sender_type": "bot", "type": "template",
                     "content": f["content"], "created_at": f["created_at"]},
                    error=f["error"], failed_at=done[f["id"]],
                    meta_errors=[f["meta"]["meta_error"]] if f["meta"].get("meta_error") else None),
                    f["row"]["conversation_id"]) for f in failed if f["id"] in done))

    async def _send_one(self, row: Any, content: dict[str, Any]) -> dict[str, Any]:
        """Send one claimed row: its ``sent`` record (`SentRecorder`), or its failure."""
        token = self.access_token
        fail = {"id": row["id"], "created_at": row["created_at"], "row": row, "content": content}
        if token is None:
            return {**fail, "error": "the number's access token cannot be decrypted", "meta": {}}
        for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
            try:
                result = await self.rt.graph.send_message(self.plan.phone_number_id, token, row["whatsapp_id"],
                                                          "template", content, callback_data=str(row["id"]))
                break
            except TransientGraphError as exc:
                if attempt == TRANSIENT_ATTEMPTS:
                    return {**fail, "error": f"gave up after {attempt} attempts: {exc.describe()}",
                            "meta": {"sending_attempt": attempt}}
                await asyncio.sleep(min(5.0, 0.2 * 2 ** attempt))
            except PermanentGraphError as exc:
                return {**fail, "error": exc.describe(), "meta": {"meta_error": {
                    "code": exc.code, "message": exc.message, "details": exc.details,
                    "fbtrace_id": exc.fbtrace_id}}}
            except UncertainDeliveryError as exc:  # never resent; a status webhook corrects it
                return {**fail, "error": f"delivery unknown: {exc}", "meta": {"delivery_unknown": True}}
        sent = event(self.organization_id, "message.sent", message_payload({
            "id": row["id"], "conversation_id": row["conversation_id"], "contact_id": row["contact_id"],
            "direction": "outbound", "sender_type": "bot", "type": "template", "content": content,
            "status": "sent", "whatsapp_message_id": result.wamid, "created_at": row["created_at"]}),
            row["conversation_id"])
        return {"sent_id": row["id"], "sent_created_at": row["created_at"], "wamid": result.wamid,
                "meta": json.dumps({"accepted_at": datetime.now(timezone.utc).isoformat(), "sent_by": self.token}),
                "event": sent}

    def _access_token(self) -> str | None:
        encrypted = self.plan.access_token_encrypted
        if not encrypted:
            return "sandbox"
        try:
            return decrypt_secret(self.rt.settings, encrypted)
        except ValueError:
            return None

    async def complete(self) -> bool:
        """``completed`` when no recipient is pending, with its ``campaign.completed`` event."""
        async with self.rt.db.raw() as conn:
            async with conn.transaction():
                row = await conn.fetchrow(*bind(_COMPLETE, {"campaign": self.campaign_id}))
                if row is not None:
                    await emit_conn(conn, campaign_event(row, "campaign.completed"))
        return row is not None


async def load_run(rt: Runtime, campaign_id: Any) -> CampaignRun | None:
    """The campaign's run, or None when it is not running (or cannot send any more)."""
    async with rt.db.session() as session:
        campaign = await session.get(Campaign, uuid.UUID(str(campaign_id)))
        if campaign is None or campaign.status != "running":
            return None
        try:
            plan = await sending_plan(session, campaign)
        except ApiError as exc:  # the template or number went away: paused, with the reason
            log.warning("campaign %s cannot send (%s): paused", campaign_id, exc)
            await paused_by_pytake(session, campaign.id, "running", reason_of(exc))
            await session.commit()
            return None
    return CampaignRun(rt, campaign, plan)


async def run_campaign(rt: Runtime, campaign_id: Any) -> int:
    """Send the campaign until it is done, paused or cancelled; the messages sent by this call.
    Returns at once when another runner holds the campaign."""
    lease = campaign_lease(rt, campaign_id)
    if not await lease.acquire():
        return 0
    try:
        run = await load_run(rt, campaign_id)
        if run is None:
            return 0
        loop = asyncio.get_running_loop()
        started, yielded = loop.time(), 0.0
        while not lease.lost:
            outcome = await run.round()
            if outcome == "deferred":
                waited = loop.time()
                await asyncio.sleep(LIVE_POLL)
                yielded += loop.time() - waited  # a busy loop oversleeps: the time it really yielded
            elif outcome == "done":
                await run.complete()
                break
        await run.statistics.wait()
        log.info("campaign %s: %d sent in %.1f s, %d rounds (%.1f per round); yielded to live traffic %d times "
                 "(%.1f s)", campaign_id, run.sent, loop.time() - started, run.rounds,
                 run.sent / max(1, run.rounds), run.deferred, yielded)
        return run.sent
    finally:
        await lease.release()


__all__ = ["CampaignRun", "LEASE_MS", "campaign_lease", "load_run", "run_campaign"]
