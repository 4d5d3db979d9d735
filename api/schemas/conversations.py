"""Conversations: filters, assignment/transfer between agents and departments, closing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from api.schemas.common import Input, JsonNumber, Output, StrictBool, TagList, Text, field_error

STATUSES = ("waiting_in_queue", "open", "pending", "assigned", "resolved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
Status = Literal["waiting_in_queue", "open", "pending", "assigned", "resolved", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]


class ConversationCreate(Input):
    contact_id: uuid.UUID
    whatsapp_number_id: uuid.UUID | None = None
    chatbot_id: uuid.UUID | None = None
    department_id: uuid.UUID | None = None
    priority: Priority | None = None
    tags: TagList | None = None
    notes: Text | None = None


class ConversationUpdate(Input):
    status: Literal["open", "pending", "resolved"] | None = None
    priority: Priority | None = None
    tags: TagList | None = None
    notes: Text | None = None
    satisfaction_rating: Annotated[int, Field(ge=1, le=5), JsonNumber] | None = None


class AssignIn(Input):
    """Assign to an agent of the organization."""

    user_id: uuid.UUID


class TransferIn(Input):
    """Move to another department (back to its queue) and/or another agent."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [  # `_target`, as /openapi.json states it
        {"properties": {"department_id": {"type": "string", "format": "uuid"}}, "required": ["department_id"]},
        {"properties": {"user_id": {"type": "string", "format": "uuid"}}, "required": ["user_id"]},
    ]})

    department_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    reason: Text | None = None

    @model_validator(mode="after")
    def _target(self) -> "TransferIn":
        if self.department_id is None and self.user_id is None:
            raise field_error("department_id", "give department_id, user_id or both")
        return self


class ReturnToBotIn(Input):
    """Hand the conversation back to the chatbot: the next customer message runs its rules."""

    reason: Text | None = None


class CloseIn(Input):
    resolved: StrictBool = False  # true: status "resolved" (solved), false: "closed"
    notes: Text | None = None


class ConversationOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID
    contact_id: uuid.UUID
    chatbot_id: uuid.UUID | None = None
    whatsapp_number_id: uuid.UUID | None = None
    status: str | None = None
    department_id: uuid.UUID | None = None
    assigned_to: uuid.UUID | None = None
    assigned_at: datetime | None = None
    entered_queue_at: datetime | None = None
    is_bot_active: bool | None = None
    handoff_at: datetime | None = None
    handoff_reason: str | None = None
    current_flow_id: uuid.UUID | None = None
    last_customer_message_at: datetime | None = None
    twenty_four_hour_window_expires_at: datetime | None = None
    first_message_at: datetime | None = None
    last_message_at: datetime | None = None
    resolved_at: datetime | None = None
    message_count: int | None = None
    tags: list[str] | None = None
    notes: str | None = None
    priority: str | None = None
    satisfaction_rating: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
