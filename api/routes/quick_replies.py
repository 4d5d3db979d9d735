"""/quick-replies: canned answers for agents (shortcut unique per organization)."""

from __future__ import annotations

from api.db.models import QuickReply
from api.resources import DateRange, Equals, Resource, crud_blueprint
from api.schemas.quick_replies import QuickReplyCreate, QuickReplyOut, QuickReplyUpdate

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
)
blueprint = crud_blueprint(resource)
