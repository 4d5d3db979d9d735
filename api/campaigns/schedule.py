"""The maintenance loop's campaign chore (every `EVERY` seconds, one worker).

- scheduled campaigns whose ``scheduled_at`` has come start running (their
  audience materialised; one the plan no longer allows is paused, with the
  reason logged);
- running campaigns nobody runs (no runner lease: never woken, or their
  worker died) get a `RUN_CAMPAIGN` task, so a crash only delays a campaign.
"""

from __future__ import annotations

import logging

from sqlalchemy import text

from api.campaigns.control import begin, due_campaigns, paused_by_pytake, reason_of
from api.campaigns.runner import campaign_lease
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
                await begin(session, campaign_id, organization_id, "running")
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


async def tick(rt: Runtime) -> None:
    await start_due(rt)
    await wake_running(rt)


__all__ = ["EVERY", "start_due", "tick", "wake_running"]
