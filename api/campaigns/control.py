"""A campaign's state machine, each transition one conditional UPDATE.

    draft ──start──▶ running ──(all recipients done)──▶ completed
      │   └─start(at)─▶ scheduled ──(due: maintenance)──▶ running
      │                    running ◀──resume── paused ◀──pause── running
      └── cancel (from draft, scheduled, running, paused) ──▶ cancelled

A transition is ``UPDATE campaigns SET status = new WHERE id = :id AND status
IN (allowed)``: two concurrent requests cannot both win, and a transition from
the wrong state is a 409 naming the current one. The runner claims recipients
only while its statement finds the campaign ``running`` (it holds the row
``FOR KEY SHARE`` while it claims, and a transition locks it ``FOR UPDATE``
first, so it waits for the claims in flight), so once ``pause`` or ``cancel``
commits no new recipient is claimed; ``cancel`` marks every unclaimed recipient ``skipped``
("campaign cancelled") in its transaction. Resume continues with the pending
recipients, in id order: nothing is sent twice, nothing skipped. A pause PyTake makes
itself (`paused_by_pytake`) keeps why on the campaign (``pause_reason``, set in its pause
statement); every user transition clears it (a user's pause has none: the user knows why).

Starting checks the template (approved, parameters complete: 422 naming the
field), the sending number, and the plan: ``monthly_campaign_limit`` (campaigns
started this month) and ``monthly_message_limit`` (the recipients must fit in
what is left of the month's messages), 403 ``plan_limit_exceeded`` naming it.
The audience is materialised when the campaign starts running (at once, or
when a scheduled one is due), in the database (`audience.materialise`); an
empty audience is a 422 naming ``target_filters`` (a scheduled one is paused
with that reason). A ``scheduled_at`` in the past is a 422, not a start now.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.campaigns.audience import check_filters, materialise
from api.campaigns.personalise import check_expressions
from api.db.models import Campaign, Organization, WhatsAppNumber, WhatsAppTemplate
from api.errors import ApiError, Conflict, NotFound, PlanLimitExceeded, ValidationFailed
from api.events import emit, event
from api.events.catalogue import CAMPAIGN_FIELDS, campaign_payload
from api.schemas.messages import TemplateSend
from api.schemas.whatsapp_numbers import MAX_RATE_PER_SECOND  # a number's tier is configurable up to this
from api.services.plan_limits import lock_organization, room_left
from api.templates.send_checks import template_content
from api.zones import zone_or_utc


ALLOWED_FROM = {
    "scheduled": ("draft",),
    "running": ("draft", "scheduled"),
    "pause": ("running",),
    "resume": ("paused",),
    "cancel": ("draft", "scheduled", "running", "paused"),
}

# what a refused transition says (a resume refused is not "cannot be started")
VERBS = {"scheduled": "scheduled", "running": "started", "pause": "paused", "resume": "resumed",
         "cancel": "cancelled"}


@dataclass(frozen=True)
class Plan:
    """What a runner needs: the number it sends from and the outbox content."""

    number_id: uuid.UUID
    phone_number_id: str
    access_token_encrypted: str | None
    number_settings: dict
    content: dict[str, Any]
    personal: bool = False  # its parameters hold per-recipient expressions (`personalise.render`)


def organization_zone(org: Organization) -> ZoneInfo:
    return zone_or_utc((org.settings or {}).get("timezone"), "organization settings.timezone")


def local_time(at: datetime, org: Organization) -> datetime:
    """``at`` as an instant: a time without offset is the organization's local time
    (``organizations.settings.timezone``, default UTC)."""
    if at.tzinfo is None:
        return at.replace(tzinfo=organization_zone(org))
    return at


def content_field(loc: Any) -> str:
    """A parameter's place in ``message_content`` as the API names fields (``body[0]``,
    ``buttons[1].text``), from pydantic's ``("body", 0)``."""
    field = "message_content"
    for part in loc:
        field += f"[{part}]" if isinstance(part, int) else f".{part}"
    return field


def campaign_field(field: str | None) -> str:
    """The campaign's field for a send check's ``template.*`` field: the template itself
    (``template.id``: not approved, another number's) is ``template_id``; a parameter is
    ``message_content.<parameter>``."""
    if not field:
        return "message_content"
    if field == "template.id":
        return "template_id"
    return field.replace("template.", "message_content.", 1)


async def sending_plan(session: AsyncSession, campaign: Campaign) -> Plan:
    """The campaign's number and message, checked (422 naming the field when unusable)."""
    if campaign.message_type not in (None, "template"):
        raise ValidationFailed("message_type", "a campaign reaches customers outside the 24-hour window: "
                                               "only template campaigns can be sent")
    if campaign.template_id is None:
        raise ValidationFailed("template_id", "a campaign sends an approved template: set template_id")
    template = await session.get(WhatsAppTemplate, campaign.template_id)
    if template is None or template.organization_id != campaign.organization_id:
        raise ValidationFailed("template_id", "template not found")
    number_id = campaign.whatsapp_number_id or template.whatsapp_number_id
    if number_id is None:
        raise ValidationFailed("whatsapp_number_id", "the campaign needs a WhatsApp number to send from")
    number = await session.get(WhatsAppNumber, number_id)
    if number is None or number.organization_id != campaign.organization_id or number.deleted_at is not None:
        raise ValidationFailed("whatsapp_number_id", "WhatsApp number not found")
    if number.is_active is False:
        raise ValidationFailed("whatsapp_number_id", "the WhatsApp number is deactivated: activate it "
                                                     f"(PATCH /whatsapp-numbers/{number.id} is_active: true) to send")
    personal = check_expressions(campaign.message_content)
    try:
        send = TemplateSend.model_validate({**(campaign.message_content or {}), "id": str(template.id)})
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ValidationFailed(content_field(error["loc"]), error["msg"]) from None
    try:
        content = template_content(template, send, number_id)
    except ValidationFailed as exc:
        raise ValidationFailed(campaign_field(exc.field), exc.message) from None
    return Plan(number.id, number.phone_number_id, number.access_token_encrypted, dict(number.settings or {}),
                content, personal)


async def _transition(session: AsyncSession, campaign_id: uuid.UUID, organization_id: uuid.UUID, action: str,
                      values: dict[str, Any]) -> Campaign:
    new = {"pause": "paused", "resume": "running", "cancel": "cancelled"}.get(action, action)
    # FOR UPDATE: waits for a claim in flight (`runner.CLAIM_LOCK`), which the UPDATE alone
    # (FOR NO KEY UPDATE, as the counters take) would not
    await session.execute(select(Campaign.id).where(Campaign.id == campaign_id,
                                                    Campaign.organization_id == organization_id).with_for_update())
    stmt = (update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.organization_id == organization_id,
                   Campaign.status.in_(ALLOWED_FROM[action]))
            # a user's transition: whatever PyTake paused it for no longer holds (or the user knows why)
            .values(status=new, updated_at=datetime.now(timezone.utc), pause_reason=None, **values)
            .returning(Campaign.id))
    if (await session.execute(stmt)).scalar() is None:
        current = (await session.execute(select(Campaign.status).where(
            Campaign.id == campaign_id, Campaign.organization_id == organization_id))).scalar()
        raise Conflict(f"a {current} campaign cannot be {VERBS[action]} (allowed from: "
                       f"{', '.join(ALLOWED_FROM[action])})", field="status")
    campaign = await session.get(Campaign, campaign_id, populate_existing=True)
    assert campaign is not None
    return campaign


def campaign_event(row: Any, type: str, reason: str | None = None) -> Any:
    """The ``campaign.*`` event of a transition, from the campaign as it left it (a `Campaign`
    or a row with its columns), keyed by the campaign."""
    values = {f: getattr(row, f) for f in CAMPAIGN_FIELDS} if isinstance(row, Campaign) else dict(row)
    organization_id = row.organization_id if isinstance(row, Campaign) else row["organization_id"]
    return event(organization_id, type, campaign_payload(values, reason), values["id"])


def reason_of(exc: ApiError) -> str:
    """Why a campaign could not go on, as its ``campaign.paused`` event says it."""
    return f"{exc.field}: {exc.message}" if exc.field else exc.message


async def paused_by_pytake(session: AsyncSession, campaign_id: uuid.UUID, from_status: str, reason: str) -> bool:
    """A campaign PyTake pauses itself (its number or template went away, the plan no longer
    allows it), from ``from_status``, with ``reason`` kept on it (``pause_reason``: the API and
    the web app show it until a resume or cancel) and carried by its ``campaign.paused`` event."""
    row = (await session.execute(text(
        f"UPDATE campaigns SET status = 'paused', pause_reason = :r, updated_at = now() WHERE id = :c AND status = :s "
        f"RETURNING organization_id, {', '.join(CAMPAIGN_FIELDS)}"), {"c": campaign_id, "s": from_status, "r": reason})
        ).mappings().first()
    if row is not None:
        await emit(session, campaign_event(row, "campaign.paused", reason))
    return row is not None


async def pause_sending_from(session: AsyncSession, number_id: uuid.UUID, organization_id: uuid.UUID,
                             reason: str = "the WhatsApp number was deactivated") -> list[uuid.UUID]:
    """Pause the running campaigns that send from a number that stops sending (deactivated or
    deleted); their ids. Each row is locked FOR UPDATE first, as a transition does, so a claim in
    flight (`runner.CLAIM_LOCK`) finishes before and none starts after."""
    sends_from = text(
        "SELECT c.id FROM campaigns c LEFT JOIN whatsapp_templates t ON t.id = c.template_id "
        "WHERE c.organization_id = :o AND c.status = 'running' "
        "AND COALESCE(c.whatsapp_number_id, t.whatsapp_number_id) = :n ORDER BY c.id FOR UPDATE OF c")
    ids = [r[0] for r in await session.execute(sends_from, {"o": organization_id, "n": number_id})]
    return [i for i in ids if await paused_by_pytake(session, i, "running", reason)]


async def _campaigns_this_month(session: AsyncSession, org: Organization, campaign_id: uuid.UUID,
                                at: datetime | None = None) -> None:
    """``monthly_campaign_limit``: a campaign counts in the (UTC) month it runs, when it started
    or, scheduled, when it is due; one scheduled for next month is checked against next month's,
    and counts there only (it counted in this month and, once started, in its own as well).
    ``campaign_id``, the one starting, is not among those counted: a scheduled campaign started
    early, or due in another month, adds one campaign to a month, not two."""
    limit = org.monthly_campaign_limit
    if limit is None:
        return
    used = (await session.execute(text(
        "WITH month AS (SELECT date_trunc('month', CAST(:at AS timestamptz) AT TIME ZONE 'UTC') AS start) "
        "SELECT count(*) FROM campaigns, month WHERE organization_id = :o AND status <> 'draft' AND id <> :c "
        # a draft or scheduled campaign cancelled before it ran sent nothing: it does not count
        "AND NOT (status = 'cancelled' AND started_at IS NULL) "
        "AND COALESCE(started_at, scheduled_at, created_at) >= month.start AT TIME ZONE 'UTC' "
        "AND COALESCE(started_at, scheduled_at, created_at) < (month.start + interval '1 month') AT TIME ZONE 'UTC'"),
        {"o": org.id, "c": campaign_id, "at": at or datetime.now(timezone.utc)})).scalar_one()
    if used >= limit:
        raise PlanLimitExceeded("monthly_campaign_limit", int(limit))


async def _messages_fit(session: AsyncSession, organization_id: uuid.UUID, campaign_id: uuid.UUID) -> None:
    """The campaign's unsent recipients fit in the month's messages left, beside the unsent
    recipients of the organization's other running and paused campaigns: those messages come
    out of the same month (counting only sent messages, two campaigns of 8 fitted a limit of 10
    one after the other, and 16 were sent). The organization row is locked (`room_left`), so
    two starts are counted one after the other."""
    left = await room_left(session, organization_id, "monthly_message_limit")
    if left is None:
        return
    pending, promised = (await session.execute(text(
        "SELECT count(*) FILTER (WHERE c.id = :c), count(*) FILTER (WHERE c.id <> :c) "
        "FROM campaigns c JOIN campaign_recipients r ON r.campaign_id = c.id "
        "WHERE c.organization_id = :o AND (c.id = :c OR c.status IN ('running', 'paused')) "
        "AND r.status = 'pending' AND r.message_id IS NULL AND r.skip_reason IS NULL"),
        {"c": campaign_id, "o": organization_id})).one()
    if pending > left - promised:
        org = await session.get(Organization, organization_id)
        raise PlanLimitExceeded("monthly_message_limit", int(org.monthly_message_limit or 0))


async def start(session: AsyncSession, campaign_id: uuid.UUID, organization_id: uuid.UUID,
                at: datetime | None = None) -> tuple[Campaign, bool]:
    """Start now (materialising the audience) or schedule for ``at``; ``(campaign, running)``.
    Raises before writing anything when the campaign cannot be sent."""
    # the campaign locked first, then the organization (plan limits), as every transition does
    # (resume: `_transition`, then `_messages_fit`); and before its template is read, so that a
    # template being deleted (which locks the campaigns naming it first) is waited for
    campaign = (await session.execute(
        select(Campaign).where(Campaign.id == campaign_id, Campaign.organization_id == organization_id)
        .with_for_update().execution_options(populate_existing=True))).scalar_one_or_none()
    if campaign is None:
        raise NotFound("campaign")
    org = (await session.execute(select(Organization).where(Organization.id == organization_id)
                                 .with_for_update())).scalar_one()
    check_filters(campaign.target_filters)
    await sending_plan(session, campaign)
    when = local_time(at, org) if at is not None else None
    if when is not None:
        try:  # a local time whose instant is past the year 9999 (Python's last) is no time at all
            when.astimezone(timezone.utc)
        except OverflowError:
            raise ValidationFailed("scheduled_at", f"{at.isoformat()} is out of range: its instant falls "
                                                   "outside the years 1 to 9999 (UTC)") from None
    if when is not None and when <= datetime.now(timezone.utc):
        raise ValidationFailed("scheduled_at", f"{when.isoformat()} ({organization_zone(org).key}) is in the past: "
                                               "schedule a time to come, or send {} to start now")
    await _campaigns_this_month(session, org, campaign_id, when)
    if when is not None:
        return await _transition(session, campaign_id, organization_id, "scheduled", {"scheduled_at": when}), False
    return await begin(session, campaign_id, organization_id, "running"), True


EMPTY_AUDIENCE = ("the audience is empty: no contact that can receive campaigns (not deleted, blocked or opted "
                  "out) matches target_type and target_filters")


async def begin(session: AsyncSession, campaign_id: uuid.UUID, organization_id: uuid.UUID,
                action: str = "running", month_checked: bool = True) -> Campaign:
    """draft/scheduled → running: the audience materialised (an empty one is a 422 naming
    ``target_filters``), the messages limit checked, and the month's campaigns unless the
    caller did (``month_checked``; a scheduled campaign started late by the chore may run in a
    later month than it was counted in)."""
    campaign = await _transition(session, campaign_id, organization_id, action,
                                 {"started_at": datetime.now(timezone.utc)})
    if not month_checked:
        await _campaigns_this_month(session, await lock_organization(session, organization_id), campaign_id)
    await _build_audience(session, campaign)
    await emit(session, campaign_event(campaign, "campaign.started"))
    return campaign


async def _build_audience(session: AsyncSession, campaign: Campaign) -> None:
    """The campaign's recipients materialised and counted, and the month's messages checked."""
    await materialise(session, campaign)
    # rows staged by a recipients import (their variables) count like the others
    total = (await session.execute(text(
        "UPDATE campaigns SET total_recipients = (SELECT count(*) FROM campaign_recipients WHERE campaign_id = :c) "
        "WHERE id = :c RETURNING total_recipients"), {"c": campaign.id})).scalar_one()
    if not total:  # it would run, complete at once having sent nothing, and count in the month's campaigns
        raise ValidationFailed("target_filters", EMPTY_AUDIENCE)
    await _messages_fit(session, campaign.organization_id, campaign.id)
    await session.refresh(campaign)


async def pause(session: AsyncSession, campaign_id: uuid.UUID, organization_id: uuid.UUID) -> Campaign:
    campaign = await _transition(session, campaign_id, organization_id, "pause", {})
    await emit(session, campaign_event(campaign, "campaign.paused"))
    return campaign


async def resume(session: AsyncSession, campaign_id: uuid.UUID, organization_id: uuid.UUID) -> Campaign:
    """paused → running; a campaign PyTake paused when it was due (its audience never built)
    gets its audience now, as a start would."""
    campaign = await _transition(session, campaign_id, organization_id, "resume", {})
    await sending_plan(session, campaign)
    if campaign.started_at is None:  # it runs now, maybe in a later month than it was due in
        await _campaigns_this_month(session, await lock_organization(session, organization_id), campaign_id)
        campaign.started_at = datetime.now(timezone.utc)
        await session.flush()
        await _build_audience(session, campaign)
    else:
        await _messages_fit(session, organization_id, campaign_id)
    await emit(session, campaign_event(campaign, "campaign.resumed"))
    return campaign


async def cancel(session: AsyncSession, campaign_id: uuid.UUID, organization_id: uuid.UUID) -> Campaign:
    campaign = await _transition(session, campaign_id, organization_id, "cancel",
                                 {"completed_at": datetime.now(timezone.utc)})
    await _drop_unsent(session, campaign)
    await session.refresh(campaign)
    await emit(session, campaign_event(campaign, "campaign.cancelled"))
    return campaign


async def _drop_unsent(session: AsyncSession, campaign: Campaign) -> None:
    """A cancelled campaign's recipients not sent yet: skipped ("campaign cancelled"), or, for one
    that never started, deleted (only rows staged by a recipients import)."""
    if campaign.started_at is None:
        await session.execute(text("DELETE FROM campaign_recipients WHERE campaign_id = :c AND message_id IS NULL"),
                              {"c": campaign.id})
    else:
        await session.execute(text(
            "UPDATE campaign_recipients SET status = 'skipped', skip_reason = 'campaign cancelled' "
            "WHERE campaign_id = :c AND status = 'pending' AND message_id IS NULL AND skip_reason IS NULL"),
            {"c": campaign.id})


async def due_campaigns(session: AsyncSession, limit: int = 50) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Scheduled campaigns whose time has come: ``(id, organization_id)``."""
    rows = await session.execute(text(
        "SELECT id, organization_id FROM campaigns WHERE status = 'scheduled' AND scheduled_at <= now() "
        "ORDER BY scheduled_at LIMIT :n"), {"n": limit})
    return [(r[0], r[1]) for r in rows]


__all__ = ["ALLOWED_FROM", "MAX_RATE_PER_SECOND", "Plan", "begin", "cancel", "due_campaigns", "local_time",
           "campaign_event", "organization_zone", "pause", "pause_sending_from", "paused_by_pytake", "reason_of", "resume",
           "sending_plan", "start"]
