"""WhatsApp message templates: definitions, and what Meta says of them (api/templates/lifecycle.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from api.schemas.common import Input, Output, StrictBool

TemplateName = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9_]{1,255}$")]
Language = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")]
Category = Literal["MARKETING", "UTILITY", "AUTHENTICATION"]
HeaderType = Literal["TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"]
Body = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Short = Annotated[str, StringConstraints(max_length=60)]


class TemplateFields(Input):
    whatsapp_number_id: uuid.UUID | None = None
    language: Language | None = None
    category: Category | None = None
    is_active: StrictBool | None = None
    is_enabled_in_flows: StrictBool | None = None
    header_type: HeaderType | None = None
    header_content: Annotated[str, StringConstraints(max_length=2048)] | None = None
    footer_text: Short | None = None
    buttons: Annotated[list[dict[str, Any]], Field(max_length=10)] | None = None
    variables: Annotated[list[dict[str, Any]], Field(max_length=100)] | None = None


class TemplateCreate(TemplateFields):
    name: TemplateName
    body_text: Body


class TemplateUpdate(TemplateFields):
    name: TemplateName | None = None
    body_text: Body | None = None


class TemplateOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID
    whatsapp_number_id: uuid.UUID | None = None
    meta_template_id: str | None = None
    name: str
    language: str | None = None
    category: str | None = None
    meta_status: str | None = None
    is_active: bool | None = None
    is_enabled_in_flows: bool | None = None
    header_type: str | None = None
    header_content: str | None = None
    body_text: str
    footer_text: str | None = None
    buttons: list[Any] | None = None
    variables: list[Any] | None = None
    sync_status: str | None = None
    last_synced_at: datetime | None = None
    sync_error: str | None = None
    rejection_reason: str | None = None
    quality_score: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class SyncIn(Input):
    """Which number's WABA to sync (default: every number of the organization with a WABA id)."""

    whatsapp_number_id: uuid.UUID | None = None


class SyncOut(Output):
    numbers: int
    templates: int


class SubmitIn(Input):
    """``{}``: the template is submitted as its row defines it."""
