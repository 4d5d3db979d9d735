"""A quick reply (``/shortcut``) turned into the message an agent sends.

The saved reply is found by its shortcut (with or without the leading ``/``)
among the organization's global replies and the agent's own; its text's
``{{variables}}`` are filled in: ``contact.name``, ``contact.first_name``,
``contact.phone``, ``contact.email``, ``agent.name``, ``agent.first_name``,
and any name the reply's ``variables`` give (which also override these).
A variable with no value is a 422 naming it (``variables.contact.name``):
the customer never sees ``{{contact.name}}`` or a blank where a name was meant.
A reply with media goes as that media message, its text as the caption.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import or_, select, update

from api.db.models import Contact, QuickReply, User
from api.errors import ValidationFailed
from engine.whatsapp_limits import CAPTION, TEXT_BODY

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\s*\}\}")
_MEDIA_TYPES = ("image", "video", "audio", "document")


def _first(name: str | None) -> str | None:
    return name.split()[0] if name and name.split() else None


def known_values(contact: Contact, agent: User | None) -> dict[str, str | None]:
    name = contact.name or contact.whatsapp_name
    return {"contact.name": name, "contact.first_name": _first(name),
            "contact.phone": contact.phone or contact.whatsapp_id, "contact.email": contact.email,
            "agent.name": agent.full_name if agent else None,
            "agent.first_name": _first(agent.full_name) if agent else None}


def fill(text: str, values: dict[str, str | None]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        value = values.get(name)
        if value is None or not str(value).strip():
            why = "is not a variable of quick replies" if name not in values else "has no value for this conversation"
            raise ValidationFailed(f"variables.{name}", f"{{{{{name}}}}} {why}: give it in variables")
        return str(value)
    return VARIABLE.sub(one, text)


async def expand_quick_reply(session: Any, organization_id: uuid.UUID, user_id: uuid.UUID | None,
                             contact_id: uuid.UUID, shortcut: str,
                             variables: dict[str, str] | None) -> tuple[str, dict[str, Any]]:
    """``(type, content)`` of the quick reply ``shortcut`` for this conversation's contact;
    its ``usage_count`` goes up by one (in ``session``'s transaction)."""
    bare = shortcut.strip().lstrip("/")
    found = (await session.execute(select(QuickReply).where(
        QuickReply.organization_id == organization_id,
        QuickReply.shortcut.in_([bare, f"/{bare}"]),
        or_(QuickReply.is_global.is_not(False), QuickReply.created_by == user_id)))).scalars().first()
    if found is None:
        raise ValidationFailed("shortcut", f"no quick reply with the shortcut /{bare}")
    contact = await session.get(Contact, contact_id)
    agent = await session.get(User, user_id) if user_id else None
    values = known_values(contact, agent)
    values.update(variables or {})
    text = fill(found.content, values)
    await session.execute(update(QuickReply).where(QuickReply.id == found.id).values(
        usage_count=QuickReply.usage_count + 1))
    media_type = (found.media_type or "").lower()
    if found.media_url and media_type in _MEDIA_TYPES:
        content: dict[str, Any] = {"media_url": found.media_url}
        if text.strip() and media_type != "audio":
            if len(text) > CAPTION:
                raise ValidationFailed("shortcut", f"the quick reply's text is over WhatsApp's {CAPTION}-character "
                                                   "caption limit once filled in")
            content["caption"] = text
        return media_type, content
    if not text.strip():
        raise ValidationFailed("shortcut", "the quick reply's text is empty once filled in")
    if len(text) > TEXT_BODY:
        raise ValidationFailed("shortcut", f"the quick reply's text is over {TEXT_BODY} characters once filled in")
    return "text", {"text": text}
