"""/templates: WhatsApp message templates, and their life at Meta.

A row is a definition until ``POST /templates/{id}/submit`` sends it to Meta
for review (checked first: 422 naming the field); Meta's review result
arrives by webhook (`api.templates.lifecycle.apply_changes`). ``POST
/templates/sync`` brings every template of the numbers' WABAs in (also done
every 6 hours by the maintenance loop); ``DELETE`` removes a submitted
template at Meta before its row. Sending one: ``POST
/conversations/{id}/messages`` with ``type: template``.
"""

from __future__ import annotations

import uuid
from typing import Any

from quart_schema import document_request, document_response, operation_id, tag
from sqlalchemy import select
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import record_audit
from api.auth.permissions import require
from api.auth.principal import Principal, current_principal
from api.context import get_db, get_settings
from api.db.models import Campaign, WhatsAppNumber, WhatsAppTemplate
from api.errors import Conflict, ValidationFailed
from api.resources import DateRange, Equals, Resource, crud_blueprint, load_in_scope, scoped_select, to_out, writing
from api.resources.body import read_body
from api.resources.crud import NoContent
from api.resources.rows import remove
from api.templates import lifecycle as meta

DEFAULT_LANGUAGE = "pt_BR"
# what Meta holds once a template is submitted (a PATCH would leave the row saying otherwise)
SUBMITTED_FIELDS = frozenset({"whatsapp_number_id", "name", "language", "category", "header_type", "header_content",
                              "body_text", "footer_text", "buttons", "variables"})


async def _ensure_unique(session: AsyncSession, organization_id: uuid.UUID, number_id: uuid.UUID | None,
                         name: str, language: str, exclude: uuid.UUID | None = None) -> None:
    """Name + language are unique per number, and among templates with no number.

    The table's UNIQUE key treats NULL numbers as distinct, so the no-number
    case is checked here (the database covers the rest, race-safe).
    """
    if number_id is not None:
        return
    stmt = scoped_select(WhatsAppTemplate, organization_id).where(
        WhatsAppTemplate.whatsapp_number_id.is_(None), WhatsAppTemplate.name == name,
        WhatsAppTemplate.language == language)
    if exclude is not None:
        stmt = stmt.where(WhatsAppTemplate.id != exclude)
    if (await session.execute(stmt.with_only_columns(WhatsAppTemplate.id).limit(1))).first() is not None:
        raise Conflict("a template with this name and language already exists", field="name")


async def _before_create(session: AsyncSession, principal: Principal, values: dict[str, Any]) -> None:
    await _ensure_unique(session, principal.organization_id, values.get("whatsapp_number_id"), values["name"],
                         values.get("language") or DEFAULT_LANGUAGE)


async def _before_update(session: AsyncSession, principal: Principal, row: WhatsAppTemplate,
                         values: dict[str, Any]) -> None:
    if row.meta_template_id and SUBMITTED_FIELDS & values.keys():
        field = sorted(SUBMITTED_FIELDS & values.keys())[0]
        raise Conflict("the template is at Meta: its content changes only there (delete it and submit a new one, "
                       "or sync)", field=field)
    if {"whatsapp_number_id", "name", "language"} & values.keys():
        await _ensure_unique(session, principal.organization_id,
                             values.get("whatsapp_number_id", row.whatsapp_number_id),
                             values.get("name", row.name), values.get("language", row.language), row.id)
from api.schemas.templates import SubmitIn, SyncIn, SyncOut, TemplateCreate, TemplateOut, TemplateUpdate

resource = Resource(
    name="templates",
    label="template",
    model=WhatsAppTemplate,
    out=TemplateOut,
    path="/templates",
    create=TemplateCreate,
    update=TemplateUpdate,
    filters=(
        Equals("whatsapp_number_id", WhatsAppTemplate.whatsapp_number_id, uuid.UUID),
        Equals("category", WhatsAppTemplate.category, choices=("MARKETING", "UTILITY", "AUTHENTICATION")),
        Equals("meta_status", WhatsAppTemplate.meta_status,
               choices=("PENDING", "APPROVED", "REJECTED", "PAUSED", "DISABLED")),
        Equals("language", WhatsAppTemplate.language),
        Equals("is_active", WhatsAppTemplate.is_active, bool),
        DateRange("created_at", WhatsAppTemplate.created_at),
    ),
    sorts=("name", "language", "category", "meta_status", "created_at"),
    default_sort="name",
    references={"whatsapp_number_id": WhatsAppNumber},
    conflict_fields={("organization_id", "whatsapp_number_id", "name", "language"): "name"},
    before_create=_before_create,
    before_update=_before_update,
    deletable=False,  # DELETE below: Meta first, then the row
)
blueprint = crud_blueprint(resource)


async def _number(session: AsyncSession, template: WhatsAppTemplate) -> WhatsAppNumber | None:
    if template.whatsapp_number_id is None:
        return None
    return await load_in_scope(session, WhatsAppNumber, template.whatsapp_number_id, template.organization_id,
                               label="whatsapp_number")


@blueprint.post("/templates/<uuid:item_id>/submit")
@tag(["templates"])
@operation_id("submit_template")
@document_request(SubmitIn)
@document_response(TemplateOut)
@require("templates:write")
async def submit_template(item_id: uuid.UUID) -> Any:
    """Send the template to Meta for review: it becomes PENDING with Meta's id; the result
    (APPROVED / REJECTED with its reason) arrives by webhook. 422 names what Meta would refuse."""
    await read_body(SubmitIn)
    principal = current_principal()
    # one transaction, the row locked across Meta's call: an edit or a second submit meanwhile
    # waits, then finds it submitted (api.templates.lifecycle.submit)
    async with writing("template") as session:
        # FOR NO KEY UPDATE: an edit (FOR UPDATE) and another submit wait; a campaign naming the
        # template (its foreign key's KEY SHARE) does not wait for Meta
        await session.execute(sql_text("SELECT 1 FROM whatsapp_templates WHERE id = :id AND organization_id = :o "
                                       "FOR NO KEY UPDATE"), {"id": item_id, "o": principal.organization_id})
        template = await load_in_scope(session, WhatsAppTemplate, item_id, principal.organization_id,
                                       label="template")
        if template.meta_template_id:
            raise Conflict("the template was already submitted to Meta", field="meta_template_id")
        number = await _number(session, template)
        if number is None:
            raise ValidationFailed("whatsapp_number_id", "a template is submitted for a WhatsApp number: "
                                                         "set whatsapp_number_id first")
        refused = await meta.submit(session, get_settings(), template, number)
        await session.refresh(template)
        out = to_out(resource, template)
        if refused is None:
            await record_audit(session, "template.submitted", "template", item_id, after=out)
    if refused is not None:
        raise refused
    return out


@blueprint.post("/templates/sync")
@tag(["templates"])
@operation_id("sync_templates")
@document_request(SyncIn)
@document_response(SyncOut)
@require("templates:write")
async def sync_templates() -> Any:
    """Bring in every template Meta lists for the number's WABA (or every number's with a WABA id):
    new ones added, known ones updated, ones Meta no longer has removed."""
    data = await read_body(SyncIn)
    principal = current_principal()
    async with get_db().session() as session:
        stmt = scoped_select(WhatsAppNumber, principal.organization_id).where(
            WhatsAppNumber.whatsapp_business_account_id.is_not(None))
        if data.whatsapp_number_id is not None:
            number = await load_in_scope(session, WhatsAppNumber, data.whatsapp_number_id,
                                         principal.organization_id, label="whatsapp_number")
            numbers = [number]
        else:
            numbers = list((await session.execute(stmt)).scalars())
    seen = 0
    for number in numbers:
        seen += await meta.sync_number(get_db(), get_settings(), number)
    return {"numbers": len(numbers), "templates": seen}


async def _not_in_campaigns(session: AsyncSession, template: WhatsAppTemplate) -> None:
    """409 while a scheduled, running or paused campaign sends the template: deleted, it would
    leave the campaign paused with no template, and a campaign past its draft cannot be edited."""
    stmt = (scoped_select(Campaign, template.organization_id)
            .where(Campaign.template_id == template.id, Campaign.status.in_(("scheduled", "running", "paused")))
            .with_only_columns(Campaign.name, Campaign.status).order_by(Campaign.created_at).limit(1))
    used = (await session.execute(stmt)).first()
    if used is not None:
        raise Conflict(f"the {used.status} campaign {used.name!r} sends this template: cancel it (or wait until it "
                       "completes) before deleting the template", field="id")


@blueprint.delete("/templates/<uuid:item_id>", endpoint="delete_template")
@tag(["templates"])
@operation_id("delete_template")
@document_response(NoContent, 204)
@require("templates:delete")
async def delete_template(item_id: uuid.UUID) -> Any:
    """Delete the template at Meta (if it was submitted), then its row; 409 while a scheduled,
    running or paused campaign sends it.

    One transaction around Meta's call, its locks taken first: the campaigns that name the
    template (a start or another transition of theirs finishes first; each locks its campaign
    before it reads the template, api/campaigns/control.py), then the template. A start that
    came first is seen by the check (409, and Meta keeps the template); one that comes during
    the delete waits for it, then finds the campaign names no template (422 on ``template_id``).
    The organization row is not locked across Meta's call (an agent's send locks it FOR UPDATE
    for the plan limits): only the audit entry's key takes it, at the end.
    Before, the check ran in a transaction of its own: a campaign started between it and the
    delete went on running with its ``template_id`` set to NULL."""
    principal = current_principal()
    async with writing("template") as session:
        await session.execute(select(Campaign.id).where(
            Campaign.template_id == item_id, Campaign.organization_id == principal.organization_id)
            .order_by(Campaign.id).with_for_update())
        template = await load_in_scope(session, WhatsAppTemplate, item_id, principal.organization_id,
                                       label="template", for_update=True)
        await _not_in_campaigns(session, template)
        number = await _number(session, template)
        await meta.delete_at_meta(get_settings(), template, number)
        before = to_out(resource, template)
        await remove(session, template)
        await record_audit(session, "template.deleted", "template", item_id, before=before)
    return "", 204
