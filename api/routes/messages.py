"""/conversations/{id}/messages: read a conversation's messages; an agent's reply goes to the outbox.

A reply is a ``messages`` row (outbound, status ``pending``, sender_type
``agent``) written with the conversation's counters and the audit entry in
one transaction; the runtime's sender delivers it. After the commit the
sender is woken (`api.outbox.enqueue.kick_sender`, when the runtime is
installed); if waking fails the row is still delivered on the sender's next pass.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from typing import Any

from quart import Blueprint
from quart_schema import document_querystring, document_request, document_response, operation_id, tag
from sqlalchemy import func

from api.audit import record_audit
from api.auth.permissions import require
from api.auth.principal import current_principal
from api.context import get_db, get_redis
from api.db.models import MESSAGE_STATUSES, MESSAGE_TYPES, Conversation, Message, WhatsAppTemplate
from api.errors import Conflict
from api.resources import DateRange, Equals, Page, Resource, flush, list_items, load_in_scope, org_id, scoped_select, to_out, writing
from api.resources.body import read_body
from api.resources.crud import list_query_model
from api.schemas.messages import MessageOut, ReplyIn
from api.services.plan_limits import ensure_room
from api.templates.send_checks import template_content

log = logging.getLogger("pytake.api.messages")

blueprint = Blueprint("messages", __name__)
PATH = "/conversations/<uuid:item_id>/messages"

resource = Resource(
    name="messages",
    label="message",
    model=Message,
    out=MessageOut,
    path=PATH,
    filters=(
        Equals("direction", Message.direction, choices=("inbound", "outbound")),
        Equals("status", Message.status, choices=MESSAGE_STATUSES),
        Equals("type", Message.type, choices=MESSAGE_TYPES),
        Equals("sender_type", Message.sender_type, choices=("contact", "bot", "agent")),
        DateRange("created_at", Message.created_at),
    ),
    sorts=("created_at",),
    default_sort="-created_at",
)


@blueprint.get(PATH)
@tag(["messages"])
@operation_id("list_conversation_messages")
@document_querystring(list_query_model("MessagesListQuery", resource.filters, resource.sorts, resource.default_sort))
@document_response(Page[MessageOut])
@require("messages:read")
async def list_messages(item_id: uuid.UUID) -> Any:
    """The conversation's messages, newest first by default."""
    async with get_db().session() as session:
        await load_in_scope(session, Conversation, item_id, org_id(), label="conversation")
    base = scoped_select(Message, org_id()).where(Message.conversation_id == item_id)
    return await list_items(resource, base)


@blueprint.post(PATH)
@tag(["messages"])
@operation_id("send_agent_reply")
@document_request(ReplyIn)
@document_response(MessageOut, 201)
@require("messages:write")
async def reply(item_id: uuid.UUID) -> Any:
    """Queue an agent's reply (status ``pending``) for the sender to deliver. A ``template`` reply
    is checked against the approved template first (422 naming a missing parameter)."""
    data = await read_body(ReplyIn)
    principal = current_principal()
    async with writing("message") as session:
        conversation = await load_in_scope(session, Conversation, item_id, principal.organization_id,
                                           label="conversation", for_update=True)
        if conversation.status in ("closed", "resolved"):
            raise Conflict("the conversation is closed; reopen it first (PATCH status 'open')", field="status")
        await ensure_room(session, principal.organization_id, "monthly_message_limit")
        if data.template is not None:  # checked against the approved template before Meta sees it
            template = await load_in_scope(session, WhatsAppTemplate, data.template.id, principal.organization_id,
                                           label="template")
            content = template_content(template, data.template, conversation.whatsapp_number_id)
        else:
            content = data.content()
        message = Message(
            conversation_id=conversation.id,
            direction="outbound",
            sender_type="agent",
            sender_id=principal.user_id,
            type=data.type,
            content=content,
            status="pending",
        )
        session.add(message)
        await flush(session, message)
        conversation.last_message_at = message.created_at
        conversation.message_count = (conversation.message_count or 0) + 1
        conversation.updated_at = func.now()
        out = to_out(resource, message)
        await record_audit(session, "message.sent", "message", message.id, after=out)
    await _kick_sender([message.id])
    return out, 201


async def _kick_sender(message_ids: list[uuid.UUID]) -> None:
    try:
        outbox = importlib.import_module("api.outbox.enqueue")
    except ImportError:
        return
    try:
        await outbox.kick_sender(get_redis(), message_ids)
    except Exception:  # noqa: BLE001 - the row is durable; the sender's next pass delivers it
        log.warning("could not wake the sender for %s", message_ids, exc_info=True)
