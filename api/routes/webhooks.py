"""/webhooks: outbound webhooks (signing secret encrypted, never returned), their
deliveries (state, every attempt; dead letters included), manual redelivery and
a test event. Delivery itself: api/events/webhooks.py, docs/events.md."""

from __future__ import annotations

import uuid
from typing import Any

from quart import current_app
from quart_schema import document_querystring, document_request, document_response, operation_id, tag
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.permissions import require
from api.auth.principal import Principal
from api.context import get_db, get_settings
from api.db.models import DELIVERY_STATES, Webhook, WebhookDelivery
from api.errors import Conflict, NotFound, ValidationFailed
from api.events.webhooks import send_test, unreachable_target
from api.routes.logs import WEBHOOK_LOG_KEY
from api.resources import DateRange, Equals, Page, Resource, SecretField, crud_blueprint, list_items, load_in_scope, org_id, scoped_select
from api.resources.crud import to_out
from api.resources.crud import list_query_model
from api.resources.body import read_body
from api.schemas.webhooks import DeliveryActionIn, WebhookCreate, WebhookDeliveryOut, WebhookOut, WebhookUpdate



def check_target(field: str, url: str | None) -> None:
    """A URL no delivery could ever reach (`unreachable_target`) is a 422 on ``field``."""
    problem = unreachable_target(url, get_settings()) if url else None
    if problem:
        raise ValidationFailed(field, f"{field}: {problem}")


async def _before_create(session: AsyncSession, principal: Principal, values: dict[str, Any]) -> None:
    check_target("url", values.get("url"))


async def _before_update(session: AsyncSession, principal: Principal, row: Webhook, values: dict[str, Any]) -> None:
    """A new URL is checked; PATCH ``is_active: true`` on a disabled webhook starts a fresh run of failures."""
    check_target("url", values.get("url"))
    if values.get("is_active") is True and row.is_active is not True:
        values.update(consecutive_failures=0, disabled_reason=None, disabled_at=None)


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
    before_create=_before_create,
    before_update=_before_update,
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
        Equals("state", WebhookDelivery.state, choices=DELIVERY_STATES),
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
    """Deliveries of one webhook, newest first: state (pending, retrying, delivered,
    dead), next attempt, every attempt made. ``?state=dead``: the dead letters."""
    async with get_db().session() as session:
        await load_in_scope(session, Webhook, item_id, org_id(), label="webhook")
    base = scoped_select(WebhookDelivery, org_id()).where(WebhookDelivery.webhook_id == item_id)
    return await list_items(deliveries, base)


@blueprint.post("/webhooks/<uuid:item_id>/deliveries/<uuid:delivery_id>/redeliver")
@tag(["webhooks"])
@operation_id("redeliver_webhook_delivery")
@document_request(DeliveryActionIn)
@document_response(WebhookDeliveryOut, 202)
@require("webhooks:write")
async def redeliver(item_id: uuid.UUID, delivery_id: uuid.UUID) -> Any:
    """Send a delivery again (a dead letter, or a delivered one): it becomes pending
    with a fresh retry budget; its earlier attempts stay listed."""
    await read_body(DeliveryActionIn)
    async with get_db().transaction() as session:
        hook = await load_in_scope(session, Webhook, item_id, org_id(), label="webhook")
        if hook.is_active is not True:
            raise Conflict("the webhook is disabled; re-enable it first (PATCH is_active true)", field="is_active")
        row = (await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.webhook_id == item_id,
                   WebhookDelivery.event_type != "webhook.test")
            .values(state="pending", next_attempt_at=func.now(), attempt_number=0, updated_at=func.now())
            .returning(WebhookDelivery)
        )).scalar_one_or_none()
        if row is None:
            raise NotFound("webhook_delivery")
        out = to_out(deliveries, row)
    return out, 202


@blueprint.post("/webhooks/<uuid:item_id>/test")
@tag(["webhooks"])
@operation_id("test_webhook")
@document_request(DeliveryActionIn)
@document_response(WebhookDeliveryOut)
@require("webhooks:write")
async def test_webhook(item_id: uuid.UUID) -> Any:
    """POST a signed ``webhook.test`` event to the webhook now (one attempt, no retries)
    and answer with the recorded delivery: ``state`` delivered or dead, status code,
    response excerpt, duration, error."""
    await read_body(DeliveryActionIn)
    async with get_db().session() as session:
        hook = await load_in_scope(session, Webhook, item_id, org_id(), label="webhook")
    attempts = current_app.extensions.get(WEBHOOK_LOG_KEY)  # the log store's webhook_logs (a LogBuffer)
    observe = attempts.extend if attempts is not None else None
    delivery_id = await send_test(get_db(), get_settings(), hook, observe=observe)
    async with get_db().session() as session:
        row = await session.get(WebhookDelivery, delivery_id)
        return to_out(deliveries, row)
