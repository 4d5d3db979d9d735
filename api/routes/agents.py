"""/agents/me/status: the signed-in agent goes online or away (automatic assignment).

The live channel (``GET /live``, docs/live.md) drives the same `api.assignment.set_status`
on connect and disconnect; this route is for clients without it.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import document_request, document_response, operation_id, tag

from api.assignment import set_status
from api.auth.permissions import require
from api.auth.principal import current_principal
from api.context import get_db, get_redis
from api.errors import NotFound
from api.resources.body import read_body
from api.schemas.agents import AgentStatusIn, AgentStatusOut

blueprint = Blueprint("agents", __name__)

_READ = "SELECT is_online, last_seen_at FROM users WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL"


def _out(status: str, last_seen_at: Any, assigned: list[Any] | None = None) -> dict[str, Any]:
    return AgentStatusOut(status=status, last_seen_at=last_seen_at,
                          assigned_conversation_ids=assigned or []).model_dump(mode="json")


@blueprint.get("/agents/me/status")
@tag(["agents"])
@operation_id("get_my_agent_status")
@document_response(AgentStatusOut)
@require("conversations:write")
async def get_status() -> Any:
    """Whether you are online for automatic assignment."""
    principal = current_principal()
    async with get_db().raw() as conn:
        row = await conn.fetchrow(_READ, principal.user_id, principal.organization_id)
    if row is None:
        raise NotFound("user")
    return _out("online" if row["is_online"] else "away", row["last_seen_at"])


@blueprint.post("/agents/me/status")
@tag(["agents"])
@operation_id("set_my_agent_status")
@document_request(AgentStatusIn)
@document_response(AgentStatusOut)
@require("conversations:write")
async def post_status() -> Any:
    """Go online (your departments' waiting conversations may be assigned to you, at
    once if you have room) or away (no new ones)."""
    data = await read_body(AgentStatusIn)
    principal = current_principal()
    presence = await set_status(get_db(), get_redis(), principal.user_id, principal.organization_id, data.status)
    if presence is None:
        raise NotFound("user")
    return _out(presence.status, presence.last_seen_at, [a.conversation_id for a in presence.assigned])
