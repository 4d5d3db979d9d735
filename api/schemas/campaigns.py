"""Campaign definitions (sending them is the runtime's job)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from api.schemas.common import Input, JsonNumber, JsonObject, Name, Output, Text, field_error

Status = Literal["draft", "scheduled", "paused", "cancelled"]
TargetType = Literal["all", "tags", "segment", "custom"]
Rate = Annotated[int, Field(ge=1, le=10_000), JsonNumber]


class CampaignFields(Input):
    description: Text | None = None
    status: Status | None = None
    target_type: TargetType | None = None
    target_filters: JsonObject | None = None
    template_id: uuid.UUID | None = None
    message_type: Literal["template", "text"] | None = None
    scheduled_at: datetime | None = None
    send_rate_limit: Rate | None = None


class CampaignCreate(CampaignFields):
    name: Name
    message_content: JsonObject

    @model_validator(mode="after")
    def _scheduled_needs_a_time(self) -> "CampaignCreate":
        if self.status == "scheduled" and self.scheduled_at is None:
            raise field_error("scheduled_at", "scheduled_at is required for a scheduled campaign")
        return self


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
    total_recipients: int | None = None
    sent_count: int | None = None
    delivered_count: int | None = None
    read_count: int | None = None
    failed_count: int | None = None
    replied_count: int | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    created_by: uuid.UUID | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
