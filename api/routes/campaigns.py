"""/campaigns: campaign definitions, and the actions that send them.

A campaign is edited while it is a draft (CRUD); ``POST /campaigns/{id}/start``
(now, or ``scheduled_at``), ``/pause``, ``/resume`` and ``/cancel`` move it
through its state machine (`api.campaigns.control`, enforced in SQL: a 409
from the wrong state); a running campaign is sent by a worker
(`api.campaigns.runner`) on the LOW lane. ``POST /campaigns/{id}/recipients/import``
adds a CSV's contacts to a draft's audience. See docs/campaigns.md.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from quart_schema import document_querystring, document_request, document_response, operation_id, tag
from sqlalchemy import select
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncSession

from api import campaigns as runtime
from api.campaigns.personalise import check_expressions
from api.audit import record_audit
from api.auth.permissions import require
from api.auth.principal import Principal, current_principal
from api.context import get_db, get_redis
from api.db.models import Campaign, CampaignRecipient, Contact, Flow, WhatsAppNumber, WhatsAppTemplate
from api.errors import Conflict, ValidationFailed
from api.json_body import raw_body
from api.resources import (
    DateRange, Equals, Page, Resource, crud_blueprint, list_items, load_in_scope, scoped_select, to_out, writing)
from api.resources.crud import list_query_model
from api.resources.body import read_body
from api.routes.contacts import contact_event, uploaded_csv
from api.events import emit
from api.schemas.campaigns import (
    RECIPIENT_STATUSES, ActionIn, CampaignCreate, CampaignOut, CampaignUpdate, RecipientOut, RecipientRow,
    RecipientsImported, StartIn)
from api.services.contacts_import import decode, import_contacts
from api.workers.queue import RUN_CAMPAIGN, enqueue


def _no_send_rate(values: dict[str, Any]) -> None:
    if "send_rate_limit" in values:
        raise ValidationFailed("send_rate_limit", "send_rate_limit is not available: a campaign sends at its "
                                                  "WhatsApp number's tier (the number's settings."
                                                  "rate_limit_per_second, docs/campaigns.md)")


async def _before_create(session: AsyncSession, principal: Principal, values: dict[str, Any]) -> None:
    _no_send_rate(values)
    values["target_filters"] = runtime.check_filters(values.get("target_filters"))
    check_expressions(values.get("message_content"))
    values["created_by"] = principal.user_id


async def _before_update(session: AsyncSession, principal: Principal, row: Campaign, values: dict[str, Any]) -> None:
    _no_send_rate(values)
    if row.status != "draft":
        raise Conflict(f"a {row.status} campaign cannot be edited (only drafts)", field="status")
    if "target_filters" in values:
        values["target_filters"] = runtime.check_filters(values["target_filters"])
    if "message_content" in values:
        check_expressions(values["message_content"])


async def _before_delete(session: AsyncSession, principal: Principal, row: Campaign) -> None:
    if row.status in ("scheduled", "running", "paused"):
        raise Conflict(f"a {row.status} campaign cannot be deleted: cancel it first", field="status")


resource = Resource(
    name="campaigns",
    label="campaign",
    model=Campaign,
    out=CampaignOut,
    path="/campaigns",
    create=CampaignCreate,
    update=CampaignUpdate,
    filters=(
        Equals("status", Campaign.status,
               choices=("draft", "scheduled", "running", "paused", "completed", "cancelled")),
        Equals("template_id", Campaign.template_id, uuid.UUID),
        DateRange("created_at", Campaign.created_at),
        DateRange("scheduled_at", Campaign.scheduled_at),
    ),
    sorts=("name", "status", "scheduled_at", "created_at"),
    references={"template_id": WhatsAppTemplate, "whatsapp_number_id": WhatsAppNumber, "flow_id": Flow},
    before_create=_before_create,
    before_update=_before_update,
    before_delete=_before_delete,
)
blueprint = crud_blueprint(resource)


async def _act(item_id: uuid.UUID, action: str, *args: Any) -> dict[str, Any]:
    principal = current_principal()
    async with writing("campaign") as session:
        before = to_out(resource, await load_in_scope(session, Campaign, item_id, principal.organization_id,
                                                      label="campaign"))
        result = await getattr(runtime, action)(session, item_id, principal.organization_id, *args)
        campaign = result[0] if isinstance(result, tuple) else result
        out = to_out(resource, campaign)
        await record_audit(session, f"campaign.{action}", "campaign", item_id, before=before, after=out)
    if out["status"] == "running":
        await enqueue(get_redis(), RUN_CAMPAIGN, str(item_id))
    return out


@blueprint.post("/campaigns/<uuid:item_id>/start")
@tag(["campaigns"])
@operation_id("start_campaign")
@document_request(StartIn)
@document_response(CampaignOut)
@require("campaigns:write")
async def start_campaign(item_id: uuid.UUID) -> Any:
    """Start a draft now (its audience materialised into recipients, sending begins), or schedule
    it for ``scheduled_at``. 422 names what cannot be sent (template, parameters, number, audience);
    403 ``plan_limit_exceeded`` names the monthly limit; 409 from a state other than draft/scheduled."""
    data = await read_body(StartIn)
    return await _act(item_id, "start", data.scheduled_at)


@blueprint.post("/campaigns/<uuid:item_id>/pause")
@tag(["campaigns"])
@operation_id("pause_campaign")
@document_request(ActionIn)
@document_response(CampaignOut)
@require("campaigns:write")
async def pause_campaign(item_id: uuid.UUID) -> Any:
    """Stop claiming recipients (a batch already handed to Meta finishes); 409 unless running."""
    await read_body(ActionIn)
    return await _act(item_id, "pause")


@blueprint.post("/campaigns/<uuid:item_id>/resume")
@tag(["campaigns"])
@operation_id("resume_campaign")
@document_request(ActionIn)
@document_response(CampaignOut)
@require("campaigns:write")
async def resume_campaign(item_id: uuid.UUID) -> Any:
    """Continue a paused campaign with its pending recipients; 409 unless paused."""
    await read_body(ActionIn)
    return await _act(item_id, "resume")


@blueprint.post("/campaigns/<uuid:item_id>/cancel")
@tag(["campaigns"])
@operation_id("cancel_campaign")
@document_request(ActionIn)
@document_response(CampaignOut)
@require("campaigns:write")
async def cancel_campaign(item_id: uuid.UUID) -> Any:
    """Cancel: pending recipients are skipped ("campaign cancelled"), nothing more is sent;
    409 once completed or cancelled."""
    await read_body(ActionIn)
    return await _act(item_id, "cancel")


@blueprint.post("/campaigns/<uuid:item_id>/recipients/import")
@raw_body  # CSV, not JSON
@tag(["campaigns"])
@operation_id("import_campaign_recipients")
@document_response(RecipientsImported)
@require("campaigns:write")
async def import_recipients(item_id: uuid.UUID) -> Any:
    """Add a CSV's contacts to a draft's audience (``target_filters.contact_ids``). The CSV is the
    contacts import's (``whatsapp_id`` required; other columns update the contact); each rejected row
    is reported with its line and field. 409 unless the campaign is a draft."""
    principal = current_principal()
    async with writing("campaign") as session:  # an unknown campaign is a 404 before the upload is read
        await load_in_scope(session, Campaign, item_id, principal.organization_id, label="campaign")
    text = decode(await uploaded_csv())
    async with writing("campaign") as session:
        campaign = await load_in_scope(session, Campaign, item_id, principal.organization_id, label="campaign",
                                       for_update=True)
        if campaign.status != "draft":
            raise Conflict(f"a {campaign.status} campaign's audience cannot change (only drafts)", field="status")
        result = await import_contacts(session, principal.organization_id, text, extra_columns=True,
                                       keep_opt_outs=True)
        await emit(session, *(contact_event(t, row) for t, row in result.written))
        if result.extra_columns:
            await _stage_variables(session, item_id, result.written, result.variables)
        filters = dict(campaign.target_filters or {})
        ids = list(dict.fromkeys([*(filters.get("contact_ids") or []), *(str(row.id) for _, row in result.written)]))
        before = len(filters.get("contact_ids") or [])
        filters["contact_ids"] = ids
        campaign.target_filters = runtime.check_filters(filters)
        report = result.to_json()
        await record_audit(session, "campaign.recipients_imported", "campaign", item_id,
                           after={"added": len(ids) - before, "rejected": report["rejected"]})
    return {"added": len(ids) - before, "contact_ids": len(ids), "rejected": report["rejected"],
            "errors": report.get("errors", []), "variables": result.extra_columns}


_STAGE = """
INSERT INTO campaign_recipients (campaign_id, contact_id, variables)
SELECT :campaign, i.contact_id, i.variables
  FROM unnest(CAST(:contacts AS uuid[]), CAST(:variables AS jsonb[])) AS i(contact_id, variables)
ON CONFLICT (campaign_id, contact_id) DO UPDATE SET variables = EXCLUDED.variables
"""


async def _stage_variables(session: AsyncSession, campaign_id: uuid.UUID, written: list[tuple[str, Any]],
                           variables: dict[str, dict[str, str]]) -> None:
    """The draft's recipients for the CSV's rows, staged with their own columns (``variables``);
    the audience is still materialised at start (`api.campaigns.audience.materialise`)."""
    rows = sorted({row.id: variables.get(row.whatsapp_id, {}) for _, row in written}.items())
    if not rows:
        return
    await session.execute(sql_text(_STAGE), {
        "campaign": campaign_id, "contacts": [r[0] for r in rows],
        "variables": [json.dumps(r[1], ensure_ascii=False) for r in rows]})


recipients = Resource(
    name="campaign_recipients",
    label="recipient",
    model=CampaignRecipient,
    out=RecipientRow,
    path="/campaigns/{id}/recipients",
    filters=(
        Equals("status", CampaignRecipient.status, choices=RECIPIENT_STATUSES),
        DateRange("sent_at", CampaignRecipient.sent_at),
    ),
    sorts=("created_at", "sent_at"),
    default_sort="created_at",
)


@blueprint.get("/campaigns/<uuid:item_id>/recipients")
@tag(["campaigns"])
@operation_id("list_campaign_recipients")
@document_querystring(list_query_model("CampaignRecipientsListQuery", recipients.filters, recipients.sorts,
                                       recipients.default_sort))
@document_response(Page[RecipientOut])
@require("campaigns:read")
async def list_recipients(item_id: uuid.UUID) -> Any:
    """The campaign's recipients (materialised when it starts; a draft lists those a CSV import staged
    with their own variables), oldest first, filtered by ``status`` (comma-separated); each with its
    contact's WhatsApp number and name, timestamps, Meta's error and its ``variables``."""
    organization = current_principal().organization_id
    async with get_db().session() as session:
        await load_in_scope(session, Campaign, item_id, organization, label="campaign")
    base = scoped_select(CampaignRecipient, organization).where(CampaignRecipient.campaign_id == item_id)
    page = await list_items(recipients, base)
    ids = list({item["contact_id"] for item in page["items"]})
    if ids:
        async with get_db().session() as session:
            found = (await session.execute(select(Contact.id, Contact.whatsapp_id, Contact.name).where(
                Contact.organization_id == organization, Contact.id.in_([uuid.UUID(i) for i in ids])))).all()
        contacts = {str(c.id): c for c in found}
        for item in page["items"]:
            contact = contacts.get(item["contact_id"])
            item["phone"] = contact.whatsapp_id if contact else None
            item["contact_name"] = contact.name if contact else None
    return page
