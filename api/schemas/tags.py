"""Tags: an organization's labels for contacts and conversations (names unique per org)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from api.schemas.common import HexColor, Input, Output, Tag, Text


class TagCreate(Input):
    name: Tag
    color: HexColor | None = None
    description: Text | None = None


class TagUpdate(Input):
    name: Tag | None = None
    color: HexColor | None = None
    description: Text | None = None


class TagOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    color: str | None = Field(None, examples=["#3B82F6"])
    description: str | None = None
    created_at: datetime | None = None
