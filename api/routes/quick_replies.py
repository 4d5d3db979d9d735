"""/quick-replies: canned answers for agents (shortcut unique per organization).

A personal quick reply (``is_global`` false) is its author's: other agents and
viewers neither list, read nor change it, as expanding a shortcut in a reply
finds only the organization's global ones and the agent's own
(api/services/quick_reply_expansion.py); admins manage them all. An agent
changes only the quick replies it wrote: a global one an admin (or another
agent) wrote is everyone's to use, not an agent's to rewrite or make personal
(which hid it from every other agent): 403.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_

from api.auth.permissions import allowed
from api.auth.principal import Principal
from api.db.models import QuickReply
from api.errors import Forbidden
from api.resources import DateRange, Equals, Resource, crud_blueprint
from api.schemas.quick_replies import QuickReplyCreate, QuickReplyOut, QuickReplyUpdate


def _manages(principal: Principal) -> bool:
    return allowed(principal.role, "quick_replies:delete")


async def _own_unless_admin(session: Any, principal: Principal, row: QuickReply, values: dict[str, Any]) -> None:
    """An agent changes only what it wrote (the global ones are the organization's)."""
    if not _manages(principal) and row.created_by != principal.user_id:
        raise Forbidden("only its author or an admin may change this quick reply")


def _visible(principal: Principal) -> Any:
    """The global ones and the caller's own, unless the caller manages quick replies."""
    if _manages(principal):
        return None
    return or_(QuickReply.is_global.is_not(False), QuickReply.created_by == principal.user_id)


resource = Resource(
    name="quick_replies",
    label="quick_reply",
    model=QuickReply,
    out=QuickReplyOut,
    path="/quick-replies",
    create=QuickReplyCreate,
    update=QuickReplyUpdate,
    filters=(
        Equals("is_global", QuickReply.is_global, bool),
        Equals("shortcut", QuickReply.shortcut),
        DateRange("created_at", QuickReply.created_at),
    ),
    sorts=("shortcut", "title", "usage_count", "created_at"),
    default_sort="shortcut",
    row_filter=_visible,
    before_update=_own_unless_admin,
)
blueprint = crud_blueprint(resource)
