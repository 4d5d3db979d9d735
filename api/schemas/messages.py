"""Messages of a conversation, and the agent's reply (queued in the outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from api.schemas.common import NON_BLANK, HttpUrl, Input, Output, field_error

MEDIA = ("image", "video", "audio", "document")
_UNSET = {"maxLength": 0}  # absent, null or "" (a string property)
# `ReplyIn._content`'s rules, as /openapi.json states them (one branch per kind of reply)
_NULL = {"type": "null"}
REPLY_KINDS = [
    {"properties": {"type": {"const": "text"}, "text": {"type": "string", "pattern": NON_BLANK},
                    "media_url": _NULL, "filename": _UNSET, "template": _NULL}, "required": ["text"]},
    {"properties": {"type": {"enum": ["image", "video"]}, "media_url": {"type": "string"}, "filename": _UNSET,
                    "template": _NULL}, "required": ["type", "media_url"]},
    {"properties": {"type": {"const": "audio"}, "media_url": {"type": "string"}, "caption": _UNSET,
                    "filename": _UNSET, "template": _NULL}, "required": ["type", "media_url"]},
    {"properties": {"type": {"const": "document"}, "media_url": {"type": "string"}, "template": _NULL},
     "required": ["type", "media_url"]},
    {"properties": {"type": {"const": "template"}, "template": {"type": "object"}, "text": _NULL,
                    "media_url": _NULL, "filename": _UNSET}, "required": ["type", "template"]},
]


TemplateValue = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class TemplateButtonValue(Input):
    """The value of a URL button's ``{{1}}`` (``index``: the button's position, from 0)."""

    index: Annotated[int, Field(ge=0, le=9)]
    text: TemplateValue


class TemplateSend(Input):
    """An approved template and its parameters, checked against the template before Meta sees them:
    ``body`` fills ``{{1}}``, ``{{2}}``, ... in order; ``header`` a TEXT header's ``{{1}}``;
    ``header_media_url`` an IMAGE/VIDEO/DOCUMENT header; ``buttons`` URL buttons' ``{{1}}``."""

    id: uuid.UUID
    body: Annotated[list[TemplateValue], Field(max_length=100)] = []
    header: TemplateValue | None = None
    header_media_url: HttpUrl | None = None
    buttons: Annotated[list[TemplateButtonValue], Field(max_length=10)] = []


class ReplyIn(Input):
    """An agent's reply. ``text`` for text; ``media_url`` (+ ``caption``) for media; ``template``
    for a template message (the only kind that reaches a customer outside the 24-hour window)."""

    model_config = ConfigDict(json_schema_extra={"anyOf": REPLY_KINDS})

    type: Literal["text", "image", "video", "audio", "document", "template"] = "text"
    text: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    media_url: HttpUrl | None = None
    caption: Annotated[str, StringConstraints(max_length=1024)] | None = None
    filename: Annotated[str, StringConstraints(max_length=255)] | None = None
    template: TemplateSend | None = None

    @model_validator(mode="after")
    def _content(self) -> "ReplyIn":
        if (self.type == "template") != (self.template is not None):
            raise field_error("template", "template is required for a template message, and only for one")
        if self.type == "template":
            if self.text is not None or self.media_url is not None:
                raise field_error("text", "a template message carries the template's parameters only")
        elif self.type == "text":
            if not self.text or not self.text.strip():
                raise field_error("text", "text is required for a text message")
            if self.media_url is not None:
                raise field_error("media_url", "media_url is only for media messages")
        elif self.media_url is None:
            raise field_error("media_url", f"media_url is required for a {self.type} message")
        elif self.type == "audio" and self.caption:
            raise field_error("caption", "WhatsApp shows no caption with an audio: send the text as its own message")
        if self.filename and self.type != "document":
            raise field_error("filename", "filename is only for document messages")
        return self

    def content(self) -> dict[str, Any]:
        """``messages.content`` as SCHEMA.md shapes it (the type is its own column)."""
        if self.type == "text":
            return {"text": self.text}
        body: dict[str, Any] = {"media_url": self.media_url}
        if self.caption:
            body["caption"] = self.caption
        if self.filename:
            body["filename"] = self.filename
        return body


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
