"""Quick replies: canned answers agents insert with a shortcut such as ``/preco``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints

from api.schemas.common import HttpUrl, Input, Name, Output, StrictBool

Shortcut = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^/?[\w-]{1,49}$")]
MediaType = Literal["image", "video", "audio", "document"]


class QuickReplyCreate(Input):
    shortcut: Shortcut
    title: Name
    content: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    media_url: HttpUrl | None = None
    media_type: MediaType | None = None
    is_global: StrictBool | None = None


class QuickReplyUpdate(Input):
    shortcut: Shortcut | None = None
    title: Name | None = None
    content: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    media_url: HttpUrl | None = None
    media_type: MediaType | None = None
    is_global: StrictBool | None = None


class QuickReplyOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID
    shortcut: str
    title: str
    content: str
    media_url: str | None = None
    media_type: str | None = None
    usage_count: int | None = None
    is_global: bool | None = None
    created_by: uuid.UUID | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
