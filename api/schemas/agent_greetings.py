"""Agent greetings: the message sent when an agent picks a conversation (one per agent)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints

from api.schemas.common import Input, Output, StrictBool

Template = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class AgentGreetingCreate(Input):
    user_id: uuid.UUID
    message_template: Template
    is_active: StrictBool | None = None
    auto_send: StrictBool | None = None


class AgentGreetingUpdate(Input):
    message_template: Template | None = None
    is_active: StrictBool | None = None
    auto_send: StrictBool | None = None


class AgentGreetingOut(Output):
    id: uuid.UUID
    user_id: uuid.UUID
    message_template: str
    is_active: bool | None = None
    auto_send: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
