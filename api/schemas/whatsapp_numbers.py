"""WhatsApp numbers of an organization. The Graph API access token is write-only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints

from api.schemas.common import NON_BLANK, Input, JsonObject, Output, Phone, StrictBool

Ident = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=NON_BLANK)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
Quality = Literal["GREEN", "YELLOW", "RED"]


class WhatsAppNumberCreate(Input):
    phone_number: Phone
    phone_number_id: Ident
    display_name: Annotated[str, StringConstraints(max_length=255)] | None = None
    whatsapp_business_account_id: Ident | None = None
    access_token: Secret | None = None
    is_active: StrictBool | None = None
    is_default: StrictBool | None = None
    quality_rating: Quality | None = None
    messaging_limit_tier: Annotated[str, StringConstraints(max_length=50)] | None = None
    settings: JsonObject | None = None


class WhatsAppNumberUpdate(Input):
    phone_number: Phone | None = None
    phone_number_id: Ident | None = None
    display_name: Annotated[str, StringConstraints(max_length=255)] | None = None
    whatsapp_business_account_id: Ident | None = None
    access_token: Secret | None = None
    is_active: StrictBool | None = None
    is_default: StrictBool | None = None
    quality_rating: Quality | None = None
    messaging_limit_tier: Annotated[str, StringConstraints(max_length=50)] | None = None
    settings: JsonObject | None = None


class WhatsAppNumberOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID
    phone_number: str
    phone_number_id: str
    display_name: str | None = None
    whatsapp_business_account_id: str | None = None
    has_access_token: bool
    is_active: bool | None = None
    is_default: bool | None = None
    is_verified: bool | None = None
    quality_rating: str | None = None
    messaging_limit_tier: str | None = None
    settings: JsonObject | None = None
    last_synced_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
