"""/whatsapp-numbers: an organization's WhatsApp numbers (access token encrypted, never returned).

Credentials in ``settings`` (``verify_token``, ``app_secret``, any key named
like a secret: `api.secret_keys`) are returned only to the roles that may
manage numbers (``whatsapp_numbers:write``); the others get ``settings``
without them.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.principal import Principal
from api.campaigns.control import pause_sending_from
from api.context import get_redis
from api.db.models import WhatsAppNumber
from api.resources import DateRange, Equals, Resource, SecretField, crud_blueprint
from api.schemas.whatsapp_numbers import WhatsAppNumberCreate, WhatsAppNumberOut, WhatsAppNumberUpdate
from api.whatsapp.numbers import numbers_changed


async def _stops_sending(session: AsyncSession, row: WhatsAppNumber) -> None:
    """A number deactivated stops sending: its running campaigns are paused (the sender fails
    the rows still waiting for it, and agents' replies are refused)."""
    if row.is_active is False:
        await pause_sending_from(session, row.id, row.organization_id)


async def _numbers_changed() -> None:
    """Webhooks in every process see the change within a second (`api.whatsapp.numbers`)."""
    await numbers_changed(get_redis())


async def _before_delete(session: AsyncSession, principal: Principal, row: WhatsAppNumber) -> None:
    await pause_sending_from(session, row.id, row.organization_id, "the WhatsApp number was deleted")


resource = Resource(
    name="whatsapp_numbers",
    label="whatsapp_number",
    model=WhatsAppNumber,
    out=WhatsAppNumberOut,
    path="/whatsapp-numbers",
    create=WhatsAppNumberCreate,
    update=WhatsAppNumberUpdate,
    filters=(
        Equals("is_active", WhatsAppNumber.is_active, bool),
        Equals("is_default", WhatsAppNumber.is_default, bool),
        Equals("quality_rating", WhatsAppNumber.quality_rating, choices=("GREEN", "YELLOW", "RED")),
        Equals("phone_number", WhatsAppNumber.phone_number),
        DateRange("created_at", WhatsAppNumber.created_at),
    ),
    sorts=("phone_number", "display_name", "created_at"),
    secrets=(SecretField("access_token", "access_token_encrypted", "has_access_token"),),
    credential_columns=("settings",),
    plan_limit="max_whatsapp_numbers",
    after_update=_stops_sending,
    before_delete=_before_delete,
    after_commit=_numbers_changed,
)
blueprint = crud_blueprint(resource)
