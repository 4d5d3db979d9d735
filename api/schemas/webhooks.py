"""Outbound webhooks. The signing ``secret`` is write-only (encrypted at rest)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from api.events.catalogue import EVENT_TYPES
from api.schemas.common import HttpUrl, Input, JsonNumber, Name, Output, StrictBool

# an event type of docs/events.md (the test event is sent on request only), or '*' for every type
SUBSCRIBABLE = ("*", *sorted(t for t in EVENT_TYPES if t != "webhook.test"))
Event = Literal[SUBSCRIBABLE]  # type: ignore[valid-type]
Events = Annotated[list[Event], Field(min_length=1, max_length=50)]
# Fernet output of 100 characters fits the 255-character column
Secret = Annotated[str, StringConstraints(min_length=8, max_length=100)]


class WebhookCreate(Input):
    name: Name
    url: HttpUrl
    events: Events
    secret: Secret | None = None
    is_active: StrictBool | None = None
    max_retries: Annotated[int, Field(ge=0, le=10), JsonNumber] | None = None
    retry_delay_seconds: Annotated[int, Field(ge=1, le=86_400), JsonNumber] | None = None
    failure_threshold: Annotated[int, Field(ge=1, le=10_000), JsonNumber] | None = None


class WebhookUpdate(Input):
    name: Name | None = None
    url: HttpUrl | None = None
    events: Events | None = None
    secret: Secret | None = None
    is_active: StrictBool | None = None
    max_retries: Annotated[int, Field(ge=0, le=10), JsonNumber] | None = None
    retry_delay_seconds: Annotated[int, Field(ge=1, le=86_400), JsonNumber] | None = None
    failure_threshold: Annotated[int, Field(ge=1, le=10_000), JsonNumber] | None = None


class WebhookOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    url: str
    events: list[str]
    has_secret: bool
    is_active: bool | None = None
    max_retries: int | None = None
    retry_delay_seconds: int | None = None
    total_deliveries: int | None = None
    failed_deliveries: int | None = None
    last_delivery_at: datetime | None = None
    last_delivery_status: str | None = None
    failure_threshold: int | None = None
    consecutive_failures: int | None = None
    disabled_reason: str | None = None
    disabled_at: datetime | None = None
    integration_id: uuid.UUID | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class WebhookDeliveryOut(Output):
    id: uuid.UUID
    webhook_id: uuid.UUID
    event_type: str
    payload: Any = None
    status_code: int | None = None
    response_body: str | None = None
    response_time_ms: int | None = None
    attempt_number: int | None = None
    success: bool | None = None
    error_message: str | None = None
    event_id: int | None = None
    ordering_key: uuid.UUID | None = None
    state: str | None = None
    next_attempt_at: datetime | None = None
    attempts: list[Any] = []
    created_at: datetime | None = None
    updated_at: datetime | None = None


class DeliveryActionIn(Input):
    """No fields: ``{}`` (redeliver, send a test event)."""
