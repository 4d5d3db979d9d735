"""Organizations as the platform operator sees them (`/admin/organizations`): plan, limits, usage."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from api.db.models import PLAN_TYPES
from api.schemas.common import Input, Output, StrictBool

PlanType = Literal[PLAN_TYPES]  # type: ignore[valid-type]  # the CHECK constraint's values
# A limit: a count (an INTEGER column), or null for unlimited (`api.services.plan_limits`).
Limit = Annotated[int, Field(strict=True, ge=0, le=2_147_483_647)]  # strict: true is not 1


def _utc_if_naive(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _absent_not_null(schema: dict) -> None:
    """A field that may be left out but not sent as null: no ``default: null`` in its schema."""
    schema.pop("default", None)


class AdminOrganizationOut(Output):
    """An organization, its plan and limits (a ``null`` limit is unlimited)."""

    id: uuid.UUID
    name: str
    slug: str
    plan_type: str | None = None
    plan_expires_at: datetime | None = None
    max_chatbots: int | None = None
    max_whatsapp_numbers: int | None = None
    max_contacts: int | None = None
    max_agents: int | None = None
    max_departments: int | None = None
    monthly_message_limit: int | None = None
    is_active: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None


class OrganizationUsage(Output):
    """What the organization uses now; the ``max_*`` limits are checked against
    ``agents``, ``whatsapp_numbers``, ``chatbots``, ``contacts``, ``departments``,
    and ``monthly_message_limit`` against ``outbound_messages_this_month``."""

    users: int = Field(description="users not deleted, every role")
    agents: int = Field(description="users with role agent, not deleted (max_agents)")
    whatsapp_numbers: int = Field(description="WhatsApp numbers not deleted (max_whatsapp_numbers)")
    chatbots: int = Field(description="chatbots not deleted (max_chatbots)")
    contacts: int = Field(description="contacts not deleted (max_contacts)")
    departments: int = Field(description="departments (max_departments)")
    messages_this_month: int = Field(description="inbound and outbound messages since the start "
                                                 "of the current UTC month")
    outbound_messages_this_month: int = Field(description="outbound messages since the start of the "
                                                          "current UTC month (monthly_message_limit)")


class AdminOrganizationDetail(AdminOrganizationOut):
    """An organization, its plan and limits, and what it uses now."""

    usage: OrganizationUsage


class AdminOrganizationUpdate(Input):
    """Plan, limits and activity. An absent field is left as it is; ``null``
    makes a limit unlimited and ``plan_expires_at`` never expire
    (``plan_type`` and ``is_active`` may not be null)."""

    # absent → None (defaults are not validated); an explicit null fails the type: 422
    plan_type: PlanType = Field(None, json_schema_extra=_absent_not_null)  # type: ignore[assignment]
    plan_expires_at: Annotated[datetime, AfterValidator(_utc_if_naive)] | None = Field(
        None, description="naive values are UTC; null: never expires")
    max_chatbots: Limit | None = None
    max_whatsapp_numbers: Limit | None = None
    max_contacts: Limit | None = None
    max_agents: Limit | None = None
    max_departments: Limit | None = None
    monthly_message_limit: Limit | None = None
    is_active: StrictBool = Field(None, description="false signs the organization's users out",  # type: ignore[assignment]
                            json_schema_extra=_absent_not_null)
