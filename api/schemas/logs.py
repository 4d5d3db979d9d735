"""The log store's answers (docs/logs.md): message logs, conversation sessions, webhook and API request logs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from api.schemas.common import Output


class StatusEntry(Output):
    status: str
    timestamp: str | None = None
    error: str | None = None


class MessageLogOut(Output):
    message_id: uuid.UUID
    organization_id: uuid.UUID
    conversation_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    direction: str | None = None
    sender_type: str | None = None
    type: str | None = None
    content: dict[str, Any] | None = None
    text: str | None = None
    whatsapp_message_id: str | None = None
    whatsapp_metadata: dict[str, Any] | None = None
    status: str | None = None
    status_history: list[StatusEntry] = []
    created_at: datetime
    indexed_at: datetime | None = None


class FlowStep(Output):
    node_id: str | None = None
    node_type: str | None = None
    timestamp: str | None = None


class AIInteraction(Output):
    node_id: str | None = None
    provider: str | None = None
    model: str | None = None
    ok: bool | None = None
    error: str | None = None
    prompt: str | None = None
    response: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_used: int | None = None
    latency_ms: int | None = None
    timestamp: str | None = None


class AIUsage(Output):
    """AI calls and the tokens their providers reported (calls without usage count as calls only)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_used: int = 0


class ConversationSessionOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID
    conversation_id: uuid.UUID
    contact_id: uuid.UUID | None = None
    session_start: datetime
    session_end: datetime | None = None
    duration_seconds: int | None = None
    message_count: int
    bot_message_count: int
    human_message_count: int
    flow_path: list[FlowStep] = []
    ai_prompts: list[AIInteraction] = []
    ai_usage: AIUsage = AIUsage()
    handoff_occurred: bool
    handoff_reason: str | None = None
    handoff_timestamp: datetime | None = None
    agent_id: uuid.UUID | None = None
    resolved: bool | None = None
    resolution_time_seconds: int | None = None
    satisfaction_rating: int | None = None
    outcome: str | None = None
    created_at: datetime | None = None


class WebhookLogOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID
    webhook_id: uuid.UUID
    delivery_id: uuid.UUID | None = None
    event_type: str | None = None
    url: str | None = None
    method: str | None = None
    headers: dict[str, Any] | None = None
    payload: Any = None
    status_code: int | None = None
    response_headers: dict[str, Any] | None = None
    response_body: str | None = None
    response_time_ms: int | None = None
    success: bool
    error_message: str | None = None
    attempt_number: int | None = None
    created_at: datetime


class ApiRequestLogOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    method: str
    path: str
    query_params: dict[str, Any] | None = None
    headers: dict[str, Any] | None = None
    body: Any = None
    status_code: int
    response_time_ms: float | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    success: bool
    error_message: str | None = None
    created_at: datetime


class LogPage(Output):
    """A page of logs, newest first; ``next_before``: pass it as ``before`` for the next page
    (null: this was the last)."""

    next_before: datetime | None = None


class MessageLogPage(LogPage):
    items: list[MessageLogOut]


class ConversationLogOut(Output):
    conversation_id: uuid.UUID
    sessions: list[ConversationSessionOut]
    ai_usage: AIUsage = AIUsage()  # every session's AI calls


class WebhookLogPage(LogPage):
    items: list[WebhookLogOut]


class ApiRequestLogPage(LogPage):
    items: list[ApiRequestLogOut]
