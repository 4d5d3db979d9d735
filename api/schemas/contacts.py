"""Contacts (WhatsApp customers), their tags and attributes, and CSV import reports."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints, WithJsonSchema

from api.schemas.common import Email, HttpUrl, Input, JsonObject, Output, Phone, StrictBool, TagList, Text

_WRITTEN_NUMBER = re.compile(r"\+?[0-9 ().\-]+")


def _wa_digits(value: Any) -> Any:
    """A WhatsApp id as Meta's webhooks carry it (``wa_id``: digits, country code first, no +):
    "+55 (11) 98765-4321" is 5511987654321, the contact its messages arrive for. Kept as
    written, "+5511..." was a second contact for the same customer (a campaign reached both,
    and the customer's opt-out covered only one)."""
    if isinstance(value, str) and _WRITTEN_NUMBER.fullmatch(value.strip()):
        return re.sub(r"[^0-9]", "", value)
    return value


# what is accepted, as /openapi.json documents it: 6 to 20 digits, a leading +, and spaces, dashes,
# dots and parentheses between them (the BeforeValidator would otherwise hide the pattern)
WRITTEN_WHATSAPP_ID = r"^[ \t\n\r]*\+?[ ().-]*([0-9][ ().-]*){6,20}[ \t\n\r]*$"
WhatsAppId = Annotated[str, BeforeValidator(_wa_digits),
                       StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9]{6,20}$"),
                       WithJsonSchema({"type": "string", "pattern": WRITTEN_WHATSAPP_ID,
                                       "description": "the number in international format, e.g. 5511987654321 or "
                                                      "+55 (11) 98765-4321 (stored as its digits)"},
                                      mode="validation")]
ShortName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]


class ContactFields(Input):
    whatsapp_name: ShortName | None = None
    whatsapp_profile_pic_url: HttpUrl | None = None
    name: ShortName | None = None
    email: Email | None = None
    phone: Phone | None = None
    tags: TagList | None = None
    is_blocked: StrictBool | None = None
    opt_in: StrictBool | None = None
    attributes: JsonObject | None = None
    notes: Text | None = None


class ContactCreate(ContactFields):
    whatsapp_id: WhatsAppId


class ContactUpdate(ContactFields):
    whatsapp_id: WhatsAppId | None = None


class ContactOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID
    whatsapp_id: str
    # read-only: set by inbound messages of a customer Meta knows by its business-scoped user id
    bsuid: str | None = Field(default=None, description=(
        "WhatsApp's business-scoped user id (BSUID) of the customer, when Meta sent one; a customer "
        "who hides their phone number has it as `whatsapp_id` too. Read-only"))
    whatsapp_name: str | None = None
    whatsapp_profile_pic_url: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    tags: list[str] | None = None
    is_blocked: bool | None = None
    opt_in: bool | None = None
    opt_in_date: datetime | None = None
    opt_out_date: datetime | None = None
    attributes: JsonObject | None = None
    last_message_at: datetime | None = None
    total_conversations: int | None = None
    total_messages: int | None = None
    notes: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ImportRowError(Output):
    row: int  # line in the file; the header is line 1
    field: str
    message: str


class ImportReport(Output):
    inserted: int
    updated: int
    rejected: int
    errors: list[ImportRowError]
