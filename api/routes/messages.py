"""/conversations/{id}/messages: read a conversation's messages; an agent's reply goes to the outbox.

The reply's shapes (text, media, buttons, list, quick reply, template) are in
docs/replies.md; outside the 24-hour customer service window (counted from the
customer's last message) only a template is taken, a 422 says so.

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
from datetime import datetime, timedelta, timezone
from typing import Any

from quart import Blueprint
from quart_schema import document_querystring, document_request, document_response, operation_id, tag
from sqlalchemy import func, select

from api.audit import record_audit
from api.auth.permissions import require
from api.auth.principal import current_principal
from api.context import get_db, get_redis, get_settings
from api.db.models import MESSAGE_STATUSES, MESSAGE_TYPES, Conversation, Message, WhatsAppNumber, WhatsAppTemplate
from api.errors import ApiError, Conflict, ValidationFailed
from api.media import MediaStoreUnavailable, take_upload, upload_to_meta
from api.resources import DateRange, Equals, Page, Resource, flush, list_items, load_in_scope, org_id, scoped_select, to_out, writing
from api.resources.body import read_body
from api.resources.crud import list_query_model
from api.schemas.messages import MessageOut, ReplyIn
from api.services.plan_limits import ensure_room
from api.services.quick_reply_expansion import expand_quick_reply
from api.templates.send_checks import template_content
from api.whatsapp.graph_client import GraphError, TransientGraphError

log = logging.getLogger("pytake.api.messages")
CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)

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
    """Queue an agent's reply (status ``pending``) for the sender to deliver: text, media (a URL or
    an ``upload_id``), reply buttons, a list, a quick reply or a template (docs/replies.md).
    Outside the 24-hour customer service window only a template is taken (422 otherwise); a
    ``template`` reply is checked against the approved template (422 naming a missing parameter)."""
    data = await read_body(ReplyIn)
    principal = current_principal()
    async with get_db().session() as session:
        conversation = await load_in_scope(session, Conversation, item_id, principal.organization_id,
                                           label="conversation")
        _open(conversation)
        if data.type != "template":
            await _inside_window(session, conversation.id)
        number = await session.get(WhatsAppNumber, conversation.whatsapp_number_id) \
            if conversation.whatsapp_number_id else None
        _number_sends(conversation, number)
    media = None
    if data.upload_id is not None:  # to Meta first, outside any transaction (external I/O)
        media = await _uploaded_media(data, principal.organization_id, number)
    async with writing("message") as session:
        conversation = await load_in_scope(session, Conversation, item_id, principal.organization_id,
                                           label="conversation", for_update=True)
        _open(conversation)
        await ensure_room(session, principal.organization_id, "monthly_message_limit")
        msg_type, metadata = data.type, {}
        if data.template is not None:  # checked against the approved template before Meta sees it
            template = await load_in_scope(session, WhatsAppTemplate, data.template.id, principal.organization_id,
                                           label="template")
            content = template_content(template, data.template, conversation.whatsapp_number_id)
        elif data.type == "quick_reply":
            msg_type, content = await expand_quick_reply(session, principal.organization_id, principal.user_id,
                                                         conversation.contact_id, data.shortcut or "", data.variables)
            metadata["quick_reply"] = data.shortcut
        else:
            content = data.content()
            if media is not None:
                content, metadata["media"] = media
        message = Message(
            conversation_id=conversation.id,
            direction="outbound",
            sender_type="agent",
            sender_id=principal.user_id,
            type=msg_type,
            content=content,
            status="pending",
            metadata_=metadata,
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


def _open(conversation: Conversation) -> None:
    if conversation.status in ("closed", "resolved"):
        raise Conflict("the conversation is closed; reopen it first (PATCH status 'open')", field="status")


def _number_sends(conversation: Conversation, number: WhatsAppNumber | None) -> None:
    """409 when the conversation's number cannot send any more: deactivated or deleted."""
    if conversation.whatsapp_number_id is None:
        return
    if number is None or number.deleted_at is not None:
        raise Conflict("the conversation's WhatsApp number is deleted: nothing can be sent from it",
                       field="whatsapp_number_id")
    if number.is_active is False:
        raise Conflict("the conversation's WhatsApp number is deactivated: activate it "
                       f"(PATCH /whatsapp-numbers/{number.id} is_active: true) to reply",
                       field="whatsapp_number_id")


async def _inside_window(session: Any, conversation_id: uuid.UUID) -> None:
    """422 unless the customer wrote within 24 hours (WhatsApp's customer service window,
    counted from the conversation's last inbound message)."""
    last = (await session.execute(select(func.max(Message.created_at)).where(
        Message.conversation_id == conversation_id, Message.direction == "inbound"))).scalar()
    if last is None or last + CUSTOMER_SERVICE_WINDOW <= datetime.now(timezone.utc):
        since = "the customer has not written yet" if last is None else \
            f"the customer last wrote at {last.isoformat()}"
        raise ValidationFailed("type", f"outside the 24-hour customer service window ({since}): only a "
                                       "template message can reach this customer now; send type 'template'")


async def _uploaded_media(data: ReplyIn, organization_id: uuid.UUID,
                          number: WhatsAppNumber | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The upload sent to Meta for the conversation's number: the row's ``content`` (by media id)
    and its ``metadata.media`` (the stored file, for the agents' view)."""
    upload = await take_upload(get_redis(), organization_id, data.upload_id)
    if upload is None:
        raise ValidationFailed("upload_id", "no such upload (it expires an hour after POST /uploads)")
    if upload["kind"] != data.type and not (data.type == "document" and upload["kind"] != "sticker"):
        raise ValidationFailed("upload_id", f"the upload is {upload['mime_type']}: send it as type "
                                            f"'{upload['kind']}' (or as a 'document')")
    if number is None:
        raise ValidationFailed("upload_id", "the conversation has no WhatsApp number to upload the file to")
    try:
        media_id = await upload_to_meta(get_settings(), number.phone_number_id, number.access_token_encrypted, upload)
    except TransientGraphError as exc:
        raise ApiError(502, "meta_unavailable", f"Meta's Graph API did not take the upload: {exc.describe()}") from exc
    except GraphError as exc:
        raise ValidationFailed("upload_id", f"Meta refused the upload: {exc.describe()}") from exc
    except FileNotFoundError as exc:
        raise ValidationFailed("upload_id", f"the upload cannot be sent: {exc}") from exc
    except MediaStoreUnavailable as exc:  # S3 down or refusing: nothing was sent, try again later
        raise ApiError(503, "media_store_unavailable",
                       f"the upload cannot be read from the media store: {exc}") from exc
    except ValueError as exc:  # the number's token cannot be decrypted
        raise ValidationFailed("upload_id", "the number's access token cannot be decrypted: set it again") from exc
    content: dict[str, Any] = {"media_id": media_id, "mime_type": upload["mime_type"]}
    if data.caption:
        content["caption"] = data.caption
    filename = data.filename or upload.get("filename")
    if data.type == "document" and filename:
        content["filename"] = filename
    stored = {"status": "stored", "key": upload["file_path"], "mime_type": upload["mime_type"],
              "size": int(upload["size"]), "sha256": upload["sha256"], "upload_id": str(data.upload_id)}
    if filename:
        stored["filename"] = filename
    return content, stored


async def _kick_sender(message_ids: list[uuid.UUID]) -> None:
    try:
        outbox = importlib.import_module("api.outbox.enqueue")
    except ImportError:
        return
    try:
        await outbox.kick_sender(get_redis(), message_ids)
    except Exception:  # noqa: BLE001 - the row is durable; the sender's next pass delivers it
        log.warning("could not wake the sender for %s", message_ids, exc_info=True)
