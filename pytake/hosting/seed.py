"""Create an organization, a WhatsApp number, a chatbot and its flows.

Used by `pytake demo` (the example flows) and by the runtime's tests. Flows
are saved through `api.services.flow_versions.save_canvas`, so they are
compiled exactly as the API would compile them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Sequence

from sqlalchemy import select

from api.db.models import Chatbot, Flow, Organization, WhatsAppNumber
from api.db.session import Database


@dataclass
class Seeded:
    organization_id: uuid.UUID
    number_id: uuid.UUID
    phone_number_id: str
    chatbot_id: uuid.UUID
    flows: dict[str, uuid.UUID] = field(default_factory=dict)


async def seed_organization(db: Database, *, phone_number_id: str, phone_number: str = "+5511999990000",
                            slug: str | None = None, chatbot: dict[str, Any] | None = None,
                            number_settings: dict[str, Any] | None = None) -> Seeded:
    async with db.transaction() as s:
        org = Organization(name="Demo", slug=slug or f"demo-{uuid.uuid4().hex[:8]}")
        s.add(org)
        await s.flush()
        number = WhatsAppNumber(organization_id=org.id, phone_number=phone_number,
                                phone_number_id=phone_number_id, display_name="PyTake Demo",
                                settings=dict(number_settings or {}), is_active=True)
        bot = Chatbot(organization_id=org.id, **{"name": "Assistente", "is_active": True,
                                                 "is_published": True, **(chatbot or {})})
        s.add_all([number, bot])
        await s.flush()
        return Seeded(org.id, number.id, phone_number_id, bot.id)


async def add_flow(db: Database, seeded: Seeded, name: str, canvas: Any, *, type: str = "main",
                   keywords: Sequence[str] = (), number_specific: bool = False) -> uuid.UUID:
    """Create a flow and save ``canvas`` as its first, published version; raises if it does not compile."""
    from api.services.flow_versions import save_canvas

    async with db.transaction() as s:
        flow = Flow(chatbot_id=seeded.chatbot_id, name=name, type=type, trigger_keywords=list(keywords),
                    whatsapp_number_id=seeded.number_id if number_specific else None, is_active=True)
        s.add(flow)
        await s.flush()
        result = await save_canvas(s, flow, canvas, None, publish=True)
        if not result.ok:
            raise ValueError(f"flow {name!r} does not compile: "
                             + "; ".join(f"{d.code} {d.message}" for d in result.errors))
        seeded.flows[name] = flow.id
        return flow.id


async def find_number(db: Database, phone_number_id: str) -> WhatsAppNumber | None:
    async with db.session() as s:
        return (await s.execute(select(WhatsAppNumber).where(
            WhatsAppNumber.phone_number_id == phone_number_id))).scalar_one_or_none()
