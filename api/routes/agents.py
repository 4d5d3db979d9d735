"""/agents/me/status: the signed-in agent goes online or away (automatic assignment);
/agents/me/pull: they take the next waiting conversation of their departments themselves.

The live channel (``GET /live``, docs/live.md) drives the same `api.assignment.set_status`
on connect and disconnect; this route is for clients without it.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import document_request, document_response, operation_id, tag

from api.assignment import pull_next
from api.auth.permissions import require
from api.auth.principal import current_principal
from api.context import get_db, get_redis
from api.db.models import Conversation
from api.errors import NotFound, ValidationFailed
from api.live.presence import change_status
from api.resources import load_in_scope, to_out
from api.resources.body import read_body
from api.routes.conversations import resource as conversations
from api.schemas.agents import AgentStatusIn, AgentStatusOut, PullIn, PullOut

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
    # the change is announced to the user's open sockets too
    presence = await change_status(get_db(), get_redis(), principal.user_id, principal.organization_id, data.status)
    if presence is None:
        raise NotFound("user")
    return _out(presence.status, presence.last_seen_at, [a.conversation_id for a in presence.assigned])


@blueprint.post("/agents/me/pull")
@tag(["agents"])
@operation_id("pull_next_conversation")
@document_request(PullIn)
@document_response(PullOut)
@require("conversations:write")
async def pull() -> Any:
    """Take the next waiting conversation of your departments' queues (highest priority, then
    waiting longest) where you may pull from the queue: it is assigned to you at once. Many
    agents pulling together each get a different one; ``conversation`` is null when there is
    none (``departments`` empty: you may pull from no department)."""
    data = await read_body(PullIn)
    principal = current_principal()
    pulled = await pull_next(get_db(), principal.user_id, principal.organization_id, data.department_id)
    if not pulled.departments and data.department_id is not None:
        raise ValidationFailed("department_id", "you may not pull from this department's queue "
                                                "(not your department, or can_pull_from_queue is off)")
    out = PullOut(departments=pulled.departments).model_dump(mode="json")
    if pulled.conversation_id is not None:
        async with get_db().session() as session:
            row = await load_in_scope(session, Conversation, pulled.conversation_id, principal.organization_id,
                                      label="conversation")
            out["conversation"] = to_out(conversations, row)
    return out
