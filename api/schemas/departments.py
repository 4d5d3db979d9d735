"""Departments (agent queues) and the agents that belong to them (`user_departments`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from api.schemas.business_hours import BusinessHours
from api.schemas.common import HexColor, Input, JsonObject, Name, Output, StrictBool, Text

Strategy = Literal["round_robin", "load_balance", "priority"]
QueueSize = Annotated[int, Field(ge=1, le=100_000)]


class DepartmentCreate(Input):
    name: Name
    description: Text | None = None
    color: HexColor | None = None
    whatsapp_number_id: uuid.UUID | None = None
    auto_assign_enabled: StrictBool | None = None
    assignment_strategy: Strategy | None = None
    max_queue_size: QueueSize | None = None
    business_hours: BusinessHours | None = None
    is_active: StrictBool | None = None


class DepartmentUpdate(Input):
    name: Name | None = None
    description: Text | None = None
    color: HexColor | None = None
    whatsapp_number_id: uuid.UUID | None = None
    auto_assign_enabled: StrictBool | None = None
    assignment_strategy: Strategy | None = None
    max_queue_size: QueueSize | None = None
    business_hours: BusinessHours | None = None
    is_active: StrictBool | None = None


class DepartmentOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    description: str | None = None
    color: str | None = None
    whatsapp_number_id: uuid.UUID | None = None
    auto_assign_enabled: bool | None = None
    assignment_strategy: str | None = None
    max_queue_size: int | None = None
    business_hours: JsonObject | None = None
    is_active: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


Concurrent = Annotated[int, Field(ge=1, le=1000)]
PriorityLevel = Annotated[int, Field(ge=0, le=1000)]


class DepartmentAgentCreate(Input):
    user_id: uuid.UUID
    is_primary: StrictBool | None = None
    can_pull_from_queue: StrictBool | None = None
    max_concurrent_conversations: Concurrent | None = None
    priority_level: PriorityLevel | None = None


class DepartmentAgentUpdate(Input):
    is_primary: StrictBool | None = None
    can_pull_from_queue: StrictBool | None = None
    max_concurrent_conversations: Concurrent | None = None
    priority_level: PriorityLevel | None = None


class DepartmentAgentOut(Output):
    user_id: uuid.UUID
    department_id: uuid.UUID
    is_primary: bool | None = None
    can_pull_from_queue: bool | None = None
    max_concurrent_conversations: int | None = None
    priority_level: int | None = None
    created_at: datetime | None = None
