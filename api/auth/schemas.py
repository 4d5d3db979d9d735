"""Request and response bodies of the auth routes (pydantic v2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.schemas.common import Email, Name  # checked as sent, as /openapi.json documents them

Password = Annotated[str, Field(min_length=8, max_length=128)]


class _Request(BaseModel):
    """An auth request's body: no text in it holds NUL, which PostgreSQL cannot compare or store (it
    was a 422 naming no field, from the database)."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain the NUL character (U+0000)")
        return value


class SignupRequest(_Request):
    """A new organization and its first user (an org_admin)."""

    model_config = ConfigDict(extra="forbid")

    organization_name: Name
    full_name: Name
    email: Email
    password: Password


class LoginRequest(_Request):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True,
                                            min_length=1, max_length=255)]
    password: Annotated[str, Field(min_length=1, max_length=128)]


class RefreshRequest(_Request):
    model_config = ConfigDict(extra="forbid")

    refresh_token: Annotated[str, Field(min_length=1, max_length=512)]


class LogoutRequest(_Request):
    """``refresh_token`` (optional) is revoked along with the access token."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: Annotated[str | None, Field(default=None, max_length=512)] = None


class UserOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    full_name: str
    role: str
    is_active: bool
    last_login_at: datetime | None = None


class OrganizationSummary(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    plan_type: str


class TokenPair(BaseModel):
    """Credentials: a short-lived access token and a single-use refresh token."""

    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserOut
    organization: OrganizationSummary


class MeOut(BaseModel):
    """The caller: user, organization and the permissions its role holds."""

    user: UserOut
    organization: OrganizationSummary
    permissions: list[str]


class NoContent(BaseModel):
    """Empty body (204)."""
