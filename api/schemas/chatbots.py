"""Chatbots. The AI provider key is write-only (``ai_api_key`` in, ``has_ai_api_key`` out)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from api.schemas.business_hours import BusinessHours
from api.schemas.common import HttpUrl, Input, JsonNumber, JsonObject, Keyword, Name, Output, StrictBool, Text, hundredths

# the providers PyTake's AI port speaks (SCHEMA.md also names "google": not available)
Provider = Literal["openai", "anthropic"]
Temperature = Annotated[float, Field(ge=0, le=2, description="rounded to two decimal places"), JsonNumber,
                        AfterValidator(hundredths)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class ChatbotFields(Input):
    description: Text | None = None
    avatar_url: HttpUrl | None = None
    is_active: StrictBool | None = None
    welcome_message: Text | None = None
    fallback_message: Text | None = None
    away_message: Text | None = None
    ai_enabled: StrictBool | None = None
    ai_provider: Provider | None = None
    ai_model: Annotated[str, StringConstraints(max_length=100)] | None = None
    ai_api_key: Secret | None = None
    ai_system_prompt: Text | None = None
    ai_temperature: Temperature | None = None
    auto_handoff_enabled: StrictBool | None = None
    handoff_keywords: Annotated[list[Keyword], Field(max_length=100)] | None = None
    business_hours: BusinessHours | None = None
    settings: JsonObject | None = None


class ChatbotCreate(ChatbotFields):
    name: Name


class ChatbotUpdate(ChatbotFields):
    name: Name | None = None


class ChatbotOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    description: str | None = None
    avatar_url: str | None = None
    is_active: bool | None = None
    is_published: bool | None = None
    welcome_message: str | None = None
    fallback_message: str | None = None
    away_message: str | None = None
    ai_enabled: bool | None = None
    ai_provider: str | None = None
    ai_model: str | None = None
    has_ai_api_key: bool
    ai_system_prompt: str | None = None
    ai_temperature: float | None = None
    auto_handoff_enabled: bool | None = None
    handoff_keywords: list[str] | None = None
    business_hours: JsonObject | None = None
    settings: JsonObject | None = None
    statistics: JsonObject | None = None
    created_by: uuid.UUID | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
