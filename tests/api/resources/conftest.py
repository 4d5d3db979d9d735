"""Fixtures for the resource API tests: a small client wrapper and seeded parents.

`Api` wraps the test client for one actor (``await api.post("/tags", {...})``
returns ``(status, json)``); `seed` creates parent rows through the API so
tests exercise the same code paths as users.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import update

from api.db.models import Organization

_numbers = itertools.count(1000)


def unique_digits() -> str:
    return f"55119{next(_numbers):04d}{uuid.uuid4().int % 10_000:04d}"


@dataclass
class Api:
    client: Any
    actor: Any

    async def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        headers = {**self.actor.headers, **kwargs.pop("headers", {})}
        if body is not None:
            kwargs["json"] = body
        response = await getattr(self.client, method)(path, headers=headers, **kwargs)
        data = await response.get_data(as_text=True)
        payload = None
        if data:
            try:
                payload = await response.get_json()
            except Exception:  # noqa: BLE001 - a non-JSON body is returned raw
                payload = data
        return response.status_code, payload

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("get", path, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("post", path, body if body is not None else {}, **kwargs)

    async def patch(self, path: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("patch", path, body, **kwargs)

    async def put(self, path: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("put", path, body, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("delete", path, **kwargs)

    async def created(self, path: str, body: Any) -> dict[str, Any]:
        status, data = await self.post(path, body)
        assert status == 201, (status, data)
        return data


@pytest.fixture
def admin_api(client, org_admin) -> Api:  # noqa: ANN001
    return Api(client, org_admin)


@pytest.fixture
def agent_api(client, agent) -> Api:  # noqa: ANN001
    return Api(client, agent)


@pytest.fixture
def viewer_api(client, viewer) -> Api:  # noqa: ANN001
    return Api(client, viewer)


@pytest.fixture
def other_api(client, other_org_admin) -> Api:  # noqa: ANN001
    return Api(client, other_org_admin)


@pytest.fixture
def set_limits(db):  # noqa: ANN001
    """``await set_limits(org_id, max_contacts=2, ...)``: change an organization's plan limits."""

    async def apply(org_id: uuid.UUID, **limits: int | None) -> None:
        async with db.transaction() as session:
            await session.execute(update(Organization).where(Organization.id == org_id).values(**limits))

    return apply


class Seed:
    """Parents created through the API, for resources that reference them."""

    def __init__(self, api: Api) -> None:
        self.api = api

    @staticmethod
    def digits() -> str:
        return unique_digits()

    async def whatsapp_number(self, **extra: Any) -> dict[str, Any]:
        digits = unique_digits()
        return await self.api.created("/whatsapp-numbers", {"phone_number": "+" + digits,
                                                             "phone_number_id": f"pnid-{digits}", **extra})

    async def chatbot(self, **extra: Any) -> dict[str, Any]:
        return await self.api.created("/chatbots", {"name": f"Bot {uuid.uuid4().hex[:6]}", **extra})

    async def contact(self, **extra: Any) -> dict[str, Any]:
        return await self.api.created("/contacts", {"whatsapp_id": unique_digits(), **extra})

    async def department(self, **extra: Any) -> dict[str, Any]:
        return await self.api.created("/departments", {"name": f"Dept {uuid.uuid4().hex[:6]}", **extra})

    async def conversation(self, **extra: Any) -> dict[str, Any]:
        if "contact_id" not in extra:
            extra["contact_id"] = (await self.contact())["id"]
        return await self.api.created("/conversations", extra)

    async def template(self, **extra: Any) -> dict[str, Any]:
        return await self.api.created("/templates", {"name": f"tpl_{uuid.uuid4().hex[:6]}",
                                                     "body_text": "Olá {{1}}", **extra})

    async def flow(self, **extra: Any) -> dict[str, Any]:
        if "chatbot_id" not in extra:
            extra["chatbot_id"] = (await self.chatbot())["id"]
        return await self.api.created("/flows", {"name": f"flow {uuid.uuid4().hex[:6]}", **extra})

    async def webhook(self, **extra: Any) -> dict[str, Any]:
        return await self.api.created("/webhooks", {"name": "hook", "url": "https://example.com/hook",
                                                    "events": ["message.received"], **extra})


@pytest.fixture
async def seed(admin_api: Api, set_limits, org_admin) -> Seed:  # noqa: ANN001
    # generous limits so seeding never trips a plan limit (plan-limit tests lower them)
    await set_limits(org_admin.org_id, max_chatbots=50, max_whatsapp_numbers=50, max_contacts=1000,
                     max_agents=50, max_departments=50, monthly_message_limit=1000)
    return Seed(admin_api)


@pytest.fixture
async def other_seed(other_api: Api, set_limits, other_org_admin) -> Seed:  # noqa: ANN001
    await set_limits(other_org_admin.org_id, max_chatbots=50, max_whatsapp_numbers=50, max_contacts=1000,
                     max_agents=50, max_departments=50, monthly_message_limit=1000)
    return Seed(other_api)

