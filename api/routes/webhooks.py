"""/webhooks: outbound webhooks (signing secret encrypted, never returned) and their deliveries."""

from __future__ import annotations

import uuid
from typing import Any

from quart_schema import document_querystring, document_response, operation_id, tag

from api.auth.permissions import require
from api.context import get_db
from api.db.models import Webhook, WebhookDelivery
from api.resources import DateRange, Equals, Page, Resource, SecretField, crud_blueprint, list_items, load_in_scope, org_id, scoped_select
from api.resources.crud import list_query_model
from api.schemas.webhooks import WebhookCreate, WebhookDeliveryOut, WebhookOut, WebhookUpdate

resource = Resource(
    name="webhooks",
    label="webhook",
    model=Webhook,
    out=WebhookOut,
    path="/webhooks",
    create=WebhookCreate,
    update=WebhookUpdate,
    filters=(
        Equals("is_active", Webhook.is_active, bool),
        DateRange("created_at", Webhook.created_at),
    ),
    sorts=("name", "created_at", "last_delivery_at"),
    secrets=(SecretField("secret", "secret", "has_secret"),),
)
blueprint = crud_blueprint(resource)

deliveries = Resource(
    name="webhooks",
    label="webhook_delivery",
    model=WebhookDelivery,
    out=WebhookDeliveryOut,
    path="/webhooks/<uuid:item_id>/deliveries",
    filters=(
        Equals("success", WebhookDelivery.success, bool),
        Equals("event_type", WebhookDelivery.event_type),
        DateRange("created_at", WebhookDelivery.created_at),
    ),
    sorts=("created_at",),
)


@blueprint.get("/webhooks/<uuid:item_id>/deliveries")
@tag(["webhooks"])
@operation_id("list_webhook_deliveries")
@document_querystring(list_query_model("WebhookDeliveriesListQuery", deliveries.filters, deliveries.sorts,
                                       deliveries.default_sort))
@document_response(Page[WebhookDeliveryOut])
@require("webhooks:read")
async def list_deliveries(item_id: uuid.UUID) -> Any:
    """Delivery attempts of one webhook, newest first."""
    async with get_db().session() as session:
        await load_in_scope(session, Webhook, item_id, org_id(), label="webhook")
    base = scoped_select(WebhookDelivery, org_id()).where(WebhookDelivery.webhook_id == item_id)
    return await list_items(deliveries, base)
