"""/conversations: filters, assign/transfer/close, and the agent's side of messages."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from quart_schema import document_request, document_response, operation_id, tag
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import record_audit
from api.auth.permissions import require
from api.auth.principal import Principal
from api.db.models import Chatbot, Contact, Conversation, Department, User, WhatsAppNumber
from api.errors import ValidationFailed
from api.events import conversation_payload, emit, event
from api.resources import (
    DateRange,
    Equals,
    Resource,
    TagContains,
    crud_blueprint,
    flush,
    load_in_scope,
    org_id,
    scoped_select,
    to_out,
    writing,
)
from api.resources.body import read_body
from api.resources.rows import touch
from api.schemas.conversations import (
    PRIORITIES,
    STATUSES,
    AssignIn,
    CloseIn,
    ConversationCreate,
    ConversationOut,
    ConversationUpdate,
    ReturnToBotIn,
    TransferIn,
)

ASSIGNABLE_ROLES = ("agent", "org_admin", "super_admin")


async def _number_can_send(session: AsyncSession, principal: Principal, values: dict[str, Any]) -> None:
    """A conversation is opened on a number that can send: not a deactivated one (422 naming
    whatsapp_number_id), whose replies would all be refused; a number of another
    organization, or deleted, is `check_references`' 422."""
    number_id = values.get("whatsapp_number_id")
    if number_id is None:
        return
    active = (await session.execute(scoped_select(WhatsAppNumber, org_id()).where(
        WhatsAppNumber.id == number_id).with_only_columns(WhatsAppNumber.is_active))).scalar_one_or_none()
    if active is False:
        raise ValidationFailed("whatsapp_number_id", "this WhatsApp number is deactivated: nothing can be sent "
                               f"from it (activate it first: PATCH /whatsapp-numbers/{number_id} is_active: true)")


resource = Resource(
    name="conversations",
    label="conversation",
    model=Conversation,
    out=ConversationOut,
    path="/conversations",
    create=ConversationCreate,
    update=ConversationUpdate,
    filters=(
        Equals("status", Conversation.status, choices=STATUSES),
        Equals("department_id", Conversation.department_id, uuid.UUID),
        Equals("assigned_to", Conversation.assigned_to, uuid.UUID, description="assignee (user id)"),
        TagContains("tag", Conversation.tags),
        Equals("contact_id", Conversation.contact_id, uuid.UUID),
        Equals("whatsapp_number_id", Conversation.whatsapp_number_id, uuid.UUID),
        Equals("priority", Conversation.priority, choices=PRIORITIES),
        Equals("is_bot_active", Conversation.is_bot_active, bool),
        DateRange("created_at", Conversation.created_at),
        DateRange("last_message_at", Conversation.last_message_at),
    ),
    sorts=("created_at", "updated_at", "last_message_at", "priority", "status"),
    default_sort="-last_message_at",
    references={
        "contact_id": Contact,
        "whatsapp_number_id": WhatsAppNumber,
        "chatbot_id": Chatbot,
        "department_id": Department,
    },
    before_create=_number_can_send,
)
blueprint = crud_blueprint(resource)


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _assignee(session: AsyncSession, user_id: uuid.UUID) -> User:
    """An active user of the organization who can take conversations (else 422 naming user_id)."""
    stmt = scoped_select(User, org_id()).where(User.id == user_id)
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise ValidationFailed("user_id", "user_id does not exist in your organization")
    if user.is_active is False or user.role not in ASSIGNABLE_ROLES:
        raise ValidationFailed("user_id", "this user cannot take conversations (inactive or viewer)")
    return user


async def _change(item_id: uuid.UUID, action: str, apply: Any, description: str | None = None) -> dict[str, Any]:
    """Load the conversation locked, apply a change, audit it, all in one transaction."""
    async with writing("conversation") as session:
        row = await load_in_scope(session, Conversation, item_id, org_id(), label="conversation", for_update=True)
        before = to_out(resource, row)
        await apply(session, row)
        touch(row)
        await flush(session, row)
        after = to_out(resource, row)
        await record_audit(session, f"conversation.{action}", "conversation", row.id,
                           before=before, after=after, description=description)
        payload = conversation_event_payload(row, description)
        if action in ("assigned", "transferred", "returned_to_bot"):  # who held it before: the live channel tells them
            payload["previous"] = {"department_id": before.get("department_id"),
                                   "assigned_agent_id": before.get("assigned_to")}
        await emit(session, event(row.organization_id, f"conversation.{action}", payload, row.id))
    return after


def conversation_event_payload(row: Conversation, reason: str | None = None) -> dict[str, Any]:
    """docs/events.md: conversation.assigned / transferred / closed."""
    payload = conversation_payload({k: getattr(row, k) for k in (
        "id", "contact_id", "whatsapp_number_id", "status", "department_id", "priority", "is_bot_active",
        "assigned_to")})
    if reason:
        payload["reason"] = reason
    return payload


def _assign(row: Conversation, user_id: uuid.UUID) -> None:
    now = _now()
    if row.status == "waiting_in_queue":
        row.pulled_from_queue_at = now
    row.assigned_to = user_id
    row.assigned_at = now
    row.status = "assigned"
    row.is_bot_active = False
    row.queue_position = None


@blueprint.post("/conversations/<uuid:item_id>/assign")
@tag(["conversations"])
@operation_id("assign_conversation")
@document_request(AssignIn)
@document_response(ConversationOut)
@require("conversations:write")
async def assign(item_id: uuid.UUID) -> Any:
    """Give the conversation to an agent (the bot stops answering it)."""
    data = await read_body(AssignIn)

    async def apply(session: AsyncSession, row: Conversation) -> None:
        _ensure_open(row)
        await _assignee(session, data.user_id)
        _assign(row, data.user_id)

    return await _change(item_id, "assigned", apply)


@blueprint.post("/conversations/<uuid:item_id>/transfer")
@tag(["conversations"])
@operation_id("transfer_conversation")
@document_request(TransferIn)
@document_response(ConversationOut)
@require("conversations:write")
async def transfer(item_id: uuid.UUID) -> Any:
    """Move to another department's queue and/or straight to another agent."""
    data = await read_body(TransferIn)

    async def apply(session: AsyncSession, row: Conversation) -> None:
        _ensure_open(row)
        if data.department_id is not None:
            found = (await session.execute(
                scoped_select(Department, org_id()).where(Department.id == data.department_id)
            )).scalar_one_or_none()
            if found is None:
                raise ValidationFailed("department_id", "department_id does not exist in your organization")
            row.department_id = data.department_id
        if data.user_id is not None:
            await _assignee(session, data.user_id)
            _assign(row, data.user_id)
        else:
            row.assigned_to = None
            row.assigned_at = None
            row.status = "waiting_in_queue"
            row.entered_queue_at = _now()
            row.is_bot_active = False
        if data.reason:
            row.handoff_reason = data.reason

    return await _change(item_id, "transferred", apply, description=data.reason)


@blueprint.post("/conversations/<uuid:item_id>/return-to-bot")
@tag(["conversations"])
@operation_id("return_conversation_to_bot")
@document_request(ReturnToBotIn)
@document_response(ConversationOut)
@require("conversations:write")
async def return_to_bot(item_id: uuid.UUID) -> Any:
    """Give the conversation back to the chatbot: it leaves the agent and the queue, and
    the customer's next message is answered by the chatbot's rules (a new flow run)."""
    data = await read_body(ReturnToBotIn)

    async def apply(session: AsyncSession, row: Conversation) -> None:
        _ensure_open(row)
        row.assigned_to = None
        row.assigned_at = None
        row.queue_position = None
        row.status = "open"
        row.is_bot_active = True

    return await _change(item_id, "returned_to_bot", apply, description=data.reason)


@blueprint.post("/conversations/<uuid:item_id>/close")
@tag(["conversations"])
@operation_id("close_conversation")
@document_request(CloseIn)
@document_response(ConversationOut)
@require("conversations:write")
async def close(item_id: uuid.UUID) -> Any:
    """Close (or mark resolved): leaves the queue, the bot stops."""
    data = await read_body(CloseIn)

    async def apply(session: AsyncSession, row: Conversation) -> None:
        _ensure_open(row)
        row.status = "resolved" if data.resolved else "closed"
        row.resolved_at = _now()
        row.is_bot_active = False
        row.queue_position = None
        if data.notes is not None:
            row.notes = data.notes

    return await _change(item_id, "closed", apply)


def _ensure_open(row: Conversation) -> None:
    from api.errors import Conflict

    if row.status in ("closed", "resolved"):
        raise Conflict("the conversation is closed; reopen it first (PATCH status 'open')", field="status")
