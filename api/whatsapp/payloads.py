"""Parse Meta's webhook payload (``object: whatsapp_business_account``).

Shape: ``entry[].changes[].value`` with ``metadata.phone_number_id``,
``contacts[]`` (profile name, wa_id, user_id), ``messages[]`` (what customers send) and
``statuses[]`` (what happened to what we sent). A user who hides their phone
number behind a username is identified by their business-scoped user id only
(``from_user_id``, ``user_id``, ``recipient_user_id``: api/whatsapp/recipients.py).
The payload is untrusted: any part that does not have the documented shape is skipped or kept as
``unknown``, never a crash. Only a body that is not a JSON object at all, or
has no ``entry`` list, is a `PayloadError` (HTTP 400).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from api.whatsapp.recipients import is_bsuid

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
    wa_id: str  # the sender's phone wa_id, or its BSUID when the phone is hidden
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
    user_id: str | None = None  # the sender's business-scoped user id (BSUID), when Meta sent it


@dataclass(frozen=True)
class StatusUpdate:
    phone_number_id: str
    wamid: str
    status: str
    timestamp: datetime
    recipient_id: str | None  # the phone wa_id; absent for a user known by BSUID only
    errors: tuple[MetaError, ...] = ()
    biz_opaque_callback_data: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    recipient_user_id: str | None = None  # the recipient's BSUID


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

# Where the first click-to-WhatsApp ad referral of a customer is kept: the
# contact's ``attributes`` and the conversation's ``flow_variables`` (api/inbound/ingest.py)
REFERRAL_KEY = "whatsapp_referral"



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
            # wa_id and user_id (BSUID) -> {"name": profile name, and what else the contacts[]
            # entry has: user_id, parent_user_id, identity_key_hash, profile.username, ...}
            senders = {}
            for contact in _list(value.get("contacts")):
                if isinstance(contact, dict) and (contact.get("wa_id") or contact.get("user_id")):
                    profile = _dict(contact.get("profile"))
                    name = _str(profile.get("name"))
                    sender = {"name": name[:MAX_NAME] if name else name}
                    if len(contact) > 2 or len(profile) > 1 or "wa_id" not in contact:
                        sender.update(_without(contact, "profile", "wa_id"))
                        if len(profile) > 1:
                            sender["profile"] = _without(profile, "name")
                    for key in ("wa_id", "user_id"):
                        if contact.get(key):
                            senders[str(contact[key])] = sender
            for raw in _list(value.get("messages")):
                message = _parse_message(raw, number_id, display, senders)
                if message is not None:
                    batch.messages.append(message)
            for raw in _list(value.get("statuses")):
                status = _parse_status(raw, number_id)
                if status is not None:
                    batch.statuses.append(status)
    return batch


# The keys of a message object every type has; every other top-level key is
# kept (the type's object in ``content`` itself, the rest as listed below).
_ENVELOPE = frozenset(("from", "id", "timestamp", "type"))
# Top-level keys any type may carry, kept verbatim under the same name in ``content``.
_SHARED = ("context", "referral", "errors", "identity")


def _kind_of(raw: dict[str, Any]) -> str:
    """``type``, or for a message without one (Meta's own ``contacts`` example
    has none) the key that holds its object."""
    kind = _str(raw.get("type"))
    if kind:
        return kind
    for key, value in raw.items():
        if key not in _ENVELOPE and key not in _SHARED and isinstance(value, (dict, list)):
            return key
    return "unknown"


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def _parse_message(raw: Any, number_id: str, display: str, senders: dict[str, dict[str, Any]]) -> WebhookMessage | None:
    if not isinstance(raw, dict):
        return None
    wamid, sender, user_id = _str(raw.get("id")), _str(raw.get("from")), _str(raw.get("from_user_id"))
    if not is_bsuid(user_id):
        user_id = None
    sender = sender or user_id  # a username user hiding their phone: known by BSUID only
    if not wamid or not sender or len(wamid) > MAX_ID or len(sender) > MAX_ID:
        return None  # Meta's ids are short: this is not one of its messages
    kind = _kind_of(raw)
    wa_type = kind
    text: str | None = None
    reply_id: str | None = None
    value = raw.get(kind)
    body = _dict(value)
    content: dict[str, Any]

    # Each type's object is kept whole; the names the engine reads (text,
    # reply_id, media_id, ...) are added next to what Meta sent.
    if kind == "text":
        text = _str(body.get("body")) or ""
        content = _without(body, "body")
        content["text"] = text
    elif kind == "interactive":
        itype = _str(body.get("type")) or "unknown"
        choice = _dict(body.get(itype))
        reply_id, text = _str(choice.get("id")), _str(choice.get("title"))
        kind = itype if itype in ("button_reply", "list_reply") else f"interactive:{itype}"
        content = _without(body, "type", itype)  # anything else the interactive object holds
        content.update(_without(choice, "id", "title"))  # description; nfm_reply: response_json, body, name
        content["text"], content["reply_id"] = text, reply_id
    elif kind == "button":  # quick-reply button of a template
        text, reply_id = _str(body.get("text")), _str(body.get("payload"))
        content = _without(body, "text", "payload")
        content["text"], content["reply_id"] = text, reply_id
    elif kind in MEDIA_TYPES:  # id, mime_type, sha256, caption, filename, animated, voice, url, ...
        content = dict(body)
        content["media_id"] = _str(body.get("id"))
        text = _str(body.get("caption"))
    elif kind == "location":  # latitude, longitude, name, address, url
        content = dict(body)
        text = _str(body.get("name")) or _str(body.get("address"))
    elif kind == "contacts":  # the shared cards: name, phones, emails, addresses, org, urls, birthday
        content = {"contacts": value if isinstance(value, list) else []}
    elif kind == "reaction":
        emoji = _str(body.get("emoji")) or None  # absent or empty: the reaction was removed
        content = _without(body, "emoji", "message_id")
        content.update(emoji=emoji, reacted_message_id=_str(body.get("message_id")), removed=emoji is None)
        text = emoji
    elif kind in ("order", "system"):
        # order: catalog_id, text, product_items; system: body, type, wa_id / new_wa_id, ...
        content = dict(body)
        text = _str(body.get("text" if kind == "order" else "body"))
        if kind == "system":
            content["text"] = text
    else:  # unsupported, unknown, request_welcome, a type this version does not know: kept as is
        content = {"raw": value} if value else {}

    for key in ("text", "caption"):  # read as text downstream (a flow's matching, the inbox): one that is not
        if content.get(key) is not None and not isinstance(content[key], str):  # (a dict) crashed the step
            content[key] = _str(content[key])
    content["kind"] = kind
    for key in _SHARED:
        if key in raw:
            content[key] = raw[key]
    context = _dict(raw.get("context"))
    context_wamid = _str(context.get("id"))
    if context:  # from, id, forwarded, frequently_forwarded, referred_product: as Meta sent them
        content["context"] = {**context, "message_id": context_wamid} if context_wamid else context
    if "errors" in raw:  # as Meta sent them, with code/title/message/details always there
        content["errors"] = [{**_error(err).to_json(), **err} for err in _list(raw["errors"]) if isinstance(err, dict)]
    extra = {k: v for k, v in raw.items() if k not in _ENVELOPE and k not in _SHARED and k != wa_type}
    if extra:  # group_id and whatever Meta adds next
        content["extra"] = extra
    profile = senders.get(sender) or {}
    if len(profile) > 1:  # beyond the name: identity_key_hash, user_id, ...
        content["sender"] = _without(profile, "name")
    if user_id is None and is_bsuid(profile.get("user_id")):
        user_id = str(profile["user_id"])
    if user_id is not None:
        content.setdefault("sender", {})["user_id"] = user_id
    return WebhookMessage(
        phone_number_id=number_id,
        display_phone_number=display,
        wa_id=sender,
        profile_name=profile.get("name"),
        wamid=wamid,
        timestamp=_timestamp(raw.get("timestamp")),
        kind=kind,
        column_type=_COLUMN_TYPE.get(kind, "text"),
        content=content,
        text=text,
        reply_id=reply_id,
        context_wamid=context_wamid,
        raw=raw,
        user_id=user_id,
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
        recipient_user_id=_str(raw.get("recipient_user_id")),
    )


def _errors(value: Any) -> list[MetaError]:
    return [_error(err) for err in _list(value) if isinstance(err, dict)]


def _error(err: dict[str, Any]) -> MetaError:
    code = err.get("code")
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    return MetaError(
        code=code,
        title=_str(err.get("title")) or "",
        message=_str(err.get("message")) or "",
        # error_data.details; older payloads had details next to the code
        details=_str(_dict(err.get("error_data")).get("details") or err.get("details")) or "",
    )


# WhatsApp's first year: a message or status timestamp before it (0001-01-01 was stored as PostgreSQL's
# -infinity, read back naive, and the reply's send then failed on every attempt) is taken as now
_EARLIEST = datetime(2009, 1, 1, tzinfo=timezone.utc)


def _timestamp(value: Any) -> datetime:
    now = datetime.now(timezone.utc)
    try:
        at = datetime.fromtimestamp(int(value), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return now
    return at if _EARLIEST <= at else now


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
