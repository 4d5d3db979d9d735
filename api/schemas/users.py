"""Users of an organization (managed by its org_admin). Passwords are write-only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints

from api.schemas.common import Email, HttpUrl, Input, JsonObject, Name, Output, Phone, StrictBool

# super_admin is a platform role: never granted through an organization's API
AssignableRole = Literal["org_admin", "agent", "viewer"]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]


class UserCreate(Input):
    email: Email
    password: Password
    full_name: Name
    role: AssignableRole = "agent"
    phone_number: Phone | None = None
    avatar_url: HttpUrl | None = None
    is_active: StrictBool | None = None
    preferences: JsonObject | None = None


class UserUpdate(Input):
    email: Email | None = None
    password: Password | None = None
    full_name: Name | None = None
    role: AssignableRole | None = None
    phone_number: Phone | None = None
    avatar_url: HttpUrl | None = None
    is_active: StrictBool | None = None
    preferences: JsonObject | None = None


class UserOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    full_name: str
    role: str | None = None
    phone_number: str | None = None
    avatar_url: str | None = None
    is_active: bool | None = None
    is_online: bool | None = None
    email_verified: bool | None = None
    last_seen_at: datetime | None = None
    last_login_at: datetime | None = None
    preferences: JsonObject | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
