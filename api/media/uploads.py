"""An agent's file, uploaded before the reply that sends it (SCHEMA.md ``temp:upload:{upload_id}``).

``POST /uploads`` keeps the file in the media store (``{org}/up/{upload id}``) and
a Redis hash ``temp:upload:{upload_id}`` (file_path = the store key, mime_type,
size, filename, kind, sha256, organization_id, user_id) for an hour. A reply
naming the ``upload_id`` (`take_upload`, same organization only) uploads the
file to Meta for the conversation's number (`upload_to_meta`, ``POST
/{phone-number-id}/media``) and sends it by the media id Meta gives.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import httpx

from api.crypto import decrypt_secret
from api.media.store import media_store, upload_key
from api.settings import Settings
from api.whatsapp.config import WhatsAppConfig
from api.whatsapp.media import MediaAPI, base_mime, kind_for_mime, limit_problem

UPLOAD_TTL = 3600


def upload_redis_key(upload_id: Any) -> str:
    return f"temp:upload:{upload_id}"


class UploadRefused(ValueError):
    """The file is not one WhatsApp carries (type or size): ``field`` says which part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


async def save_upload(redis: Any, settings: Settings, organization_id: Any, user_id: Any, data: bytes,
                      mime_type: str, filename: str | None) -> dict[str, Any]:
    """Keep an agent's file for a reply; its ``temp:upload`` fields with ``upload_id``."""
    mime = base_mime(mime_type)
    kind = kind_for_mime(mime)
    if kind is None:
        raise UploadRefused("file", f"{mime or 'this file type'} cannot be sent on WhatsApp")
    if not data:
        raise UploadRefused("file", "the file is empty")
    problem = limit_problem(kind, mime, len(data))
    if problem is not None:
        raise UploadRefused("file", problem)
    upload_id = uuid.uuid4()
    key = upload_key(organization_id, upload_id)
    await asyncio.to_thread(media_store(settings).put, key, data)
    fields = {"file_path": key, "mime_type": mime, "size": str(len(data)), "filename": filename or "",
              "kind": kind, "sha256": hashlib.sha256(data).hexdigest(),
              "organization_id": str(organization_id), "user_id": str(user_id or "")}
    await redis.hset(upload_redis_key(upload_id), mapping=fields)
    await redis.expire(upload_redis_key(upload_id), UPLOAD_TTL)
    return {"upload_id": str(upload_id), **fields}


async def take_upload(redis: Any, organization_id: Any, upload_id: Any) -> dict[str, str] | None:
    """The pending upload of this organization, or None (unknown, expired, another organization's)."""
    raw = await redis.hgetall(upload_redis_key(upload_id))
    fields = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
              for k, v in (raw or {}).items()}
    if not fields or fields.get("organization_id") != str(organization_id):
        return None
    return fields


async def upload_to_meta(settings: Settings, phone_number_id: str, access_token_encrypted: Any,
                         upload: dict[str, str]) -> str:
    """Upload the pending file for ``phone_number_id``; Meta's media id (GraphError on refusal)."""
    data = await asyncio.to_thread(media_store(settings).get, upload["file_path"])
    if data is None:
        raise FileNotFoundError("the uploaded file is no longer in the media store")
    token = decrypt_secret(settings, access_token_encrypted) if access_token_encrypted else "sandbox"
    config = WhatsAppConfig.from_settings(settings)
    async with httpx.AsyncClient(timeout=60.0) as client:
        api = MediaAPI(config.graph_url, config.graph_version, token, client=client)
        return await api.upload(phone_number_id, data, upload["mime_type"],
                                upload.get("filename") or f"file.{upload['mime_type'].rsplit('/', 1)[-1]}")
