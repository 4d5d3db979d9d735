"""WhatsApp media on the Graph API: Meta's per-type limits, and the media endpoints.

- ``GET /{version}/{media-id}`` (Bearer: the number's token) answers
  ``{"messaging_product": "whatsapp", "url", "mime_type", "sha256", "file_size", "id"}``;
  ``url`` is a short-lived download address that takes the same Bearer token.
- ``POST /{version}/{phone-number-id}/media`` (multipart: ``messaging_product=whatsapp``,
  ``type`` = the MIME type, ``file``) answers ``{"id": "<media id>"}``, usable as
  ``{"image": {"id": ...}}`` in a send for 30 days.

`LIMITS`: the supported MIME types and maximum sizes Meta documents per message type
("Supported media types": audio 16 MB, document 100 MB, image 5 MB, sticker 500 KB
animated / 100 KB static, video 16 MB).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import httpx

from api.whatsapp.graph_client import GraphError, TransientGraphError, classify, request_json
from engine.adapters.bounded_body import BodyTooLarge, BodyUndecodable, decoded_chunks

MB = 1024 * 1024


@dataclass(frozen=True)
class MediaLimit:
    mime_types: frozenset[str]
    max_bytes: int


LIMITS: dict[str, MediaLimit] = {
    "audio": MediaLimit(frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}), 16 * MB),
    "document": MediaLimit(frozenset({
        "text/plain", "application/pdf", "application/msword", "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"}), 100 * MB),
    "image": MediaLimit(frozenset({"image/jpeg", "image/png"}), 5 * MB),
    "sticker": MediaLimit(frozenset({"image/webp"}), 500 * 1024),
    "video": MediaLimit(frozenset({"video/3gpp", "video/mp4"}), 16 * MB),
}


def base_mime(mime_type: str | None) -> str:
    """``audio/ogg; codecs=opus`` → ``audio/ogg``."""
    return (mime_type or "").split(";", 1)[0].strip().lower()


def limit_problem(kind: str, mime_type: str | None, size: int | None) -> str | None:
    """Why Meta would not carry this file as a ``kind`` message, or None when it would."""
    limit = LIMITS.get(kind)
    if limit is None:
        return f"{kind!r} is not a WhatsApp media type"
    if base_mime(mime_type) not in limit.mime_types:
        return (f"{base_mime(mime_type) or 'an unknown type'} is not supported for {kind} "
                f"(WhatsApp takes {', '.join(sorted(limit.mime_types))})")
    if size is not None and size > limit.max_bytes:
        return f"{size} bytes is over WhatsApp's {kind} limit of {limit.max_bytes} bytes"
    return None


def kind_for_mime(mime_type: str | None) -> str | None:
    """The message type a file of this MIME type goes as (webp: sticker; an image/webp as an
    image would be refused)."""
    mime = base_mime(mime_type)
    for kind in ("image", "video", "audio", "sticker", "document"):
        if mime in LIMITS[kind].mime_types:
            return kind
    return None


@dataclass(frozen=True)
class MediaInfo:
    id: str
    url: str
    mime_type: str
    sha256: str
    file_size: int | None


class MediaTooLarge(GraphError):
    """The download grew over the limit; nothing more is read."""


class MediaAPI:
    """The media endpoints for one number's token (``base_url``/``version`` as the sender's)."""

    def __init__(self, base_url: str, version: str, token: str, *, client: httpx.AsyncClient) -> None:
        self.base = f"{base_url.rstrip('/')}/{version}"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.client = client

    async def info(self, media_id: str) -> MediaInfo:
        body = await self._json("GET", f"{self.base}/{media_id}")
        try:
            size = body.get("file_size")
            return MediaInfo(id=str(body.get("id") or media_id), url=str(body["url"]),
                             mime_type=str(body.get("mime_type") or ""), sha256=str(body.get("sha256") or ""),
                             file_size=int(size) if size not in (None, "") else None)
        except (KeyError, TypeError, ValueError) as exc:
            raise GraphError(f"unexpected media answer from the Graph API: {body!r:.200}") from exc

    async def download(self, url: str, max_bytes: int) -> tuple[bytes, str]:
        """The file at ``url`` (the Bearer token sent along) and its sha256 (hex); at most
        ``max_bytes`` are read (`MediaTooLarge` past that). Media is sent as it is stored
        (``Accept-Encoding: identity``); a compressed answer all the same is inflated here,
        never past ``max_bytes`` (`decoded_chunks`), not by httpx's decoder, which inflates a
        whole received chunk at once."""
        digest, chunks = hashlib.sha256(), []
        try:
            async with self.client.stream("GET", url, headers={**self.headers, "Accept-Encoding": "identity"}) \
                    as response:
                if response.status_code >= 400:
                    await response.aread()
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    raise classify(response.status_code, body)
                async for chunk in decoded_chunks(response, max_bytes):
                    digest.update(chunk)
                    chunks.append(chunk)
        except BodyTooLarge:
            raise MediaTooLarge(f"the file is over the limit of {max_bytes} bytes") from None
        except BodyUndecodable as exc:
            raise GraphError(f"cannot read the media: {exc}") from None
        except httpx.HTTPError as exc:
            raise TransientGraphError(f"cannot download the media: {exc!r}") from exc
        return b"".join(chunks), digest.hexdigest()

    async def upload(self, phone_number_id: str, data: bytes, mime_type: str, filename: str) -> str:
        """Upload a file for ``phone_number_id``'s sends; Meta's media id."""
        body = await self._json("POST", f"{self.base}/{phone_number_id}/media",
                                data={"messaging_product": "whatsapp", "type": mime_type},
                                files={"file": (filename, data, mime_type)})
        if not body.get("id"):
            raise GraphError(f"unexpected upload answer from the Graph API: {body!r:.200}")
        return str(body["id"])

    async def _json(self, method: str, url: str, **kw: Any) -> dict[str, Any]:
        return await request_json(self.client, method, url, self.headers, **kw)
