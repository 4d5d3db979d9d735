"""/departments: agent queues, and /departments/{id}/agents (who works in each)."""

from __future__ import annotations

import uuid
from typing import Any

from quart_schema import document_querystring, document_request, document_response, operation_id, tag
from sqlalchemy import func

from api.audit import record_audit
from api.auth.permissions import require
from api.auth.principal import Principal
from api.context import get_db
from api.db.models import Conversation, Department, User, UserDepartment, WhatsAppNumber
from api.errors import Conflict, NotFound
from api.resources import (
    DateRange,
    Equals,
    Page,
    Resource,
    check_references,
    crud_blueprint,
    flush,
    list_items,
    load_in_scope,
    org_id,
    scoped_select,
    to_out,
    writing,
)
from api.resources.body import read_body
from api.resources.crud import NoContent, list_query_model
from api.resources.rows import assign, check_not_null, new_row
from api.schemas.departments import (
    DepartmentAgentCreate,
    DepartmentAgentOut,
    DepartmentAgentUpdate,
    DepartmentCreate,
    DepartmentOut,
    DepartmentUpdate,
)

async def _queue_is_empty(session: Any, principal: Principal, row: Department) -> None:
    """A department whose queue holds conversations is not deleted (409): they would stay
    waiting with no department, where nobody assigns them."""
    waiting = (await session.execute(scoped_select(Conversation, row.organization_id).where(
        Conversation.department_id == row.id, Conversation.status == "waiting_in_queue",
    ).with_only_columns(func.count()))).scalar_one()
    if waiting:
        raise Conflict(f"{waiting} conversation{'s are' if waiting != 1 else ' is'} waiting in this department's "
                       "queue: transfer them to another department or assign them first "
                       f"(GET /conversations?department_id={row.id}&status=waiting_in_queue)")


resource = Resource(
    name="departments",
    label="department",
    model=Department,
    out=DepartmentOut,
    path="/departments",
    create=DepartmentCreate,
    update=DepartmentUpdate,
    filters=(
        Equals("is_active", Department.is_active, bool),
        Equals("whatsapp_number_id", Department.whatsapp_number_id, uuid.UUID),
        DateRange("created_at", Department.created_at),
    ),
    sorts=("name", "created_at"),
    default_sort="name",
    references={"whatsapp_number_id": WhatsAppNumber},
    plan_limit="max_departments",
    before_delete=_queue_is_empty,
)
blueprint = crud_blueprint(resource)

agents = Resource(
    name="departments",
    label="department_agent",
    model=UserDepartment,
    out=DepartmentAgentOut,
    path="/departments/<uuid:item_id>/agents",
    filters=(Equals("is_primary", UserDepartment.is_primary, bool),),
    sorts=("created_at", "priority_level"),
    default_sort="-priority_level,created_at",
)
AGENTS = "/departments/<uuid:item_id>/agents"


async def _membership(session: Any, department_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool) -> UserDepartment:
    stmt = scoped_select(UserDepartment, org_id()).where(
        UserDepartment.department_id == department_id, UserDepartment.user_id == user_id)
    if lock:
        stmt = stmt.with_for_update(of=UserDepartment)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("department agent")
    return row


@blueprint.get(AGENTS)
@tag(["departments"])
@operation_id("list_department_agents")
@document_querystring(list_query_model("DepartmentAgentsListQuery", agents.filters, agents.sorts, agents.default_sort))
@document_response(Page[DepartmentAgentOut])
@require("departments:read")
async def list_agents(item_id: uuid.UUID) -> Any:
    async with get_db().session() as session:
        await load_in_scope(session, Department, item_id, org_id(), label="department")
    base = scoped_select(UserDepartment, org_id()).where(UserDepartment.department_id == item_id)
    return await list_items(agents, base)


@blueprint.post(AGENTS)
@tag(["departments"])
@operation_id("add_department_agent")
@document_request(DepartmentAgentCreate)
@document_response(DepartmentAgentOut, 201)
@require("departments:write")
async def add_agent(item_id: uuid.UUID) -> Any:
    data = await read_body(DepartmentAgentCreate)
    values = data.model_dump(exclude_unset=True)
    check_not_null(UserDepartment, values)
    async with writing("department agent") as session:
        await load_in_scope(session, Department, item_id, org_id(), label="department", for_update=True)
        await check_references(session, {"user_id": User}, values, org_id())
        row = new_row(UserDepartment, {**values, "department_id": item_id})
        session.add(row)
        await flush(session, row)
        out = to_out(agents, row)
        await record_audit(session, "department.agent_added", "department", item_id, after=out)
    return out, 201


@blueprint.patch(AGENTS + "/<uuid:user_id>")
@tag(["departments"])
@operation_id("update_department_agent")
@document_request(DepartmentAgentUpdate)
@document_response(DepartmentAgentOut)
@require("departments:write")
async def update_agent(item_id: uuid.UUID, user_id: uuid.UUID) -> Any:
    data = await read_body(DepartmentAgentUpdate)
    values = data.model_dump(exclude_unset=True)
    check_not_null(UserDepartment, values)
    async with writing("department agent") as session:
        row = await _membership(session, item_id, user_id, lock=True)
        before = to_out(agents, row)
        assign(row, values)
        await flush(session, row)
        after = to_out(agents, row)
        await record_audit(session, "department.agent_updated", "department", item_id, before=before, after=after)
    return after


@blueprint.delete(AGENTS + "/<uuid:user_id>")
@tag(["departments"])
@operation_id("remove_department_agent")
@document_response(NoContent, 204)
@require("departments:write")
async def remove_agent(item_id: uuid.UUID, user_id: uuid.UUID) -> Any:
    async with writing("department agent") as session:
        row = await _membership(session, item_id, user_id, lock=True)
        before = to_out(agents, row)
        await session.delete(row)
        await session.flush()
        await record_audit(session, "department.agent_removed", "department", item_id, before=before)
    return "", 204
