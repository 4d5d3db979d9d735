"""/contacts: contacts with tags and attributes, search (``?q=``) and CSV import."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from quart import request
from quart_schema import document_response, operation_id, tag
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import record_audit
from api.auth.permissions import require
from api.db.models import Contact
from api.errors import ValidationFailed
from api.events import contact_payload, emit, event
from api.json_body import raw_body
from api.resources import Custom, DateRange, Equals, Resource, TagContains, crud_blueprint, org_id, writing
from api.schemas.contacts import ContactCreate, ContactOut, ContactUpdate, ImportReport
from api.services.contacts_import import MAX_BYTES, decode, import_contacts
from api.services.contacts_search import contact_search



def contact_event(type_: str, row: Contact) -> Any:
    """contact.created / contact.updated (docs/events.md), keyed by the contact."""
    payload = contact_payload({c: getattr(row, c) for c in (
        "id", "whatsapp_id", "bsuid", "whatsapp_name", "name", "email", "phone", "tags", "attributes")})
    return event(row.organization_id, type_, payload, row.id)


async def _created(session: AsyncSession, row: Contact) -> None:
    await emit(session, contact_event("contact.created", row))


async def _consent_dated(session: AsyncSession, principal: Any, row: Contact, values: dict[str, Any]) -> None:
    """A change of ``opt_in`` is dated: opting in sets ``opt_in_date``, opting out ``opt_out_date``."""
    now = datetime.now(timezone.utc)
    if values.get("opt_in") is True and row.opt_in is False:
        values.setdefault("opt_in_date", now)
    elif values.get("opt_in") is False and row.opt_in is not False:
        values.setdefault("opt_out_date", now)


async def _updated(session: AsyncSession, row: Contact) -> None:
    await emit(session, contact_event("contact.updated", row))


resource = Resource(
    name="contacts",
    label="contact",
    model=Contact,
    out=ContactOut,
    path="/contacts",
    create=ContactCreate,
    update=ContactUpdate,
    filters=(
        Custom("q", contact_search,
               "search: every word must start a word of the name or e-mail (Portuguese full text); "
               "contacts without a name are found by the start of their e-mail; a query of numbers "
               "only (separators ignored) also finds the contacts whose WhatsApp id or phone starts "
               "with those digits, with or without the country code (55) and area code"),
        TagContains("tag", Contact.tags),
        Equals("whatsapp_id", Contact.whatsapp_id),
        Equals("bsuid", Contact.bsuid),
        Equals("email", Contact.email),
        Equals("is_blocked", Contact.is_blocked, bool),
        Equals("opt_in", Contact.opt_in, bool),
        DateRange("created_at", Contact.created_at),
        DateRange("last_message_at", Contact.last_message_at),
    ),
    sorts=("name", "created_at", "updated_at", "last_message_at"),
    plan_limit="max_contacts",
    restore_on=("whatsapp_id",),
    after_create=_created,
    before_update=_consent_dated,
    after_update=_updated,
)
blueprint = crud_blueprint(resource)


async def uploaded_csv() -> bytes:
    """The CSV from a multipart ``file`` field or a ``text/csv`` body."""
    content_type = (request.mimetype or "").lower()
    if content_type == "multipart/form-data":
        files = await request.files
        upload = files.get("file")
        if upload is None:
            raise ValidationFailed("file", "send the CSV in a multipart field named 'file'")
        return upload.read(MAX_BYTES + 1)
    if content_type in ("text/csv", "text/plain", "application/csv"):
        return await request.get_data(cache=False)
    raise ValidationFailed("file", "send the CSV as multipart/form-data (field 'file') or as text/csv")


@blueprint.post("/contacts/import")
@raw_body  # CSV, not JSON
@tag(["contacts"])
@operation_id("import_contacts")
@document_response(ImportReport)
@require("contacts:write")
async def import_csv() -> Any:
    """Import contacts from CSV; the report lists each rejected row with its line and field."""
    text = decode(await uploaded_csv())
    async with writing("contact") as session:
        result = await import_contacts(session, org_id(), text)
        report = result.to_json()
        await emit(session, *(contact_event(t, row) for t, row in result.written))
        if result.inserted or result.updated:
            await record_audit(session, "contact.imported", "contact", None,
                               after={k: report[k] for k in ("inserted", "updated", "rejected")},
                               description="CSV import")
    return report
