"""/chatbots: chatbots (AI key encrypted, never returned).

A chatbot whose AI is enabled (``ai_enabled``: api/conversations/chatbot_ai.py) must say
which provider and model answer for it: ``ai_provider`` and ``ai_model`` are required
then (a 422 naming the missing one), on create and on any update that leaves it enabled."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.principal import Principal
from api.db.models import Chatbot
from api.errors import ValidationFailed
from api.resources import DateRange, Equals, Resource, SecretField, crud_blueprint
from api.schemas.chatbots import ChatbotCreate, ChatbotOut, ChatbotUpdate

def _ai_complete(enabled: Any, provider: Any, model: Any) -> None:
    if enabled is not True:
        return
    if not provider:
        raise ValidationFailed("ai_provider", "required while ai_enabled is true: the provider of the chatbot's AI "
                                              "(openai or anthropic)")
    if not model:
        raise ValidationFailed("ai_model", "required while ai_enabled is true: the model of the chatbot's AI")


async def _before_create(session: AsyncSession, principal: Principal, values: dict[str, Any]) -> None:
    _ai_complete(values.get("ai_enabled"), values.get("ai_provider"), values.get("ai_model"))


async def _before_update(session: AsyncSession, principal: Principal, row: Chatbot, values: dict[str, Any]) -> None:
    _ai_complete(*(values[f] if f in values else getattr(row, f) for f in ("ai_enabled", "ai_provider", "ai_model")))


resource = Resource(
    name="chatbots",
    label="chatbot",
    model=Chatbot,
    out=ChatbotOut,
    path="/chatbots",
    create=ChatbotCreate,
    update=ChatbotUpdate,
    filters=(
        Equals("is_active", Chatbot.is_active, bool),
        Equals("is_published", Chatbot.is_published, bool),
        Equals("ai_enabled", Chatbot.ai_enabled, bool),
        DateRange("created_at", Chatbot.created_at),
    ),
    sorts=("name", "created_at", "updated_at"),
    secrets=(SecretField("ai_api_key", "ai_api_key_encrypted", "has_ai_api_key"),),
    credential_columns=("settings",),  # credential-named keys only for chatbots:write
    plan_limit="max_chatbots",
    before_create=_before_create,
    before_update=_before_update,
)
blueprint = crud_blueprint(resource)
