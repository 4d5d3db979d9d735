"""Media files for agents: a message's file (``GET .../messages/{mid}/media``), and an upload
(``POST /uploads``) that a reply then sends (docs/replies.md).

A file is served only through a message of a conversation of the caller's
organization (404 otherwise, whatever the store holds), with the Content-Type
it was stored with, ``X-Content-Type-Options: nosniff`` and a
``Content-Disposition`` (``inline`` for images, audio and video; ``attachment``
for documents), so a browser never runs what a customer sent.

With the S3 store the file is streamed through this route too (not a redirect
to a presigned URL): the organization check holds on every read, the bucket
stays private and need not be reachable from agents' browsers, and no URL that
works without a PyTake token ever leaves the API.
"""

from __future__ import annotations

import asyncio
import mimetypes
import uuid
from typing import Any
from urllib.parse import quote

from quart import Blueprint, Response, request
from quart_schema import document_response, operation_id, tag
from sqlalchemy import select

from api.auth.permissions import require
from api.auth.principal import current_principal
from api.context import get_db, get_redis, get_settings
from api.db.models import Conversation, Message
from api.errors import ApiError, Conflict, NotFound, ValidationFailed
from api.json_body import raw_body
from api.media import MediaStoreUnavailable, UploadRefused, media_store, save_upload
from api.resources import load_in_scope
from api.schemas.messages import UploadOut

blueprint = Blueprint("media", __name__)


@blueprint.get("/conversations/<uuid:item_id>/messages/<uuid:message_id>/media")
@tag(["messages"])
@operation_id("get_message_media")
@require("messages:read")
async def get_message_media(item_id: uuid.UUID, message_id: uuid.UUID) -> Any:
    """The file of a media message (a customer's, fetched from Meta, or an agent's upload)."""
    organization_id = current_principal().organization_id
    async with get_db().session() as session:
        await load_in_scope(session, Conversation, item_id, organization_id, label="conversation")
        message = (await session.execute(select(Message).where(
            Message.id == message_id, Message.conversation_id == item_id))).scalar_one_or_none()
        if message is None:
            raise NotFound("message")
        media = (message.metadata_ or {}).get("media") or {}
        kind = (message.content or {}).get("kind") or message.type
    if not media:
        raise NotFound("media of this message")
    if media.get("status") != "stored":
        reason = media.get("error") or "the file is still being fetched from WhatsApp"
        raise Conflict(f"the media is not available: {reason}", field="media")
    if not str(media.get("key", "")).startswith(f"{organization_id}/"):  # never another organization's file
        raise NotFound("media of this message")
    try:
        data = await asyncio.to_thread(media_store(get_settings()).get, media["key"])
    except MediaStoreUnavailable as exc:  # S3 down or refusing: the file is there, the store is not
        raise ApiError(503, "media_store_unavailable", f"the media store cannot be read: {exc}") from exc
    if data is None:
        raise Conflict("the media is not available: the file is missing from the media store", field="media")
    mime = media.get("mime_type") or "application/octet-stream"
    filename = media.get("filename") or f"{message_id}{mimetypes.guess_extension(mime.split(';')[0]) or ''}"
    disposition = "inline" if kind in ("image", "sticker", "audio", "video") else "attachment"
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return Response(data, status=200, content_type=mime, headers={
        "Content-Disposition": f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"})


@blueprint.post("/uploads")
@raw_body  # multipart/form-data, not JSON
@tag(["messages"])
@operation_id("upload_media")
@document_response(UploadOut, 201)
@require("messages:write")
async def upload_media() -> Any:
    """Upload a file (multipart field ``file``) for a reply: answers an ``upload_id`` that a
    media reply names within an hour. The file must be a type and size WhatsApp carries."""
    if (request.mimetype or "").lower() != "multipart/form-data":
        raise ValidationFailed("file", "send the file as multipart/form-data in a field named 'file'")
    files = await request.files
    upload = files.get("file")
    if upload is None:
        raise ValidationFailed("file", "send the file in a multipart field named 'file'")
    data = upload.read()
    mime = upload.mimetype or mimetypes.guess_type(upload.filename or "")[0] or ""
    principal = current_principal()
    try:
        saved = await save_upload(get_redis(), get_settings(), principal.organization_id, principal.user_id, data,
                                  mime, (upload.filename or "")[:255] or None)
    except UploadRefused as exc:
        raise ValidationFailed(exc.field, str(exc)) from exc
    except MediaStoreUnavailable as exc:
        raise ApiError(503, "media_store_unavailable", str(exc)) from exc
    return UploadOut(upload_id=saved["upload_id"], kind=saved["kind"], mime_type=saved["mime_type"],
                     size=int(saved["size"]), filename=saved["filename"] or None, sha256=saved["sha256"],
                     expires_in=3600).model_dump(mode="json"), 201
