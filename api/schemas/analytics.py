"""Analytics snapshots (`GET /analytics/snapshots`): an organization's figures per period."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, create_model
from pydantic.json_schema import SkipJsonSchema

from api.schemas.common import Output

Period = Literal["hour", "day", "week", "month"]


def _param(annotation: Any, description: str) -> tuple[Any, Any]:
    return (annotation | SkipJsonSchema[None],
            Field(None, description=description, json_schema_extra=lambda schema: schema.pop("default", None)))


# ``from`` is a Python keyword: a built model
SnapshotQuery = create_model(
    "SnapshotQuery",
    period=_param(Period, "hour, day (default), week (from Monday) or month, in the organization's timezone"),
    **{"from": _param(datetime, "ISO 8601: periods starting at or after this"),
       "to": _param(datetime, "ISO 8601: periods starting before this")},
)


class SnapshotConversations(Output):
    total: int = Field(description="created in the period or with a message in it")
    new: int
    resolved: int
    open: int = Field(description="open at the period's end")
    avg_resolution_time: float | None = Field(description="seconds from creation to resolution")


class SnapshotMessages(Output):
    total: int
    inbound: int
    outbound: int
    by_type: dict[str, int]


class SnapshotContacts(Output):
    total: int = Field(description="existing at the period's end")
    new: int
    active: int = Field(description="wrote a message in the period")


class SnapshotChatbots(Output):
    total_executions: int = Field(description="flow runs started")
    completion_rate: float | None = Field(description="runs ended per run started (0 to 1)")
    avg_completion_time: float | None = Field(description="seconds, of the runs that ended")
    handoff_rate: float | None = Field(description="runs handed to agents per run started (0 to 1)")
    # snapshots computed before AI usage was counted lack these: 0
    ai_calls: int = Field(0, description="ai_prompt calls of the flow runs")
    ai_prompt_tokens: int = Field(0, description="prompt (input) tokens the AI providers reported")
    ai_completion_tokens: int = Field(0, description="completion (output) tokens the AI providers reported")
    ai_tokens: int = Field(0, description="tokens in all the AI providers reported")


class SnapshotAgents(Output):
    total: int = Field(description="active agent users now")
    active: int = Field(description="agents who sent a message in the period")
    avg_response_time: float | None = Field(description="seconds from a customer's message to an agent's reply")
    conversations_per_agent: float | None


class Snapshot(Output):
    period: Period
    start: datetime
    end: datetime
    timezone: str
    conversations: SnapshotConversations
    messages: SnapshotMessages
    contacts: SnapshotContacts
    chatbots: SnapshotChatbots
    agents: SnapshotAgents
    computed_at: datetime


class SnapshotList(Output):
    """The stored snapshots, oldest first (at most 1000)."""

    items: list[Snapshot]
