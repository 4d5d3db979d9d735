"""Integrations with external systems. ``credentials`` are write-only (encrypted at rest)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, StringConstraints

from api.schemas.common import URL_PATTERN, HttpUrl, Input, JsonObject, Name, Output, StrictBool, Text
from api.schemas.webhooks import SUBSCRIBABLE, Event, Events

IntegrationType = Literal["webhook", "zapier", "shopify", "woocommerce",
                          "hubspot", "salesforce", "google_sheets", "custom_api"]
# a token string or an object of named secrets (api key, client secret, ...)
Credentials = Annotated[str, StringConstraints(min_length=1, max_length=8192)] | dict[str, Any]


# what `POST /integrations` accepts, as /openapi.json states it: the types that deliver events
# (`webhook`, `custom_api`: a `config` with the url and the events; `zapier`: REST hooks); the
# others are answered "not available yet" (422)
_DELIVERY_CONFIG = {"type": "object", "additionalProperties": False, "required": ["url", "events"],
                    "properties": {"url": {"type": "string", "maxLength": 2048, "pattern": URL_PATTERN},
                                   "events": {"type": "array", "minItems": 1, "maxItems": 50,
                                              "items": {"enum": list(SUBSCRIBABLE)}}}}
AVAILABLE_KINDS = [
    {"properties": {"type": {"enum": ["webhook", "custom_api"]}, "config": _DELIVERY_CONFIG},
     "required": ["type", "config"]},
    {"properties": {"type": {"const": "zapier"}}, "required": ["type"]},
]


class IntegrationCreate(Input):
    model_config = ConfigDict(json_schema_extra={"anyOf": AVAILABLE_KINDS})

    type: IntegrationType
    name: Name
    description: Text | None = None
    config: JsonObject | None = None
    credentials: Credentials | None = None
    is_active: StrictBool | None = None


class IntegrationUpdate(Input):
    name: Name | None = None
    description: Text | None = None
    config: JsonObject | None = None
    credentials: Credentials | None = None
    is_active: StrictBool | None = None


class IntegrationOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID
    type: str
    name: str
    description: str | None = None
    config: Any = None
    has_credentials: bool
    is_active: bool | None = None
    last_sync_at: datetime | None = None
    last_error: str | None = None
    created_by: uuid.UUID | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class HookCreate(Input):
    """A Zapier REST hook subscription: Zapier posts its ``target_url`` and the event."""

    target_url: HttpUrl
    event: Event


class HookOut(Output):
    id: uuid.UUID
    integration_id: uuid.UUID
    target_url: str
    event: str
    is_active: bool | None = None
    created_at: datetime | None = None


class DeliveryConfig(Input):
    """``config`` of a ``webhook`` / ``custom_api`` integration: where its events go."""

    url: HttpUrl
    events: Events
