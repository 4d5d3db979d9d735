"""Plan limits refuse the request that would exceed them, naming the limit, also under races."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from sqlalchemy import func, select

from api.db import models as m


@dataclass
class LimitCase:
    limit: str
    path: str
    model: type
    body: Callable[[Any], dict[str, Any]]


def _digits() -> str:
    return "5511" + str(uuid.uuid4().int)[:9]


CASES = [
    LimitCase("max_chatbots", "/chatbots", m.Chatbot, lambda s: {"name": f"bot {uuid.uuid4().hex[:6]}"}),
    LimitCase("max_whatsapp_numbers", "/whatsapp-numbers", m.WhatsAppNumber,
              lambda s: (lambda d: {"phone_number": "+" + d, "phone_number_id": "pn-" + d})(_digits())),
    LimitCase("max_contacts", "/contacts", m.Contact, lambda s: {"whatsapp_id": _digits()}),
    LimitCase("max_agents", "/users", m.User,
              lambda s: {"email": f"a{uuid.uuid4().hex[:8]}@example.com", "password": "s3cret-passw0rd",
                         "full_name": "Agente", "role": "agent"}),
    LimitCase("max_departments", "/departments", m.Department, lambda s: {"name": f"d {uuid.uuid4().hex[:6]}"}),
]
by_case = pytest.mark.parametrize("case", CASES, ids=[c.limit for c in CASES])


async def _count(db, model: type, org_id: uuid.UUID, **where: Any) -> int:  # noqa: ANN001
    async with db.session() as session:
        stmt = select(func.count()).select_from(model).where(model.organization_id == org_id)
        for column, value in where.items():
            stmt = stmt.where(getattr(model, column) == value)
        return (await session.execute(stmt)).scalar_one()


async def _usage(db, case: LimitCase, org_id: uuid.UUID) -> int:  # noqa: ANN001
    return await _count(db, case.model, org_id, **({"role": "agent"} if case.limit == "max_agents" else {}))


@by_case
async def test_request_past_the_limit_is_refused_naming_it(case: LimitCase, seed, admin_api, set_limits, db,
                                                          org_admin) -> None:
    used = await _usage(db, case, org_admin.org_id)
    await set_limits(org_admin.org_id, **{case.limit: used + 1})
    assert (await admin_api.post(case.path, case.body(seed)))[0] == 201
    status, error = await admin_api.post(case.path, case.body(seed))
    assert status == 403
    assert error["error"]["code"] == "plan_limit_exceeded"
    assert error["error"]["field"] == case.limit
    assert await _usage(db, case, org_admin.org_id) == used + 1


@by_case
async def test_concurrent_creates_never_exceed_the_limit(case: LimitCase, seed, admin_api, set_limits, db,
                                                        org_admin) -> None:
    used = await _usage(db, case, org_admin.org_id)
    await set_limits(org_admin.org_id, **{case.limit: used + 2})
    results = await asyncio.gather(*(admin_api.post(case.path, case.body(seed)) for _ in range(6)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201, 201, 403, 403, 403, 403]
    assert await _usage(db, case, org_admin.org_id) == used + 2


@by_case
async def test_a_null_limit_means_unlimited(case: LimitCase, seed, admin_api, set_limits, org_admin) -> None:
    await set_limits(org_admin.org_id, **{case.limit: None})
    for _ in range(2):
        assert (await admin_api.post(case.path, case.body(seed)))[0] == 201


async def test_deleting_frees_room_under_the_limit(seed, admin_api, set_limits, db, org_admin) -> None:
    used = await _count(db, m.Chatbot, org_admin.org_id)
    await set_limits(org_admin.org_id, max_chatbots=used + 1)
    bot = await admin_api.created("/chatbots", {"name": "one"})
    assert (await admin_api.post("/chatbots", {"name": "two"}))[0] == 403
    assert (await admin_api.delete(f"/chatbots/{bot['id']}"))[0] == 204
    assert (await admin_api.post("/chatbots", {"name": "two"}))[0] == 201


async def test_promoting_a_viewer_to_agent_counts_against_max_agents(seed, admin_api, set_limits, db,
                                                                     org_admin) -> None:
    viewer = await admin_api.created("/users", {"email": "v@example.com", "password": "s3cret-passw0rd",
                                                "full_name": "V", "role": "viewer"})
    await set_limits(org_admin.org_id, max_agents=await _count(db, m.User, org_admin.org_id, role="agent"))
    status, error = await admin_api.patch(f"/users/{viewer['id']}", {"role": "agent"})
    assert status == 403
    assert error["error"]["field"] == "max_agents"


async def test_agent_replies_past_the_monthly_message_limit_are_refused(seed, admin_api, set_limits,
                                                                       org_admin, db) -> None:
    conversation = await seed.conversation()
    async with db.transaction() as session:  # the customer wrote: replies are inside the 24-hour window
        session.add(m.Message(conversation_id=uuid.UUID(conversation["id"]), direction="inbound",
                              sender_type="contact", type="text", content={"text": "oi"}, status="delivered"))
    path = f"/conversations/{conversation['id']}/messages"
    await set_limits(org_admin.org_id, monthly_message_limit=2)
    assert (await admin_api.post(path, {"text": "um"}))[0] == 201
    assert (await admin_api.post(path, {"text": "dois"}))[0] == 201
    status, error = await admin_api.post(path, {"text": "três"})
    assert status == 403
    assert error["error"]["code"] == "plan_limit_exceeded"
    assert error["error"]["field"] == "monthly_message_limit"
    _, listed = await admin_api.get(path)
    assert listed["total"] == 3  # the customer's message and the two replies sent


async def test_inbound_messages_do_not_count_against_the_monthly_limit(seed, admin_api, set_limits, db,
                                                                      org_admin) -> None:
    conversation = await seed.conversation()
    async with db.transaction() as session:
        for i in range(3):
            session.add(m.Message(conversation_id=uuid.UUID(conversation["id"]), direction="inbound",
                                  sender_type="contact", type="text", content={"text": f"oi {i}"},
                                  status="delivered"))
    await set_limits(org_admin.org_id, monthly_message_limit=1)
    assert (await admin_api.post(f"/conversations/{conversation['id']}/messages", {"text": "olá"}))[0] == 201
