"""/agent-greetings: each agent's greeting message (one per agent)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.principal import Principal
from api.db.models import AgentGreeting, User
from api.errors import Forbidden
from api.resources import Equals, Resource, crud_blueprint
from api.schemas.agent_greetings import AgentGreetingCreate, AgentGreetingOut, AgentGreetingUpdate



def _own_only(principal: Principal, user_id: uuid.UUID) -> None:
    """Agents may write their own greeting only; admins write anyone's."""
    if principal.role == "agent" and user_id != principal.user_id:
        raise Forbidden("agents can only manage their own greeting")


async def _before_create(session: AsyncSession, principal: Principal, values: dict[str, Any]) -> None:
    _own_only(principal, values["user_id"])


async def _before_update(session: AsyncSession, principal: Principal, row: AgentGreeting,
                         values: dict[str, Any]) -> None:
    _own_only(principal, row.user_id)


resource = Resource(
    name="agent_greetings",
    label="agent_greeting",
    model=AgentGreeting,
    out=AgentGreetingOut,
    path="/agent-greetings",
    create=AgentGreetingCreate,
    update=AgentGreetingUpdate,
    filters=(
        Equals("user_id", AgentGreeting.user_id, uuid.UUID),
        Equals("is_active", AgentGreeting.is_active, bool),
    ),
    sorts=("created_at", "updated_at"),
    references={"user_id": User},
    before_create=_before_create,
    before_update=_before_update,
)
blueprint = crud_blueprint(resource)
