"""Customers' media (image, audio, video, document, sticker) fetched from Meta into the store.

Off the message path: the webhook stores the message and enqueues the
``pytake.fetch_media`` task on the low lane (api/workers/queue.py); a worker
then, per message: asks Meta for the media (``GET /{media-id}`` with the
number's token), checks its MIME type and size against Meta's limits for
the message's kind, downloads it (never more than the limit, counted on the
decoded bytes: an answer compressed all the same is inflated a bounded chunk
at a time, engine/adapters/bounded_body.py), checks its
sha256 against the one Meta gave, and keeps it in the media store (a
directory or an S3 bucket: api/media/store.py).

A fetch whose task was lost (a worker killed after taking it, Redis losing
its data or failing over, a webhook whose enqueue failed and whose redelivery
found the message stored already) is not lost for good: the maintenance
sweep (api/workers/maintenance.py) finds inbound media rows without
``metadata.media`` and queues their fetch again, at most once a minute per
message and never while a worker fetches it (`fetch_lock_key`, held during
the fetch).

The outcome is ``messages.metadata.media``: ``{"status": "stored", "key",
"mime_type", "size", "sha256", "filename"?}``, or ``{"status": "failed",
"error": "<why>"}``. A transient failure (Meta or the network) is tried again,
`ATTEMPTS` times in all with backoff, before the message shows it as failed;
so is a store that cannot keep the file (S3 down, refusing the credentials, no
such bucket): the file already downloaded is kept for the next attempt, and the
message itself is never touched but for its ``metadata.media``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone
from typing import Any

import httpx
from sqlalchemy import text

from api.crypto import decrypt_secret
from api.media.store import MediaStoreUnavailable, inbound_key, media_store
from api.settings import Settings
from api.whatsapp.config import WhatsAppConfig
from api.whatsapp.graph_client import GraphError, TransientGraphError
from api.whatsapp.media import LIMITS, MediaAPI, MediaTooLarge, limit_problem
from api.whatsapp.payloads import MEDIA_TYPES

log = logging.getLogger("pytake.media.inbound")

ATTEMPTS = 3
FETCH_LOCK = "media:fetch:"  # + {message id}: a worker fetches this message's media now
FETCH_HOLD_MS = 300_000  # the lock outlives any fetch (a dead worker's lets the sweep retry)
BACKOFF = 0.5  # seconds before the second attempt; doubled each time

_ROWS = text("""
SELECT m.id, m.type, m.content, m.metadata, c.organization_id,
       n.phone_number_id, n.access_token_encrypted
  FROM messages m
  JOIN conversations c ON c.id = m.conversation_id
  LEFT JOIN whatsapp_numbers n ON n.id = c.whatsapp_number_id
 WHERE m.id = ANY(:ids) AND m.direction = 'inbound' AND m.content ? 'media_id'
   AND COALESCE(m.metadata->'media'->>'status', '') <> 'stored'""")

_RECORD = text("UPDATE messages SET metadata = metadata || jsonb_build_object('media', CAST(:media AS jsonb)) "
               "WHERE id = :id")


def fetch_lock_key(message_id: Any) -> str:
    return f"{FETCH_LOCK}{{{message_id}}}"  # the id is the hash tag (the sweep's marks share it)


async def fetch_inbound_media(db: Any, settings: Settings, message_ids: list[Any], *,
                              client: httpx.AsyncClient | None = None, redis: Any = None) -> dict[str, str]:
    """Fetch these messages' media (those not stored yet); ``{message id: "stored" | "failed"}``.
    With ``redis``, each message under `fetch_lock_key`: one another worker fetches is skipped."""
    import uuid

    ids = [uuid.UUID(str(i)) for i in message_ids]
    async with db.session() as s:
        rows = (await s.execute(_ROWS, {"ids": ids})).mappings().all()
    if not rows:
        return {}
    own = client is None
    client = client or httpx.AsyncClient(timeout=60.0)
    outcome: dict[str, str] = {}
    try:
        for row in rows:
            lock = fetch_lock_key(row["id"])
            if redis is not None and not await redis.set(lock, "1", nx=True, px=FETCH_HOLD_MS):
                continue  # another worker fetches it
            try:
                media = await _fetch_one(settings, client, row)
                async with db.transaction() as s:
                    await s.execute(_RECORD, {"id": row["id"], "media": json.dumps(media)})
            finally:
                if redis is not None:
                    await redis.delete(lock)
            outcome[str(row["id"])] = media["status"]
            if media["status"] == "failed":
                log.warning("media of message %s not stored: %s", row["id"], media["error"])
    finally:
        if own:
            await client.aclose()
    return outcome


def _kind(row: Any) -> str:
    content = row["content"] or {}
    kind = content.get("kind") or row["type"]
    return kind if kind in MEDIA_TYPES else row["type"]


def _token(settings: Settings, encrypted: Any) -> str:
    if not encrypted:
        return "sandbox"  # as the sender: a number without a token talks to the sandbox
    return decrypt_secret(settings, encrypted)


async def _fetch_one(settings: Settings, client: httpx.AsyncClient, row: Any) -> dict[str, Any]:
    content = row["content"] or {}
    kind = _kind(row)
    attempts = 0
    try:
        store = media_store(settings)
        if row["phone_number_id"] is None:
            return _failed("the conversation has no WhatsApp number to fetch the media with", attempts)
        try:
            token = _token(settings, row["access_token_encrypted"])
        except ValueError:
            return _failed("the number's access token cannot be decrypted", attempts)
        config = WhatsAppConfig.from_settings(settings)
        api = MediaAPI(config.graph_url, config.graph_version, token, client=client)
        fetched: tuple[bytes, str, str | None] | None = None  # kept across attempts: the store may fail alone
        while True:
            attempts += 1
            try:
                if fetched is None:
                    info = await api.info(str(content["media_id"]))
                    mime = info.mime_type or content.get("mime_type")
                    problem = limit_problem(kind, mime, info.file_size)
                    if problem is not None:
                        return _failed(problem, attempts)
                    data, digest = await api.download(info.url, LIMITS[kind].max_bytes)
                    expected = (info.sha256 or content.get("sha256") or "").lower()
                    if expected and digest != expected:
                        raise TransientGraphError(f"the downloaded file's sha256 {digest} is not Meta's {expected}")
                    fetched = (data, digest, mime)
                data, digest, mime = fetched
                key = inbound_key(row["organization_id"], row["id"])
                await asyncio.to_thread(store.put, key, data)
                media = {"status": "stored", "key": key, "mime_type": mime, "size": len(data), "sha256": digest,
                         "stored_at": datetime.now(timezone.utc).isoformat(), "attempts": attempts}
                if content.get("filename"):
                    media["filename"] = content["filename"]
                return media
            except MediaTooLarge as exc:
                return _failed(f"{exc} for {kind}", attempts)
            except TransientGraphError as exc:
                if attempts >= ATTEMPTS:
                    return _failed(f"gave up after {attempts} attempts: {exc.describe()}", attempts)
                await asyncio.sleep(BACKOFF * 2 ** (attempts - 1))
            except GraphError as exc:
                return _failed(f"Meta refused the media: {exc.describe()}", attempts)
            except (MediaStoreUnavailable, OSError) as exc:  # S3 down or refusing, a full disk...
                if attempts >= ATTEMPTS:
                    return _failed(f"the media store cannot keep the file (gave up after {attempts} attempts): "
                                   f"{exc}", attempts)
                log.info("media of message %s: the store failed (attempt %s): %s", row["id"], attempts, exc)
                await asyncio.sleep(BACKOFF * 2 ** (attempts - 1))
    except (MediaStoreUnavailable, OSError) as exc:
        return _failed(f"the media store cannot keep the file: {exc}", attempts)


def _failed(error: str, attempts: int) -> dict[str, Any]:
    return {"status": "failed", "error": error, "attempts": attempts,
            "failed_at": datetime.now(timezone.utc).isoformat()}
