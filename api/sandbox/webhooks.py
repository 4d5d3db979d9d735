"""Build webhook bodies exactly as Meta sends them, and post them signed.

Used by the sandbox (status webhooks), `pytake chat` (customer messages), the
end-to-end tests and the benchmark, so they all speak one wire format.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx

from api.whatsapp.recipients import is_bsuid
from api.whatsapp.signature import HEADER, sign


def new_wamid() -> str:
    return "wamid." + secrets.token_urlsafe(30)


def envelope(phone_number_id: str, value: dict[str, Any], *, display_phone_number: str = "",
             waba_id: str = "0") -> dict[str, Any]:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": display_phone_number or phone_number_id,
                          "phone_number_id": phone_number_id},
             **value}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": [{"field": "messages", "value": value}]}]}


def inbound_message(phone_number_id: str, wa_id: str | None, message: dict[str, Any], *,
                    profile_name: str | None = None, wamid: str | None = None,
                    timestamp: int | None = None, context_id: str | None = None,
                    user_id: str | None = None) -> dict[str, Any]:
    """A customer message webhook; ``message`` holds ``type`` and its object,
    e.g. ``{"type": "text", "text": {"body": "oi"}}``. ``user_id`` is the sender's
    BSUID (``from_user_id``, ``contacts[].user_id``); a BSUID given as ``wa_id`` is
    a user who hides their phone: ``from`` and ``wa_id`` are then absent, as Meta sends it."""
    if is_bsuid(wa_id):
        wa_id, user_id = None, user_id or wa_id
    msg: dict[str, Any] = {"id": wamid or new_wamid(), "timestamp": str(timestamp or int(time.time())),
                           **message}
    contact: dict[str, Any] = {"profile": {"name": profile_name or wa_id or user_id}}
    if wa_id:
        msg["from"] = contact["wa_id"] = wa_id
    if user_id:
        msg["from_user_id"] = contact["user_id"] = user_id
    if context_id:
        msg["context"] = {"from": phone_number_id, "id": context_id}
    return envelope(phone_number_id, {"contacts": [contact], "messages": [msg]})


def text_message(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body}}


def media_message(kind: str, media: dict[str, Any], *, caption: str | None = None,
                  filename: str | None = None) -> dict[str, Any]:
    """A customer's media message as Meta posts it (``media``: a `SandboxState.add_media` record)."""
    body: dict[str, Any] = {"id": media["id"], "mime_type": media["mime_type"], "sha256": media["sha256"]}
    if caption is not None:
        body["caption"] = caption
    if filename is not None:
        body["filename"] = filename
    if kind == "sticker":
        body["animated"] = False
    return {"type": kind, kind: body}


def location_message(latitude: float, longitude: float, *, name: str | None = None,
                     address: str | None = None) -> dict[str, Any]:
    """A customer's shared location as Meta posts it."""
    place: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name is not None:
        place["name"] = name
    if address is not None:
        place["address"] = address
    return {"type": "location", "location": place}


def button_reply(reply_id: str, title: str) -> dict[str, Any]:
    return {"type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}}


def list_reply(reply_id: str, title: str, description: str | None = None) -> dict[str, Any]:
    row = {"id": reply_id, "title": title}
    if description:
        row["description"] = description
    return {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": row}}


def status_update(phone_number_id: str, wamid: str, status: str, recipient_id: str, *,
                  callback_data: str | None = None, errors: list[dict[str, Any]] | None = None,
                  timestamp: int | None = None) -> dict[str, Any]:
    """A status webhook; a BSUID ``recipient_id`` (a send to ``recipient``) is
    reported as ``recipient_user_id``, with no phone, as Meta does."""
    item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(timestamp or int(time.time())),
                            "recipient_user_id" if is_bsuid(recipient_id) else "recipient_id": recipient_id}
    if status in ("sent", "delivered"):
        item["conversation"] = {"id": "sandbox-conversation", "origin": {"type": "service"}}
        item["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
    if callback_data:
        item["biz_opaque_callback_data"] = callback_data
    if errors:
        item["errors"] = errors
    return envelope(phone_number_id, {"statuses": [item]})


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


async def post_signed(client: httpx.AsyncClient, url: str, secret: str, doc: dict[str, Any]) -> httpx.Response:
    """POST ``doc`` to ``url`` with Meta's X-Hub-Signature-256 header."""
    body = encode(doc)
    return await client.post(url, content=body, headers={
        "Content-Type": "application/json", HEADER: sign(secret, body)})
