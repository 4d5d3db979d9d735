"""Campaigns: their definition (CRUD, while a draft) and the actions that send them
(``POST /campaigns/{id}/start|pause|resume|cancel``; docs/campaigns.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from api.schemas.common import Input, JsonObject, Name, Output, Text

TargetType = Literal["all", "tags", "segment", "custom"]


class CampaignFields(Input):
    """A campaign's definition. ``target_filters``: its audience (``tags``, ``tags_all``,
    ``attributes``, ``q``, ``contact_ids``; docs/campaigns.md); ``message_content``: the
    template's parameters (``body``, ``header``, ``header_media_url``, ``buttons``)."""

    description: Text | None = None
    target_type: TargetType | None = None
    target_filters: JsonObject | None = None
    template_id: uuid.UUID | None = None
    whatsapp_number_id: uuid.UUID | None = None
    flow_id: uuid.UUID | None = None
    message_type: Literal["template"] | None = None
    # not available: a campaign sends at its number's tier (docs/campaigns.md); taken only to be
    # refused by name (api.routes.campaigns), never stored, and left out of /openapi.json
    send_rate_limit: SkipJsonSchema[Any] = None


class CampaignCreate(CampaignFields):
    name: Name
    message_content: JsonObject


class CampaignUpdate(CampaignFields):
    name: Name | None = None
    message_content: JsonObject | None = None


class CampaignOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    description: str | None = None
    status: str | None = None
    target_type: str | None = None
    target_filters: JsonObject | None = None
    template_id: uuid.UUID | None = None
    message_type: str | None = None
    message_content: Any = None
    scheduled_at: datetime | None = None
    send_rate_limit: int | None = None
    whatsapp_number_id: uuid.UUID | None = None
    flow_id: uuid.UUID | None = None
    total_recipients: int | None = None
    sent_count: int | None = None
    delivered_count: int | None = None
    read_count: int | None = None
    failed_count: int | None = None
    replied_count: int | None = None
    skipped_count: int | None = None
    pause_reason: str | None = Field(None, description=(
        "why PyTake paused the campaign, as its campaign.paused event says it ('the WhatsApp number was "
        "deactivated', 'template_id: ...'); null when it is not paused, or a user paused it"))
    started_at: datetime | None = None
    completed_at: datetime | None = None
    created_by: uuid.UUID | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class StartIn(Input):
    """``{}`` starts now; ``scheduled_at`` schedules it (a time without offset is the
    organization's local time, ``organizations.settings.timezone``)."""

    scheduled_at: datetime | None = None


class ActionIn(Input):
    """``{}``."""


class RecipientsImported(Output):
    """A CSV's contacts (imported or updated as ``POST /contacts/import`` does) added to the audience."""

    added: int
    contact_ids: int
    rejected: int
    errors: list[dict[str, Any]] = []
    # the CSV's own columns (not contact fields): each row's values are its recipient's
    # ``variables``, the campaign's ``{{recipient.<column>}}``
    variables: list[str] = []


RECIPIENT_STATUSES = ("pending", "sent", "delivered", "read", "failed", "skipped")


class RecipientRow(Output):
    """A ``campaign_recipients`` row as listed (`RecipientOut` adds its contact's phone and name)."""

    id: uuid.UUID
    contact_id: uuid.UUID
    status: str | None = None
    skip_reason: str | None = None
    error_message: str | None = None
    whatsapp_message_id: str | None = None
    variables: dict[str, Any] = {}
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    replied_at: datetime | None = None
    created_at: datetime | None = None


class RecipientOut(RecipientRow):
    """One recipient of a campaign: its contact (id, WhatsApp number, name), status and timestamps,
    Meta's error (``failed``) or why it was never sent (``skipped``), and its own variables
    (``{{recipient.<column>}}``)."""

    phone: str | None = None
    contact_name: str | None = None
