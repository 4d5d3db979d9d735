"""/templates: WhatsApp message template definitions."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.principal import Principal
from api.db.models import WhatsAppNumber, WhatsAppTemplate
from api.errors import Conflict
from api.resources import DateRange, Equals, Resource, crud_blueprint, scoped_select

DEFAULT_LANGUAGE = "pt_BR"


async def _ensure_unique(session: AsyncSession, organization_id: uuid.UUID, number_id: uuid.UUID | None,
                         name: str, language: str, exclude: uuid.UUID | None = None) -> None:
    """Name + language are unique per number, and among templates with no number.

    The table's UNIQUE key treats NULL numbers as distinct, so the no-number
    case is checked here (the database covers the rest, race-safe).
    """
    if number_id is not None:
        return
    stmt = scoped_select(WhatsAppTemplate, organization_id).where(
        WhatsAppTemplate.whatsapp_number_id.is_(None), WhatsAppTemplate.name == name,
        WhatsAppTemplate.language == language)
    if exclude is not None:
        stmt = stmt.where(WhatsAppTemplate.id != exclude)
    if (await session.execute(stmt.with_only_columns(WhatsAppTemplate.id).limit(1))).first() is not None:
        raise Conflict("a template with this name and language already exists", field="name")


async def _before_create(session: AsyncSession, principal: Principal, values: dict[str, Any]) -> None:
    await _ensure_unique(session, principal.organization_id, values.get("whatsapp_number_id"), values["name"],
                         values.get("language") or DEFAULT_LANGUAGE)


async def _before_update(session: AsyncSession, principal: Principal, row: WhatsAppTemplate,
                         values: dict[str, Any]) -> None:
    if {"whatsapp_number_id", "name", "language"} & values.keys():
        await _ensure_unique(session, principal.organization_id,
                             values.get("whatsapp_number_id", row.whatsapp_number_id),
                             values.get("name", row.name), values.get("language", row.language), row.id)
from api.schemas.templates import TemplateCreate, TemplateOut, TemplateUpdate

resource = Resource(
    name="templates",
    label="template",
    model=WhatsAppTemplate,
    out=TemplateOut,
    path="/templates",
    create=TemplateCreate,
    update=TemplateUpdate,
    filters=(
        Equals("whatsapp_number_id", WhatsAppTemplate.whatsapp_number_id, uuid.UUID),
        Equals("category", WhatsAppTemplate.category, choices=("MARKETING", "UTILITY", "AUTHENTICATION")),
        Equals("meta_status", WhatsAppTemplate.meta_status,
               choices=("PENDING", "APPROVED", "REJECTED", "PAUSED", "DISABLED")),
        Equals("language", WhatsAppTemplate.language),
        Equals("is_active", WhatsAppTemplate.is_active, bool),
        DateRange("created_at", WhatsAppTemplate.created_at),
    ),
    sorts=("name", "language", "category", "meta_status", "created_at"),
    default_sort="name",
    references={"whatsapp_number_id": WhatsAppNumber},
    conflict_fields={("organization_id", "whatsapp_number_id", "name", "language"): "name"},
    before_create=_before_create,
    before_update=_before_update,
)
blueprint = crud_blueprint(resource)
