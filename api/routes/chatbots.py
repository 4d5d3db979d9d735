"""/chatbots: chatbots (AI key encrypted, never returned)."""

from __future__ import annotations

from api.db.models import Chatbot
from api.resources import DateRange, Equals, Resource, SecretField, crud_blueprint
from api.schemas.chatbots import ChatbotCreate, ChatbotOut, ChatbotUpdate

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
)
blueprint = crud_blueprint(resource)
