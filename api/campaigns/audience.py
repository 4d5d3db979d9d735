"""A campaign's audience, materialised into ``campaign_recipients`` by one INSERT ... SELECT.

``campaigns.target_filters`` says who receives it; every key is optional and
the conditions are ANDed, then ``contact_ids`` are added:

- ``tags``: contacts having ANY of these tags; ``tags_all``: having ALL of them;
- ``attributes``: ``{"city": "Recife"}``, contacts whose attributes contain these values;
- ``q``: the contacts search (`api.services.contacts_search`, as ``GET /contacts?q=``);
- ``contact_ids``: these contacts (a CSV upload adds to them).

``target_type = 'all'``: every contact (the filters may still narrow it).
Never included: deleted, blocked or opted-out contacts (``opt_in = false``).
Rows a recipients import staged in the draft (with the CSV's own columns,
``variables``) are kept when their contact is in the audience, dropped otherwise.

The rows are written by PostgreSQL itself (``INSERT ... SELECT ... ON
CONFLICT DO NOTHING``): no recipient passes through Python, so a million-
contact audience costs the database's time, not the API's memory.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ARRAY, Text, and_, cast, delete, exists, false, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from api.db.models import Campaign, CampaignRecipient, Contact
from api.errors import ValidationFailed
from api.services.contacts_search import contact_search

MAX_CONTACT_IDS = 100_000
FILTER_KEYS = ("tags", "tags_all", "attributes", "q", "contact_ids")


def _strings(filters: dict[str, Any], key: str) -> list[str]:
    value = filters.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValidationFailed(f"target_filters.{key}", f"{key} must be a list of non-empty strings")
    return value


def check_filters(filters: dict[str, Any] | None) -> dict[str, Any]:
    """``target_filters`` as stored, checked (422 naming the key on a bad one)."""
    filters = dict(filters or {})
    for key in filters:
        if key not in FILTER_KEYS:
            raise ValidationFailed(f"target_filters.{key}", f"unknown audience key {key!r}; known: "
                                                            f"{', '.join(FILTER_KEYS)}")
    _strings(filters, "tags")
    _strings(filters, "tags_all")
    if "attributes" in filters and not isinstance(filters["attributes"], dict):
        raise ValidationFailed("target_filters.attributes", "attributes must be an object")
    if "q" in filters and not isinstance(filters["q"], str):
        raise ValidationFailed("target_filters.q", "q must be a string")
    ids = _strings(filters, "contact_ids")
    if len(ids) > MAX_CONTACT_IDS:
        raise ValidationFailed("target_filters.contact_ids", f"at most {MAX_CONTACT_IDS} contact ids")
    for i, value in enumerate(ids):
        try:
            uuid.UUID(value)
        except ValueError:
            raise ValidationFailed(f"target_filters.contact_ids[{i}]", "not a contact id (UUID)") from None
    return filters


def audience_condition(target_type: str | None, filters: dict[str, Any]) -> ColumnElement[bool]:
    """The condition on `Contact` choosing the audience (without the organization scope)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.get("tags"):
        conditions.append(Contact.tags.overlap(cast(filters["tags"], ARRAY(Text))))
    if filters.get("tags_all"):
        conditions.append(Contact.tags.contains(cast(filters["tags_all"], ARRAY(Text))))
    if filters.get("attributes"):
        conditions.append(Contact.attributes.contains(cast(filters["attributes"], JSONB)))
    if filters.get("q"):
        found = contact_search(filters["q"])
        conditions.append(found if found is not None else false())
    chosen: ColumnElement[bool] | None = and_(*conditions) if conditions else None
    if chosen is None:
        if target_type == "all":  # every contact: explicit ids (a recipients import's) add nobody
            return literal(True)
        chosen = false()  # no criterion: nobody but the explicit ids
    ids = [uuid.UUID(i) for i in filters.get("contact_ids") or []]
    if ids:
        explicit = Contact.id.in_(ids)
        chosen = explicit if chosen is None else or_(chosen, explicit)
    return chosen if chosen is not None else literal(True)


async def materialise(session: AsyncSession, campaign: Campaign) -> int:
    """Insert the campaign's recipients (pending) in the database; how many were added."""
    filters = check_filters(campaign.target_filters)
    eligible = and_(Contact.organization_id == campaign.organization_id, Contact.deleted_at.is_(None),
                    Contact.opt_in.is_not(False), Contact.is_blocked.is_not(True),
                    audience_condition(campaign.target_type, filters))
    # rows staged by a recipients import (their CSV variables) whose contact left the audience
    # (opted out, blocked, deleted, or the filters changed since) are dropped; the others stay.
    # Only pending ones: a row already counted (skipped) stays, as its campaign's counter does
    await session.execute(delete(CampaignRecipient).where(
        CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.message_id.is_(None),
        CampaignRecipient.status == "pending",
        ~exists(select(Contact.id).where(Contact.id == CampaignRecipient.contact_id, eligible))))
    chosen = select(literal(campaign.id, type_=CampaignRecipient.campaign_id.type), Contact.id).where(eligible)
    stmt = insert(CampaignRecipient).from_select(["campaign_id", "contact_id"], chosen).on_conflict_do_nothing()
    result = await session.execute(stmt)
    return int(result.rowcount or 0)


__all__ = ["FILTER_KEYS", "MAX_CONTACT_IDS", "audience_condition", "check_filters", "materialise"]
