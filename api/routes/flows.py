"""/flows: a chatbot's flows; saving the canvas compiles it into a draft; publishing makes a version live."""

from __future__ import annotations

import uuid
from typing import Any

from quart import request
from quart_schema import document_querystring, document_request, document_response, operation_id, tag
from sqlalchemy import func, select

from api.audit import record_audit
from api.auth.permissions import require
from api.auth.principal import current_principal
from api.context import get_db, get_redis, get_settings
from api.db.models import Chatbot, Flow, FlowVersion, WhatsAppNumber
from api.errors import ApiError, Conflict, NotFound, ValidationFailed
from api.resources import (
    DateRange,
    Equals,
    Page,
    Resource,
    crud_blueprint,
    flush,
    list_items,
    load_in_scope,
    org_id,
    scoped_select,
    to_out,
    writing,
)
from api.resources.body import read_body, read_json
from api.resources.crud import list_query_model
from api.resources.filters import parse_datetime
from api.schemas.flows import (
    CanvasIn,
    CanvasSaved,
    FlowAnalytics,
    FlowAnalyticsQuery,
    FlowCreate,
    FlowOut,
    FlowUpdate,
    FlowVersionDetail,
    FlowRunProblems,
    FlowVersionOut,
    LintIn,
    LintOut,
    PublishIn,
    SimulateIn,
    SimulateOut,
)
from api.services.flow_run_problems import recent_problems
from api.services.flow_versions import (chatbot_flows, known_departments, known_flows, known_templates,
                                        publish_version, save_canvas)

resource = Resource(
    name="flows",
    label="flow",
    model=Flow,
    out=FlowOut,
    path="/flows",
    create=FlowCreate,
    update=FlowUpdate,
    filters=(
        Equals("chatbot_id", Flow.chatbot_id, uuid.UUID),
        Equals("whatsapp_number_id", Flow.whatsapp_number_id, uuid.UUID),
        Equals("type", Flow.type, choices=("main", "sub", "template")),
        Equals("trigger_type", Flow.trigger_type, choices=("keyword", "event", "schedule", "webhook")),
        Equals("is_active", Flow.is_active, bool),
        DateRange("created_at", Flow.created_at),
    ),
    sorts=("name", "created_at", "updated_at"),
    default_sort="name",
    references={"chatbot_id": Chatbot, "whatsapp_number_id": WhatsAppNumber},
)
blueprint = crud_blueprint(resource)

versions_resource = Resource(
    name="flows",
    label="flow_version",
    model=FlowVersion,
    out=FlowVersionOut,
    path="/flows/<uuid:item_id>/versions",
    sorts=("version", "compiled_at"),
    default_sort="-version",
)


def _diagnostic(d: Any) -> dict[str, Any]:
    return {name: getattr(d, name, None) for name in ("code", "severity", "node_id", "path", "message", "hint")}


def _canvas_from(body: Any) -> tuple[Any, bool]:
    """The canvas, sent bare or wrapped as ``{"canvas": ..., "publish": bool}``,
    and whether to publish it at once."""
    publish: Any = False
    if isinstance(body, dict) and "nodes" not in body and ("canvas" in body or "publish" in body):
        publish = body.get("publish", False)
        body = body.get("canvas")
    if type(publish) is not bool:
        raise ValidationFailed("publish", "publish must be a JSON boolean")
    return body, publish


@blueprint.post("/flows/lint")
@tag(["flows"])
@operation_id("lint_flow_canvas")
@document_request(LintIn)
@document_response(LintOut)
@require("flows:read")
async def lint_flow_canvas() -> Any:
    """Check a canvas with the compiler without saving anything (the editor's live diagnostics).

    Answers 200 with every diagnostic, whatever their severity; 404 when ``flow_id``
    is not a flow of the caller's organization.
    """
    from compiler import lint_canvas

    data = await read_body(LintIn)
    names = departments = templates = flows = None
    own: set[str] = set()
    if data.flow_id is not None:
        async with get_db().session() as session:
            flow = await load_in_scope(session, Flow, data.flow_id, org_id(), label="flow")
            names = await known_flows(session, flow.chatbot_id)
            departments = await known_departments(session, flow.chatbot_id)
            templates = await known_templates(session, flow.chatbot_id)
            flows, own = await chatbot_flows(session, flow)
    canvas, _ = _canvas_from(data.canvas_data)
    diagnostics = lint_canvas(canvas, known_flows=names, known_departments=departments, known_templates=templates,
                              flows=flows, names=own)
    return {"diagnostics": [_diagnostic(d) for d in diagnostics]}


@blueprint.put("/flows/<uuid:item_id>/canvas")
@tag(["flows"])
@operation_id("save_flow_canvas")
@document_request(CanvasIn)
@document_response(CanvasSaved)
@require("flows:write")
async def save_flow_canvas(item_id: uuid.UUID) -> Any:
    """Compile and save the canvas as the flow's next **draft** version.

    Customers keep getting the published version until ``POST /flows/{id}/publish``;
    ``"publish": true`` in the body saves and publishes at once.
    Errors: 422 ``invalid_canvas`` with every diagnostic in ``details``, and
    nothing saved. Warnings come back with the saved flow.
    """
    canvas, publish = _canvas_from(await read_json())
    principal = current_principal()
    async with writing("flow") as session:
        flow = await load_in_scope(session, Flow, item_id, principal.organization_id, label="flow", for_update=True)
        before_version = flow.version
        result = await save_canvas(session, flow, canvas, principal.user_id, publish=publish)
        diagnostics = [_diagnostic(d) for d in result.diagnostics]
        if not result.ok:
            errors = [d for d in diagnostics if d["severity"] == "error"]
            details = [{"field": d["path"] or "canvas", **d} for d in diagnostics]
            raise ApiError(422, "invalid_canvas",
                           f"the canvas has {len(errors)} error(s); nothing was saved",
                           field="canvas", details=details)
        flow_out = to_out(resource, result.flow)
        if result.created:
            await record_audit(session, "flow.canvas_saved", "flow", flow.id,
                               before={"version": before_version},
                               after={"version": result.version, "program_hash": result.program_hash})
        if result.published:
            await record_audit(session, "flow.published", "flow", flow.id,
                               before={"version": before_version}, after={"version": result.version})
    return {"flow": flow_out, "diagnostics": diagnostics, "version": result.version,
            "program_hash": result.program_hash, "created": result.created, "published": result.published}


@blueprint.post("/flows/<uuid:item_id>/publish")
@tag(["flows"])
@operation_id("publish_flow")
@document_request(PublishIn)
@document_response(FlowOut)
@require("flows:write")
async def publish_flow(item_id: uuid.UUID) -> Any:
    """Make a version live: the flow active, its chatbot published, new conversations on
    ``version`` (default: the latest saved draft). An earlier version rolls back.

    A flow with no compiled version (its canvas never saved) cannot be published (409).
    """
    data = await read_body(PublishIn)
    principal = current_principal()
    async with writing("flow") as session:
        flow = await load_in_scope(session, Flow, item_id, principal.organization_id, label="flow", for_update=True)
        before = to_out(resource, flow)
        target = data.version
        if target is None:
            target = (await session.execute(select(func.max(FlowVersion.version))
                                            .where(FlowVersion.flow_id == flow.id))).scalar_one_or_none()
            if target is None:
                raise Conflict("save a canvas that compiles before publishing", field="canvas")
        if await publish_version(session, flow, target, principal.user_id) is None:
            raise ValidationFailed("version", f"flow has no version {target}")
        flow.is_active = True
        chatbot = (await session.execute(
            select(Chatbot).where(Chatbot.id == flow.chatbot_id).with_for_update())).scalar_one()
        chatbot.is_published = True
        chatbot.updated_at = func.now()
        await flush(session, flow)
        after = to_out(resource, flow)
        await record_audit(session, "flow.published", "flow", flow.id, before=before, after=after)
    return after


@blueprint.get("/flows/<uuid:item_id>/versions")
@tag(["flows"])
@operation_id("list_flow_versions")
@document_querystring(list_query_model("FlowVersionsListQuery", versions_resource.filters, versions_resource.sorts,
                                       versions_resource.default_sort))
@document_response(Page[FlowVersionOut])
@require("flows:read")
async def list_flow_versions(item_id: uuid.UUID) -> Any:
    """The flow's compiled versions, newest first, with who saved and who published each;
    ``current`` marks the live one (newer ones are drafts)."""
    async with get_db().session() as session:
        flow = await load_in_scope(session, Flow, item_id, org_id(), label="flow")
        current = flow.version
    base = scoped_select(FlowVersion, org_id()).where(FlowVersion.flow_id == item_id)
    page = await list_items(versions_resource, base)
    for item in page["items"]:
        item["current"] = item["version"] == current and item["published_at"] is not None
    return page


@blueprint.get("/flows/<uuid:item_id>/versions/<int:version>")
@tag(["flows"])
@operation_id("get_flow_version")
@document_response(FlowVersionDetail)
@require("flows:read")
async def get_flow_version(item_id: uuid.UUID, version: int) -> Any:
    """One version with its canvas (to review or restore an earlier version in the editor)."""
    async with get_db().session() as session:
        flow = await load_in_scope(session, Flow, item_id, org_id(), label="flow")
        if not 1 <= version <= 2**31 - 1:  # the column's range: past it, no version (not a query error)
            raise NotFound("flow_version")
        row = (await session.execute(select(FlowVersion).where(
            FlowVersion.flow_id == flow.id, FlowVersion.version == version))).scalar_one_or_none()
        if row is None:
            raise NotFound("flow_version")
        return {**to_out(versions_resource, row), "canvas": row.canvas,
                "current": flow.version == version and row.published_at is not None}


@blueprint.get("/flows/<uuid:item_id>/errors")
@tag(["flows"])
@operation_id("list_flow_run_errors")
@document_response(FlowRunProblems)
@require("flows:read")
async def list_flow_run_errors(item_id: uuid.UUID) -> Any:
    """The live flow's recent failures (flow errors and failed `api_call` / `ai_prompt`
    calls of the last 30 days, newest first), each naming its node, as the runtime
    recorded them on the customer's message."""
    async with get_db().session() as session:
        flow = await load_in_scope(session, Flow, item_id, org_id(), label="flow")
        return {"items": await recent_problems(session, org_id(), flow.id)}


@blueprint.get("/flows/<uuid:item_id>/analytics")
@tag(["flows"])
@operation_id("get_flow_analytics")
@document_querystring(FlowAnalyticsQuery)
@document_response(FlowAnalytics)
@require("flows:read")
async def get_flow_analytics(item_id: uuid.UUID) -> Any:
    """Path analytics of a flow version: how many runs entered each node, took each
    edge (source node, exit handle, target node) and dropped off where (a question's
    wait that ran out, a run that ended in an error, a run left waiting with no
    activity for 24 hours), summed over the hour buckets in ``[from, to)``
    (docs/analytics.md). Counts gathered since the last flush are flushed first.
    Errors: 404 ``flow_version`` for a version the flow does not have."""
    from api.analytics import flow_analytics, flush_path_counts

    args = request.args
    since = parse_datetime("from", args["from"]) if "from" in args else None
    until = parse_datetime("to", args["to"]) if "to" in args else None
    version = None
    if "version" in args:
        try:
            version = int(args["version"])
        except ValueError:
            raise ValidationFailed("version", "version must be an integer") from None
        if not 1 <= version <= 2_147_483_647:
            raise ValidationFailed("version", "version must be a positive integer")
    await flush_path_counts(get_db(), get_redis())
    async with get_db().session() as session:
        flow = await load_in_scope(session, Flow, item_id, org_id(), label="flow")
        version = flow.version if version is None else version
        exists = (await session.execute(select(FlowVersion.version).where(
            FlowVersion.flow_id == flow.id, FlowVersion.version == version))).scalar_one_or_none()
        if exists is None:
            raise NotFound("flow_version")
        return await flow_analytics(session, org_id(), flow.id, version, since, until)


@blueprint.post("/flows/<uuid:item_id>/simulate")
@tag(["flows"])
@operation_id("simulate_flow")
@document_request(SimulateIn)
@document_response(SimulateOut)
@require("flows:write")
async def simulate_flow(item_id: uuid.UUID) -> Any:
    """Chat with the flow's draft (or the ``canvas`` sent) through the real interpreter.

    A dry run: no contact, conversation or message changes and nothing reaches
    WhatsApp; `api_call` and `ai_prompt` call out as they would live. Send the
    returned ``session`` back with the next message. Errors: 422 ``invalid_canvas``
    (with diagnostics) when the canvas does not compile.
    """
    from api.conversations.ai_client import LazyAIClient
    from api.services.flow_simulator import SimulationRefused, simulate
    from engine.adapters.http import GuardedHttpClient

    data = await read_body(SimulateIn)
    settings = get_settings()
    http = GuardedHttpClient(allow_private_networks=settings.flow_allow_private_networks)
    ai = LazyAIClient(settings)
    try:
        async with get_db().session() as session:
            flow = await load_in_scope(session, Flow, item_id, org_id(), label="flow")
            canvas = data.canvas if data.canvas is not None else flow.canvas_data
            return await simulate(session, flow, canvas=canvas,
                                  message=data.message.model_dump(exclude_none=True) if data.message else None,
                                  timeout=data.timeout, previous=data.session, http=http, ai=ai)
    except SimulationRefused as exc:
        if exc.diagnostics:
            details = [{"field": d["path"] or "canvas", **d} for d in map(_diagnostic, exc.diagnostics)]
            raise ApiError(422, "invalid_canvas", str(exc), field="canvas", details=details) from None
        raise ValidationFailed(exc.field, str(exc)) from None
    finally:
        await http.aclose()
        await ai.aclose()
