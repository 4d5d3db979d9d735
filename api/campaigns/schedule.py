"""The maintenance loop's campaign chore (every `EVERY` seconds, one worker).

- scheduled campaigns whose ``scheduled_at`` has come start running (their
  audience materialised; one the plan no longer allows is paused, with the
  reason logged);
- running campaigns nobody runs (no runner lease: never woken, or their
  worker died) get a `RUN_CAMPAIGN` task, so a crash only delays a campaign;
- running campaigns whose template can no longer be sent (Meta paused,
  disabled or rejected it, by webhook or sync; it was deactivated or deleted)
  are paused with the reason, instead of sending every remaining recipient
  into Meta's refusal (132015, 132016). The template webhooks' room
  (`api.templates`, called by `api.inbound`) may not import the campaigns, and
  this look catches every way a template stops being sendable.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, text

from api.campaigns.control import begin, due_campaigns, paused_by_pytake, reason_of, sending_plan
from api.campaigns.runner import campaign_lease
from api.db.models import Campaign
from api.errors import ApiError
from api.runtime_context import Runtime
from api.workers.queue import RUN_CAMPAIGN, enqueue

log = logging.getLogger("pytake.campaigns")

EVERY = 2.0


async def start_due(rt: Runtime) -> list[str]:
    """Start the scheduled campaigns that are due; their ids."""
    started: list[str] = []
    async with rt.db.session() as session:
        due = await due_campaigns(session)
    for campaign_id, organization_id in due:
        try:
            async with rt.db.transaction() as session:
                # its template or number may have stopped sending while it waited: paused with
                # the reason, never started (it would be counted, and announced, for nothing)
                campaign = await session.get(Campaign, campaign_id)
                if campaign is not None:
                    await sending_plan(session, campaign)
                await begin(session, campaign_id, organization_id, "running", month_checked=False)
        except ApiError as exc:
            log.warning("scheduled campaign %s not started: %s; paused", campaign_id, exc)
            async with rt.db.transaction() as session:
                await paused_by_pytake(session, campaign_id, "scheduled", reason_of(exc))
            continue
        started.append(str(campaign_id))
    return started


async def wake_running(rt: Runtime) -> list[str]:
    """Enqueue a runner for every running campaign without one; their ids."""
    async with rt.db.session() as session:
        ids = [str(i) for i in (await session.execute(text(
            "SELECT id FROM campaigns WHERE status = 'running' ORDER BY started_at LIMIT 500"))).scalars()]
    woken = []
    for campaign_id in ids:
        if not await rt.redis.exists(campaign_lease(rt, campaign_id).key):
            await enqueue(rt.redis, RUN_CAMPAIGN, campaign_id)
            woken.append(campaign_id)
    return woken


# running campaigns whose template cannot be sent as it stands (idx_campaigns_status: few rows)
_TEMPLATE_UNSENDABLE = """
SELECT c.id FROM campaigns c LEFT JOIN whatsapp_templates t ON t.id = c.template_id
 WHERE c.status = 'running'
   AND (t.id IS NULL OR t.meta_status IS DISTINCT FROM 'APPROVED' OR t.is_active IS FALSE)
 ORDER BY c.id LIMIT 500"""


async def pause_unsendable(rt: Runtime) -> list[str]:
    """Pause the running campaigns whose template can no longer be sent, each with the reason
    `sending_plan` gives (as a runner starting would); their ids."""
    async with rt.db.session() as session:
        ids = list((await session.execute(text(_TEMPLATE_UNSENDABLE))).scalars())
    paused: list[str] = []
    for campaign_id in ids:
        async with rt.db.transaction() as session:
            # FOR UPDATE, as a transition: a claim in flight finishes first, none starts after
            campaign = (await session.execute(select(Campaign).where(Campaign.id == campaign_id)
                                              .with_for_update())).scalar_one_or_none()
            if campaign is None or campaign.status != "running":
                continue
            try:
                await sending_plan(session, campaign)
                continue  # sendable again by now (approved again)
            except ApiError as exc:
                reason = reason_of(exc)
            if await paused_by_pytake(session, campaign_id, "running", reason):
                log.warning("campaign %s paused: %s", campaign_id, reason)
                paused.append(str(campaign_id))
    return paused


async def tick(rt: Runtime) -> None:
    await pause_unsendable(rt)
    await start_due(rt)
    await wake_running(rt)


__all__ = ["EVERY", "pause_unsendable", "start_due", "tick", "wake_running"]
