"""Flows of a chatbot, their canvas (saved and compiled) and published versions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, create_model
from pydantic.json_schema import SkipJsonSchema

from api.schemas.common import Input, JsonNumber, JsonObject, Keyword, Name, Output, StrictBool, Text

FlowType = Literal["main", "sub", "template"]
TriggerType = Literal["keyword", "event", "schedule", "webhook"]
Keywords = Annotated[list[Keyword], Field(max_length=100)]


class FlowCreate(Input):
    chatbot_id: uuid.UUID
    name: Name
    description: Text | None = None
    whatsapp_number_id: uuid.UUID | None = None
    type: FlowType | None = None
    trigger_type: TriggerType | None = None
    trigger_keywords: Keywords | None = None
    trigger_conditions: JsonObject | None = None
    is_active: StrictBool | None = None


class FlowUpdate(Input):
    name: Name | None = None
    description: Text | None = None
    whatsapp_number_id: uuid.UUID | None = None
    type: FlowType | None = None
    trigger_type: TriggerType | None = None
    trigger_keywords: Keywords | None = None
    trigger_conditions: JsonObject | None = None
    is_active: StrictBool | None = None


class FlowOut(Output):
    id: uuid.UUID
    chatbot_id: uuid.UUID
    whatsapp_number_id: uuid.UUID | None = None
    name: str
    description: str | None = None
    type: str | None = None
    trigger_type: str | None = None
    trigger_keywords: list[str] | None = None
    trigger_conditions: JsonObject | None = None
    is_active: bool | None = None
    version: Annotated[int, Field(ge=1, le=2_147_483_647), JsonNumber] | None = None  # an INTEGER column
    canvas_data: Any = None
    created_by: uuid.UUID | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class CanvasIn(Input):
    """The React Flow object: ``{"nodes": [...], "edges": [...], "viewport": {...}}``.

    The body may also be the canvas itself (without the ``canvas`` wrapper).
    """

    canvas: Any
    publish: StrictBool = False  # also make this version live at once


class DiagnosticOut(Output):
    code: str
    severity: Literal["error", "warning"]
    node_id: str | None = None
    path: str | None = None
    message: str
    hint: str | None = None


class CanvasSaved(Output):
    """The saved flow and the compiler's warnings (errors are a 422 with diagnostics)."""

    flow: FlowOut
    diagnostics: list[DiagnosticOut]
    version: Annotated[int, Field(ge=1, le=2_147_483_647), JsonNumber] | None = None  # an INTEGER column
    program_hash: str | None = None
    created: bool = True  # False when the canvas was identical to the latest saved version
    published: bool = False  # True when the save also made the version live


class LintIn(Input):
    """A canvas to check without saving it. With ``flow_id``, a ``jump`` may only
    name flows of that flow's chatbot, a handoff's department and a message's template
    are looked up in its organization (as a save checks)."""

    canvas_data: Any
    flow_id: uuid.UUID | None = None


class LintOut(Output):
    """Every diagnostic of the canvas, errors and warnings (empty: it compiles cleanly)."""

    diagnostics: list[DiagnosticOut]


class FlowVersionOut(Output):
    id: uuid.UUID
    flow_id: uuid.UUID
    version: int
    program_hash: str
    compiled_at: datetime
    created_by: uuid.UUID | None = None
    published_at: datetime | None = None  # last time this version was made live
    published_by: uuid.UUID | None = None
    current: bool = False  # the version the runtime starts new conversations on


class FlowVersionDetail(FlowVersionOut):
    canvas: Any = None


class PublishIn(Input):
    """Publish the flow: optionally pin (or roll back to) an earlier ``version``."""

    version: Annotated[int, Field(ge=1, le=2_147_483_647), JsonNumber] | None = None  # an INTEGER column


class SimulatedMessage(Input):
    """What the simulated customer sends: typed ``text`` and/or a tapped button/row ``reply_id``."""

    text: Annotated[str, StringConstraints(max_length=4096)] | None = None
    reply_id: Annotated[str, StringConstraints(max_length=256)] | None = None


class SimulateIn(Input):
    """One step of a dry run. No ``session``: start the flow. ``canvas`` defaults to the saved draft."""

    canvas: Any = None
    message: SimulatedMessage | None = None
    timeout: StrictBool = False  # fire the waiting question's timeout now
    session: JsonObject | None = None  # as returned by the previous step


class SimulateOut(Output):
    status: Literal["waiting", "ended", "handoff", "error"]
    messages: list[JsonObject]
    trace: list[JsonObject]
    current_node: str | None = None
    variables: JsonObject
    contact: JsonObject
    handoff: JsonObject | None = None
    session: JsonObject


class FlowRunProblem(Output):
    """A failure of the live flow for one customer message: the node and what went wrong."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    at: datetime
    kind: Literal["error", "failed_call"]
    node: str | None = None
    event: str | None = None  # the engine's event: error, api_called, ai_called
    message: str


class FlowRunProblems(Output):
    """The flow's recent failures (last 30 days), newest first."""

    items: list[FlowRunProblem]



def _param(annotation: Any, description: str) -> tuple[Any, Any]:
    """A query parameter that may be left out (documented as its type alone)."""
    return (annotation | SkipJsonSchema[None],
            Field(None, description=description, json_schema_extra=lambda schema: schema.pop("default", None)))


# GET /flows/{id}/analytics's query string (``from`` is a Python keyword: a built model)
FlowAnalyticsQuery = create_model(
    "FlowAnalyticsQuery",
    version=_param(Annotated[int, Field(ge=1, le=2_147_483_647)], "the flow version (default: the live one)"),
    **{"from": _param(datetime, "ISO 8601 date/datetime: hour buckets at or after this"),
       "to": _param(datetime, "ISO 8601 date/datetime: hour buckets before this")},
)


class FlowNodeCount(Output):
    node_id: str
    count: int = Field(description="times a run entered the node")


class FlowEdgeCount(Output):
    source: str = Field(description="the node the run left")
    handle: str | None = Field(description="the source's exit handle (null: its default exit)")
    target: str = Field(description="the node the run entered next")
    count: int


class FlowDropOff(Output):
    node_id: str
    reason: Literal["timeout", "error", "idle"] = Field(
        description="timeout: the question's wait ran out; error: the run ended in an error here; "
                    "idle: still waiting here with no activity for 24 hours")
    count: int


FlowAnalytics = create_model(
    "FlowAnalytics",
    __base__=Output,
    __doc__="How the runs of one flow version went through it (docs/analytics.md).",
    flow_id=(uuid.UUID, ...),
    version=(int, ...),
    nodes=(list[FlowNodeCount], ...),
    edges=(list[FlowEdgeCount], ...),
    drop_off=(list[FlowDropOff], ...),
    **{"from": (datetime | None, ...), "to": (datetime | None, ...)},
)
