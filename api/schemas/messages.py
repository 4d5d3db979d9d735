"""Messages of a conversation, and the agent's reply (queued in the outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from api.schemas.common import NON_BLANK, HttpUrl, Input, Output, field_error
from engine.whatsapp_limits import (
    BUTTON_ID, BUTTON_TITLE, BUTTONS, CAPTION, FOOTER_TEXT, HEADER_TEXT, INTERACTIVE_BODY, LIST_BUTTON, ROW_DESCRIPTION,
    ROW_ID, ROW_TITLE, ROWS, SECTION_TITLE,
)

MEDIA = ("image", "video", "audio", "document")
_UNSET = {"maxLength": 0}  # absent, null or "" (a string property)
_NULL = {"type": "null"}
_ABSENT = {"not": {}}  # the property must not be there
_NOT_INTERACTIVE = {"buttons": _ABSENT, "rows": _ABSENT, "button": _ABSENT, "section_title": _ABSENT,
                    "header": _ABSENT, "footer": _ABSENT, "shortcut": _ABSENT, "variables": _ABSENT}
_NO_MEDIA = {"media_url": _NULL, "upload_id": _NULL, "filename": _UNSET, "caption": _UNSET}
_BODY = {"type": "string", "pattern": NON_BLANK, "maxLength": INTERACTIVE_BODY}  # an interactive message's text
_ONE_SOURCE = [{"required": ["media_url"], "properties": {"media_url": {"type": "string"}, "upload_id": _NULL}},
               {"required": ["upload_id"], "properties": {"upload_id": {"type": "string"}, "media_url": _NULL}}]
# `ReplyIn._content`'s rules, as /openapi.json states them: exactly one branch per kind of
# reply, told apart by ``type`` (docs/replies.md has an example of each)
REPLY_KINDS = [
    {"title": "text", "properties": {"type": {"const": "text"}, "text": {"type": "string", "pattern": NON_BLANK},
                                     **_NO_MEDIA, "template": _NULL, **_NOT_INTERACTIVE}, "required": ["text"]},
    {"title": "image or video", "properties": {"type": {"enum": ["image", "video"]}, "filename": _UNSET,
                                               "template": _NULL, **_NOT_INTERACTIVE},
     "required": ["type"], "oneOf": _ONE_SOURCE},
    {"title": "audio", "properties": {"type": {"const": "audio"}, "caption": _UNSET, "filename": _UNSET,
                                      "template": _NULL, **_NOT_INTERACTIVE},
     "required": ["type"], "oneOf": _ONE_SOURCE},
    {"title": "document", "properties": {"type": {"const": "document"}, "template": _NULL, **_NOT_INTERACTIVE},
     "required": ["type"], "oneOf": _ONE_SOURCE},
    {"title": "reply buttons", "properties": {"type": {"const": "button"}, "text": _BODY,
                                              "buttons": {"type": "array"}, **_NO_MEDIA,
                                              "template": _NULL, "rows": _ABSENT, "button": _ABSENT,
                                              "section_title": _ABSENT, "shortcut": _ABSENT, "variables": _ABSENT},
     "required": ["type", "text", "buttons"]},
    {"title": "list", "properties": {"type": {"const": "list"}, "text": _BODY, "button": {"type": "string"},
                                     "rows": {"type": "array"}, **_NO_MEDIA,
                                     "template": _NULL, "buttons": _ABSENT, "shortcut": _ABSENT,
                                     "variables": _ABSENT},
     "required": ["type", "text", "button", "rows"]},
    {"title": "quick reply", "properties": {"type": {"const": "quick_reply"}, "shortcut": {"type": "string"},
                                            "text": _NULL, **_NO_MEDIA,
                                            "template": _NULL, "buttons": _ABSENT, "rows": _ABSENT,
                                            "button": _ABSENT, "section_title": _ABSENT, "header": _ABSENT,
                                            "footer": _ABSENT},
     "required": ["type", "shortcut"]},
    {"title": "template", "properties": {"type": {"const": "template"}, "template": {"type": "object"},
                                         "text": _NULL, **_NO_MEDIA, **_NOT_INTERACTIVE},
     "required": ["type", "template"]},
]


TemplateValue = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class TemplateButtonValue(Input):
    """The value of a button's parameter (``index``: the button's position, from 0): a URL
    button's ``{{1}}``, a copy-code button's coupon code, an OTP button's code."""

    index: Annotated[int, Field(ge=0, le=9)]
    text: TemplateValue


class TemplateLocation(Input):
    """The place a LOCATION header shows."""

    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None
    address: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None


class TemplateSend(Input):
    """An approved template and its parameters, checked against the template before Meta sees them:
    ``body`` fills ``{{1}}``, ``{{2}}``, ... in order; ``header`` a TEXT header's ``{{1}}``;
    ``header_media_url`` an IMAGE/VIDEO/DOCUMENT header; ``header_location`` a LOCATION header;
    ``buttons`` URL buttons' ``{{1}}``, copy-code buttons' coupon, OTP buttons' code."""

    id: uuid.UUID
    body: Annotated[list[TemplateValue], Field(max_length=100)] = []
    header: TemplateValue | None = None
    header_media_url: HttpUrl | None = None
    header_location: TemplateLocation | None = None
    buttons: Annotated[list[TemplateButtonValue], Field(max_length=10)] = []


ButtonTitle = Annotated[str, StringConstraints(min_length=1, max_length=BUTTON_TITLE, pattern=NON_BLANK)]


class ReplyButton(Input):
    """A reply button: what the customer taps (``title``) and what comes back (``id``)."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=BUTTON_ID)]
    title: ButtonTitle


class ListRow(Input):
    """A row of a list message."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=ROW_ID)]
    title: Annotated[str, StringConstraints(min_length=1, max_length=ROW_TITLE, pattern=NON_BLANK)]
    description: Annotated[str, StringConstraints(max_length=ROW_DESCRIPTION)] | None = None


VariableName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ReplyIn(Input):
    """An agent's reply, one of (``type``): ``text``; ``image``/``video``/``audio``/``document``
    (``media_url`` or an ``upload_id`` from ``POST /uploads``, + ``caption``/``filename``);
    ``button`` (``text`` + 1–3 ``buttons``) and ``list`` (``text`` + ``button`` + 1–10 ``rows``),
    within WhatsApp's limits; ``quick_reply`` (a saved reply by ``shortcut``, its
    ``{{contact.name}}``-style variables filled in); ``template`` (an approved template and its
    parameters: the only kind that reaches a customer outside the 24-hour window)."""

    model_config = ConfigDict(json_schema_extra={"oneOf": REPLY_KINDS})

    type: Literal["text", "image", "video", "audio", "document", "button", "list", "quick_reply",
                  "template"] = "text"
    text: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    media_url: HttpUrl | None = None
    upload_id: uuid.UUID | None = None
    caption: Annotated[str, StringConstraints(max_length=CAPTION)] | None = None
    filename: Annotated[str, StringConstraints(max_length=255)] | None = None
    header: Annotated[str, StringConstraints(min_length=1, max_length=HEADER_TEXT)] | None = None
    footer: Annotated[str, StringConstraints(min_length=1, max_length=FOOTER_TEXT)] | None = None
    buttons: Annotated[list[ReplyButton], Field(min_length=1, max_length=BUTTONS)] | None = None
    button: Annotated[str, StringConstraints(min_length=1, max_length=LIST_BUTTON, pattern=NON_BLANK)] | None = None
    section_title: Annotated[str, StringConstraints(min_length=1, max_length=SECTION_TITLE)] | None = None
    rows: Annotated[list[ListRow], Field(min_length=1, max_length=ROWS)] | None = None
    shortcut: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    variables: Annotated[dict[VariableName, Annotated[str, StringConstraints(max_length=1024)]],
                         Field(max_length=50)] | None = None
    template: TemplateSend | None = None

    @model_validator(mode="after")
    def _content(self) -> "ReplyIn":
        if (self.type == "template") != (self.template is not None):
            raise field_error("template", "template is required for a template message, and only for one")
        interactive = self.type in ("button", "list")
        allowed = {"button": {"buttons", "header", "footer"},
                   "list": {"rows", "button", "section_title", "header", "footer"}}.get(self.type, set())
        for name in ("buttons", "rows", "button", "section_title", "header", "footer"):
            if getattr(self, name) is not None and name not in allowed:
                raise field_error(name, f"{name} is not part of a {self.type} message")
        if (self.shortcut is not None or self.variables is not None) and self.type != "quick_reply":
            raise field_error("shortcut" if self.shortcut is not None else "variables",
                              "shortcut and variables are only for a quick_reply")
        if self.type not in MEDIA:
            for name in ("media_url", "upload_id"):
                if getattr(self, name) is not None:
                    raise field_error(name, f"{name} is only for media messages")
        if self.type == "template":
            if self.text is not None:
                raise field_error("text", "a template message carries the template's parameters only")
        elif self.type == "text":
            if not self.text or not self.text.strip():
                raise field_error("text", "text is required for a text message")
        elif interactive:
            if not self.text or not self.text.strip():
                raise field_error("text", f"text (the message body) is required for a {self.type} message")
            if len(self.text) > INTERACTIVE_BODY:
                raise field_error("text", f"WhatsApp takes at most {INTERACTIVE_BODY} characters in the body "
                                          f"of a {self.type} message")
            self._check_options()
        elif self.type == "quick_reply":
            if self.shortcut is None:
                raise field_error("shortcut", "shortcut (e.g. /hello) is required for a quick_reply")
            if self.text is not None:
                raise field_error("text", "a quick_reply's text is the saved reply's")
        elif (self.media_url is None) == (self.upload_id is None):
            raise field_error("media_url", f"a {self.type} message needs media_url or upload_id (one of them)")
        elif self.type == "audio" and self.caption:
            raise field_error("caption", "WhatsApp shows no caption with an audio: send the text as its own message")
        if self.caption and self.type not in MEDIA:
            raise field_error("caption", "caption is only for media messages")
        if self.filename and self.type != "document":
            raise field_error("filename", "filename is only for document messages")
        return self

    def _check_options(self) -> None:
        if self.type == "button":
            if not self.buttons:
                raise field_error("buttons", f"a button message needs 1 to {BUTTONS} buttons")
            options, label = self.buttons, "buttons"
        else:
            if not self.rows:
                raise field_error("rows", f"a list message needs 1 to {ROWS} rows")
            if not self.button:
                raise field_error("button", "button (the text of the list's button) is required")
            options, label = self.rows, "rows"
        seen_ids: set[str] = set()
        seen_titles: set[str] = set()
        for i, option in enumerate(options):
            if option.id in seen_ids:
                raise field_error(f"{label}.{i}.id", f"{label} ids must be unique: {option.id!r} is repeated")
            if option.title in seen_titles and self.type == "button":
                raise field_error(f"{label}.{i}.title", f"WhatsApp refuses two buttons titled {option.title!r}")
            seen_ids.add(option.id)
            seen_titles.add(option.title)

    def content(self) -> dict[str, Any]:
        """``messages.content`` as SCHEMA.md shapes it (the type is its own column)."""
        if self.type == "text":
            return {"text": self.text}
        if self.type in ("button", "list"):
            body: dict[str, Any] = {"text": self.text}
            for name in ("header", "footer", "button", "section_title"):
                if getattr(self, name) is not None:
                    body[name] = getattr(self, name)
            options = self.buttons if self.type == "button" else self.rows
            body["buttons" if self.type == "button" else "rows"] = [
                o.model_dump(exclude_none=True) for o in options or ()]
            return body
        body = {"media_url": self.media_url} if self.media_url else {}
        if self.caption:
            body["caption"] = self.caption
        if self.filename:
            body["filename"] = self.filename
        return body


class UploadOut(Output):
    """A file waiting for the reply that sends it (``upload_id``, for an hour)."""

    upload_id: uuid.UUID
    kind: str  # the message type it goes as: image, video, audio, document, sticker
    mime_type: str
    size: int
    sha256: str
    filename: str | None = None
    expires_in: int


class MessageError(Output):
    """Why a message failed: Meta's error code, message and details (when Meta refused it)."""

    code: int | None = None
    message: str
    details: str | None = None


class MessageMedia(Output):
    """A media message's file as PyTake keeps it."""

    status: Literal["stored", "failed"]
    url: str | None = None
    mime_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    filename: str | None = None
    error: str | None = None


class MessageOut(Output):
    id: uuid.UUID
    conversation_id: uuid.UUID
    direction: str
    sender_type: str | None = None
    sender_id: uuid.UUID | None = None
    whatsapp_message_id: str | None = None
    type: str | None = None
    content: Any = None
    status: str | None = None
    error_message: str | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    metadata: dict[str, Any] | None = Field(None)
    created_at: datetime
    error: MessageError | None = Field(None, description="why the message failed (status failed): Meta's "
                                                         "error code, message and details when Meta refused it")
    media: MessageMedia | None = Field(None, description="the file of a media message: stored (fetch it "
                                                         "from url), or failed and why")

    @model_validator(mode="after")
    def _derived(self) -> "MessageOut":
        meta = self.metadata or {}
        if self.status == "failed":
            meta_error = meta.get("meta_error") if isinstance(meta.get("meta_error"), dict) else {}
            code = meta_error.get("code")
            self.error = MessageError(code=code if isinstance(code, int) else None,
                                      message=str(meta_error.get("message") or self.error_message or "failed"),
                                      details=str(meta_error.get("details") or "") or None)
        media = meta.get("media")
        if isinstance(media, dict) and media.get("status"):
            stored = media["status"] == "stored"
            self.media = MessageMedia(
                status=str(media["status"]), mime_type=media.get("mime_type"), size=media.get("size"),
                sha256=media.get("sha256"), filename=media.get("filename"), error=media.get("error"),
                url=f"/conversations/{self.conversation_id}/messages/{self.id}/media" if stored else None)
        return self
