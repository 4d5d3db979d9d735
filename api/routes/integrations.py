"""/integrations: external systems; credentials are encrypted and never returned.

``webhook`` and ``custom_api`` integrations deliver events to ``config.url``
(``config.events``: types or ``*``); ``zapier`` integrations deliver to the
REST hooks Zapier subscribes (``POST /integrations/{id}/hooks``). Both own
`webhooks` rows (``integration_id``), so they go through the one delivery
machinery (api/events/webhooks.py: signing, retries, dead letters). A signing
secret comes from ``credentials.secret`` (a string of 8 to 100 characters, as
``POST /webhooks``' ``secret``); changing it re-signs every row the integration
owns, Zapier hooks included. The other types are refused (422): not available yet.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import ValidationError
from quart_schema import document_request, document_response, operation_id, tag
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.permissions import require
from api.auth.principal import Principal
from api.context import get_db, get_settings
from api.crypto import decrypt_secret, encrypt_secret
from api.db.models import Integration, Webhook
from api.errors import Conflict, NotFound, ValidationFailed
from api.resources import DateRange, Equals, Resource, SecretField, crud_blueprint, load_in_scope, org_id
from api.resources.body import read_body
from api.resources.crud import NoContent
from api.routes.webhooks import check_target
from api.schemas.integrations import (DeliveryConfig, HookCreate, HookOut, IntegrationCreate, IntegrationOut,
                                      IntegrationUpdate)

TYPES = ("webhook", "zapier", "shopify", "woocommerce", "hubspot", "salesforce", "google_sheets", "custom_api")
DELIVERING = ("webhook", "custom_api")  # config.url + config.events
AVAILABLE = (*DELIVERING, "zapier")
SIGNING_SECRET_LENGTH = (8, 100)  # as POST /webhooks' `secret`: encrypted, it fits webhooks.secret (255)


def _available(type_: str) -> None:
    if type_ not in AVAILABLE:
        raise ValidationFailed("type", f"integrations of type {type_!r} are not available yet; "
                                       f"available: {', '.join(AVAILABLE)}")


def _delivery_config(config: Any) -> DeliveryConfig:
    try:
        return DeliveryConfig.model_validate(config or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed(f"config.{where}", f"config.{where}: {first['msg']}") from None


def _plain_signing_secret(credentials_encrypted: str | None) -> Any:
    """``credentials.secret`` as given (None: no credentials, a token string, or no such key)."""
    if not credentials_encrypted:
        return None
    plain = decrypt_secret(get_settings(), credentials_encrypted)
    try:
        return json.loads(plain).get("secret")
    except (ValueError, AttributeError):
        return None


def _signing_secret(credentials_encrypted: str | None) -> str | None:
    """``credentials.secret`` re-encrypted for the webhooks row (None: unsigned)."""
    secret = _plain_signing_secret(credentials_encrypted)
    return encrypt_secret(get_settings(), secret) if isinstance(secret, str) and secret else None


def _check_signing_secret(values: dict[str, Any]) -> None:
    """A ``credentials.secret`` the webhooks rows can sign with, else a 422 on that field: a
    number was dropped (deliveries went out unsigned) and a long one did not fit the column."""
    secret = _plain_signing_secret(values.get("credentials_encrypted"))
    if secret is None:
        return
    low, high = SIGNING_SECRET_LENGTH
    if not isinstance(secret, str) or not low <= len(secret) <= high:
        raise ValidationFailed("credentials.secret", f"credentials.secret: the signing secret must be a string of "
                                                     f"{low} to {high} characters")


async def _before_create(session: AsyncSession, principal: Principal, values: dict[str, Any]) -> None:
    _available(values["type"])
    if values["type"] in DELIVERING:
        check_target("config.url", _delivery_config(values.get("config")).url)
    _check_signing_secret(values)


async def _before_update(session: AsyncSession, principal: Principal, row: Integration, values: dict[str, Any]) -> None:
    _available(row.type)
    if row.type in DELIVERING and "config" in values:
        check_target("config.url", _delivery_config(values["config"]).url)
    _check_signing_secret(values)


async def _sync_webhook(session: AsyncSession, row: Integration) -> None:
    """The webhooks row a ``webhook`` / ``custom_api`` integration delivers through."""
    if row.type not in DELIVERING:
        if row.type == "zapier":  # its hooks follow the integration's is_active and signing secret
            await session.execute(update(Webhook).where(Webhook.integration_id == row.id)
                                  .values(is_active=row.is_active is not False,
                                          secret=_signing_secret(row.credentials_encrypted)))
        return
    config = _delivery_config(row.config)
    values = {"name": row.name[:255], "url": config.url, "events": list(config.events),
              "is_active": row.is_active is not False, "secret": _signing_secret(row.credentials_encrypted)}
    found = (await session.execute(select(Webhook).where(Webhook.integration_id == row.id))).scalar_one_or_none()
    if found is None:
        session.add(Webhook(organization_id=row.organization_id, integration_id=row.id, **values))
    else:
        for key, value in values.items():
            setattr(found, key, value)
    await session.flush()


resource = Resource(
    name="integrations",
    label="integration",
    model=Integration,
    out=IntegrationOut,
    path="/integrations",
    create=IntegrationCreate,
    update=IntegrationUpdate,
    filters=(
        Equals("type", Integration.type, choices=TYPES),
        Equals("is_active", Integration.is_active, bool),
        DateRange("created_at", Integration.created_at),
    ),
    sorts=("name", "type", "created_at"),
    secrets=(SecretField("credentials", "credentials_encrypted", "has_credentials", as_json=True),),
    before_create=_before_create,
    before_update=_before_update,
    after_create=_sync_webhook,
    after_update=_sync_webhook,
)
blueprint = crud_blueprint(resource)


def _hook_out(row: Webhook) -> dict[str, Any]:
    return HookOut(id=row.id, integration_id=row.integration_id, target_url=row.url, event=row.events[0],
                   is_active=row.is_active, created_at=row.created_at).model_dump(mode="json")


async def _zapier(session: AsyncSession, item_id: uuid.UUID) -> Integration:
    row = await load_in_scope(session, Integration, item_id, org_id(), label="integration")
    if row.type != "zapier":
        raise Conflict("REST hooks are for zapier integrations", field="type")
    return row


@blueprint.post("/integrations/<uuid:item_id>/hooks")
@tag(["integrations"])
@operation_id("subscribe_integration_hook")
@document_request(HookCreate)
@document_response(HookOut, 201)
@require("integrations:write")
async def subscribe(item_id: uuid.UUID) -> Any:
    """Zapier REST hook subscribe: ``event`` is delivered to ``target_url`` from now on."""
    async with get_db().transaction() as session:
        integration = await _zapier(session, item_id)  # another organization's: 404 before the body
        data = await read_body(HookCreate)
        check_target("target_url", data.target_url)
        row = Webhook(organization_id=integration.organization_id, integration_id=integration.id,
                      name=f"zapier: {data.event}"[:255], url=data.target_url, events=[data.event],
                      is_active=integration.is_active is not False,
                      secret=_signing_secret(integration.credentials_encrypted))
        session.add(row)
        await session.flush()
        await session.refresh(row)
        out = _hook_out(row)
    return out, 201


@blueprint.delete("/integrations/<uuid:item_id>/hooks/<uuid:hook_id>")
@tag(["integrations"])
@operation_id("unsubscribe_integration_hook")
@document_response(NoContent, 204)
@require("integrations:write")
async def unsubscribe(item_id: uuid.UUID, hook_id: uuid.UUID) -> Any:
    """Zapier REST hook unsubscribe: nothing more is delivered to it."""
    async with get_db().transaction() as session:
        await _zapier(session, item_id)
        gone = (await session.execute(delete(Webhook).where(
            Webhook.id == hook_id, Webhook.integration_id == item_id).returning(Webhook.id))).scalar_one_or_none()
        if gone is None:
            raise NotFound("hook")
    return "", 204
