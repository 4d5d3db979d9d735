"""The signed-in agent's availability for automatic assignment."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from api.schemas.common import Input, Output
from api.schemas.conversations import ConversationOut


class AgentStatusIn(Input):
    """``online``: conversations of your departments' queues may be assigned to you
    (your backlog is assigned at once); ``away``: none are (those you hold stay yours)."""

    status: Literal["online", "away"]


class AgentStatusOut(Output):
    status: Literal["online", "away"]
    last_seen_at: datetime | None = None
    assigned_conversation_ids: list[uuid.UUID] = Field(
        default_factory=list, description="conversations assigned to you by this change")


class PullIn(Input):
    """Pull from one of your departments only (``department_id``), or from all you may pull from."""

    department_id: uuid.UUID | None = None


class PullOut(Output):
    """What "pull next" gave you: the conversation now assigned to you, or null when the
    queues you may pull from are empty (or you may pull from none: ``departments`` is empty)."""

    conversation: ConversationOut | None = None
    departments: list[uuid.UUID] = Field(default_factory=list,
                                         description="the departments pulled from (your can_pull_from_queue ones)")
