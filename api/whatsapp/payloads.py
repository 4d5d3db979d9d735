"""Parse Meta's webhook payload (``object: whatsapp_business_account``).

Shape: ``entry[].changes[].value`` with ``metadata.phone_number_id``,
``contacts[]`` (profile name, wa_id), ``messages[]`` (what customers send) and
``statuses[]`` (what happened to what we sent). The payload is untrusted: any
part that does not have the documented shape is skipped or kept as
``unknown``, never a crash. Only a body that is not a JSON object at all, or
has no ``entry`` list, is a `PayloadError` (HTTP 400).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
STATUS_VALUES = ("sent", "delivered", "read", "failed")

# messages.type is constrained (SCHEMA.md); WhatsApp types outside that list are
# stored under the closest column value with their real kind in content["kind"].
_COLUMN_TYPE = {
    "text": "text",
    "image": "image",
    "video": "video",
    "audio": "audio",
    "document": "document",
    "sticker": "image",
    "location": "location",
    "contacts": "contacts",
    "button_reply": "button",
    "list_reply": "list",
    "button": "button",
}


class PayloadError(ValueError):
    """The body is not a WhatsApp webhook at all."""


@dataclass(frozen=True)
class MetaError:
    """One entry of Meta's ``errors[]``: code, title, message, error_data.details."""

    code: int | None
    title: str
    message: str
    details: str = ""

    def describe(self) -> str:
        text = self.message or self.title
        if self.details and self.details not in text:
            text = f"{text}: {self.details}" if text else self.details
        return f"({self.code}) {text}" if self.code is not None else text

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "title": self.title, "message": self.message,
                "details": self.details}


@dataclass(frozen=True)
class WebhookMessage:
    """One customer message, normalised for storage and for the engine."""

    phone_number_id: str
    display_phone_number: str
    wa_id: str
    profile_name: str | None
    wamid: str
    timestamp: datetime
    kind: str  # the WhatsApp type: text, button_reply, list_reply, image, reaction, ...
    column_type: str  # messages.type
    content: dict[str, Any]
    text: str | None  # what a question node reads: body, caption, button title
    reply_id: str | None  # id of the chosen button / list row / quick-reply payload
    context_wamid: str | None  # the message this one replies to
    raw: dict[str, Any]


@dataclass(frozen=True)
class StatusUpdate:
    phone_number_id: str
    wamid: str
    status: str
    timestamp: datetime
    recipient_id: str | None
    errors: tuple[MetaError, ...] = ()
    biz_opaque_callback_data: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class WebhookBatch:
    messages: list[WebhookMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)

    @property
    def phone_number_ids(self) -> set[str]:
        return {m.phone_number_id for m in self.messages} | {s.phone_number_id for s in self.statuses}


# PostgreSQL text and jsonb cannot hold U+0000: a webhook carrying one (in a
# message, a profile name, an error text) would fail its insert, answer 500, and
# be redelivered by Meta for days. It is replaced by U+FFFD, as a decoder does
# with bytes it cannot represent. In JSON it can only arrive as the escape
# ``\u0000`` (a raw NUL byte is not valid JSON), so the body is checked first.
NUL_ESCAPE = b"\\u0000"


# The columns the webhook writes these to are VARCHAR(255) (SCHEMA.md): a longer
# message or status id is not Meta's and is skipped as malformed; a longer profile
# name is cut (it is only shown).
MAX_ID = MAX_NAME = 255


def without_nul(value: Any) -> Any:
    """``value`` (parsed JSON) with every U+0000 in its strings and keys replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


def parse_webhook(doc: Any) -> WebhookBatch:
    """Every message and status in a decoded webhook body, in payload order."""
    if not isinstance(doc, dict) or not isinstance(doc.get("entry"), list):
        raise PayloadError("expected a WhatsApp webhook object with an 'entry' list")
    batch = WebhookBatch()
    for entry in doc["entry"]:
        if not isinstance(entry, dict):
            continue
        for change in _list(entry.get("changes")):
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                continue
            metadata = _dict(value.get("metadata"))
            number_id = _str(metadata.get("phone_number_id"))
            if not number_id:
                continue
            display = _str(metadata.get("display_phone_number")) or ""
            names = {}
            for contact in _list(value.get("contacts")):
                if isinstance(contact, dict) and contact.get("wa_id"):
                    name = _str(_dict(contact.get("profile")).get("name"))
                    names[str(contact["wa_id"])] = name[:MAX_NAME] if name else name
            for raw in _list(value.get("messages")):
                message = _parse_message(raw, number_id, display, names)
                if message is not None:
                    batch.messages.append(message)
            for raw in _list(value.get("statuses")):
                status = _parse_status(raw, number_id)
                if status is not None:
                    batch.statuses.append(status)
    return batch


def _parse_message(raw: Any, number_id: str, display: str, names: dict[str, str | None]) -> WebhookMessage | None:
    if not isinstance(raw, dict):
        return None
    wamid, sender = _str(raw.get("id")), _str(raw.get("from"))
    if not wamid or not sender or len(wamid) > MAX_ID or len(sender) > MAX_ID:
        return None  # Meta's ids are short: this is not one of its messages
    kind = _str(raw.get("type")) or "unknown"
    text: str | None = None
    reply_id: str | None = None
    body = _dict(raw.get(kind))
    content: dict[str, Any]

    if kind == "text":
        text = _str(body.get("body")) or ""
        content = {"text": text}
    elif kind == "interactive":
        itype = _str(body.get("type")) or "unknown"
        choice = _dict(body.get(itype))
        reply_id, text = _str(choice.get("id")), _str(choice.get("title"))
        kind = itype if itype in ("button_reply", "list_reply") else f"interactive:{itype}"
        content = {"text": text, "reply_id": reply_id}
        if choice.get("description") is not None:
            content["description"] = _str(choice.get("description"))
        if itype == "nfm_reply":  # WhatsApp Flows answer
            content["response_json"] = _str(choice.get("response_json"))
    elif kind == "button":  # quick-reply button of a template
        text, reply_id = _str(body.get("text")), _str(body.get("payload"))
        content = {"text": text, "reply_id": reply_id}
    elif kind in MEDIA_TYPES:
        content = {k: body[k] for k in ("id", "mime_type", "sha256", "caption", "filename", "animated", "voice")
                   if k in body}
        content["media_id"] = _str(body.get("id"))
        text = _str(body.get("caption"))
    elif kind == "location":
        content = {k: body.get(k) for k in ("latitude", "longitude", "name", "address", "url") if k in body}
        text = _str(body.get("name")) or _str(body.get("address"))
    elif kind == "contacts":
        shared = raw.get("contacts")
        content = {"contacts": shared if isinstance(shared, list) else []}
    elif kind == "reaction":
        content = {"emoji": _str(body.get("emoji")), "reacted_message_id": _str(body.get("message_id"))}
        text = content["emoji"]
    elif kind == "unsupported":
        content = {"errors": [e.to_json() for e in _errors(raw.get("errors"))]}
    else:
        content = {"raw": body} if body else {}  # a type this version does not know: kept as is

    content["kind"] = kind
    context = _dict(raw.get("context"))
    context_wamid = _str(context.get("id"))
    if context:
        content["context"] = {"message_id": context_wamid, "from": _str(context.get("from"))}
    return WebhookMessage(
        phone_number_id=number_id,
        display_phone_number=display,
        wa_id=sender,
        profile_name=names.get(sender),
        wamid=wamid,
        timestamp=_timestamp(raw.get("timestamp")),
        kind=kind,
        column_type=_COLUMN_TYPE.get(kind, "text"),
        content=content,
        text=text,
        reply_id=reply_id,
        context_wamid=context_wamid,
        raw=raw,
    )


def _parse_status(raw: Any, number_id: str) -> StatusUpdate | None:
    if not isinstance(raw, dict):
        return None
    wamid, status = _str(raw.get("id")), _str(raw.get("status"))
    if not wamid or len(wamid) > MAX_ID or status not in STATUS_VALUES:
        return None
    return StatusUpdate(
        phone_number_id=number_id,
        wamid=wamid,
        status=status,
        timestamp=_timestamp(raw.get("timestamp")),
        recipient_id=_str(raw.get("recipient_id")),
        errors=tuple(_errors(raw.get("errors"))),
        biz_opaque_callback_data=_str(raw.get("biz_opaque_callback_data")),
        raw=raw,
    )


def _errors(value: Any) -> list[MetaError]:
    out = []
    for err in _list(value):
        if not isinstance(err, dict):
            continue
        code = err.get("code")
        try:
            code = int(code) if code is not None else None
        except (TypeError, ValueError):
            code = None
        out.append(MetaError(
            code=code,
            title=_str(err.get("title")) or "",
            message=_str(err.get("message")) or "",
            details=_str(_dict(err.get("error_data")).get("details")) or "",
        ))
    return out


def _timestamp(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(timezone.utc)


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
