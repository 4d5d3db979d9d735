"""A template message's parameters checked against the stored template, then Meta's components.

Meta answers error 132000 ("number of parameters does not match") after the
fact, and the message is lost; here every parameter the approved template
needs is checked before the row reaches the outbox: the body's ``{{n}}``
count, a TEXT header's ``{{1}}``, a media header's media, URL buttons'
``{{1}}``, copy-code buttons' coupon and authentication templates' OTP code; a missing one is a 422 naming it (``template.body[1]``, ...), and so is
one Meta refuses (error 132018: blank, or a body parameter with a line break, a
tab or more than four spaces in a row), and a media header's URL of another kind
of file (a .pdf for an IMAGE header: Meta's 131053). Only
an APPROVED template of the conversation's number can be sent.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from api.db.models import WhatsAppTemplate
from api.errors import ValidationFailed
from api.schemas.messages import TemplateSend
from api.whatsapp.templates import MEDIA_HEADERS, PLACEHOLDER, placeholders
from engine.urls import http_url_problem


def _text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def template_content(template: WhatsAppTemplate, send: TemplateSend, number_id: Any) -> dict[str, Any]:
    """``messages.content`` of a template message (its ``template`` is Meta's template object)."""
    if template.whatsapp_number_id is not None and template.whatsapp_number_id != number_id:
        raise ValidationFailed("template.id", f"template {template.name!r} belongs to another WhatsApp number")
    if template.meta_status != "APPROVED" or not template.is_active:
        state = template.meta_status if template.is_active else "deactivated"
        raise ValidationFailed("template.id", f"template {template.name!r} is {state}: only APPROVED, active "
                                              "templates can be sent")
    components: list[dict[str, Any]] = []
    header = _header(template, send)
    if header is not None:
        components.append(header)
    names = placeholders(template.body_text)
    for i in range(len(names)):
        if i >= len(send.body):
            raise ValidationFailed(f"template.body[{i}]", f"the body's {{{{{i + 1}}}}} is missing: template "
                                                          f"{template.name!r} needs {len(names)} body parameters")
    if len(send.body) > len(names):
        raise ValidationFailed(f"template.body[{len(names)}]", f"template {template.name!r} has "
                                                               f"{len(names)} body parameters, {len(send.body)} given")
    for i, value in enumerate(send.body):
        _check_value(value, f"template.body[{i}]", body=True)
    if names:
        components.append({"type": "body", "parameters": [_text(v) for v in send.body]})
    components += _buttons(template, send)
    body = send.body
    # {{n}} by its number; one outside the values given (a body Meta numbers otherwise) stays as written
    preview = PLACEHOLDER.sub(lambda m: body[int(m.group(1)) - 1]
                              if m.group(1).isdigit() and 1 <= int(m.group(1)) <= len(body) else m.group(0),
                              template.body_text)
    tpl: dict[str, Any] = {"name": template.name, "language": {"code": template.language or "pt_BR"}}
    if components:
        tpl["components"] = components
    out = {"template": tpl, "template_id": str(template.id), "text": preview}
    shown = _shown(template, send, header)
    if shown:
        out["shown"] = shown
    return out


def _shown(template: WhatsAppTemplate, send: TemplateSend, header: dict[str, Any] | None) -> dict[str, Any]:
    """What the customer sees of the template besides its body (``text``), as it was when sent (the
    template may change or go later): the header (its text, with ``{{1}}`` filled; a media header's
    kind and link; a location header's place), the footer, the buttons' titles. The inbox shows it."""
    shown: dict[str, Any] = {}
    if template.header_type == "TEXT" and template.header_content:
        value = send.header or ""
        shown["header"] = PLACEHOLDER.sub(lambda m: value if value else m.group(0), template.header_content)
    elif header is not None and template.header_type in MEDIA_HEADERS:
        media = template.header_type.lower()
        shown["header_media"] = {"type": media, "link": str(send.header_media_url)}
    elif header is not None and template.header_type == "LOCATION":
        shown["header_location"] = header["parameters"][0]["location"]
    if template.footer_text:
        shown["footer"] = template.footer_text
    titles = [str(b.get("text")) for b in template.buttons or [] if isinstance(b, dict) and b.get("text")]
    if titles:
        shown["buttons"] = titles
    return shown


# what Meta refuses in a body parameter (error 132018): a line break, a tab, more than 4 spaces in a row
BODY_FORBIDDEN = re.compile(r"[\n\t]| {5,}")


def parameter_problem(value: str, body: bool) -> str | None:
    """Why Meta would refuse ``value`` as a text parameter (a body's when ``body``), or None."""
    if not value.strip():
        return "is empty (only spaces)"
    if body and BODY_FORBIDDEN.search(value):
        return "has a line break, a tab or more than 4 spaces in a row (WhatsApp refuses them in body parameters)"
    return None


def _check_value(value: str, field: str, body: bool) -> None:
    problem = parameter_problem(value, body)
    if problem is not None:
        raise ValidationFailed(field, f"this parameter {problem}")


# the files each media header takes (WhatsApp's supported media types), by extension
MEDIA_EXTENSIONS = {"IMAGE": ("jpeg", "jpg", "png"), "VIDEO": ("3gp", "3gpp", "mp4"),
                    "DOCUMENT": ("doc", "docx", "pdf", "ppt", "pptx", "txt", "xls", "xlsx")}
# media no header takes: a URL ending so is the wrong kind whatever the header
_OTHER_MEDIA = ("aac", "amr", "avi", "bmp", "gif", "heic", "m4a", "mkv", "mov", "mp3", "ogg", "opus", "svg", "tif",
                "tiff", "wav", "webm", "webp", "wmv")


def media_kind_problem(url: str, kind: str) -> str | None:
    """Why ``url`` cannot be a ``kind`` header's media, judged by its file extension (Meta fails
    the message after the fact, error 131053); None when it may be (no extension known is fine)."""
    try:
        path = urlsplit(url).path
    except ValueError:  # "https://[bad/x.jpg": not a URL at all
        return "this is not a URL"
    extension = PurePosixPath(path).suffix.lower().lstrip(".")
    known = {e for extensions in MEDIA_EXTENSIONS.values() for e in extensions} | set(_OTHER_MEDIA)
    if extension in known and extension not in MEDIA_EXTENSIONS[kind]:
        return (f"a {kind} header takes a {', '.join(MEDIA_EXTENSIONS[kind])} file: this URL is a "
                f".{extension} file")
    return None


def _header(template: WhatsAppTemplate, send: TemplateSend) -> dict[str, Any] | None:
    kind = template.header_type
    if kind == "LOCATION":
        if send.header_location is None:
            raise ValidationFailed("template.header_location", f"template {template.name!r} has a LOCATION "
                                                               "header: its latitude and longitude are required")
        place = send.header_location.model_dump(exclude_none=True)
        return {"type": "header", "parameters": [{"type": "location", "location": place}]}
    if send.header_location is not None:
        raise ValidationFailed("template.header_location", f"template {template.name!r} has no location header")
    if kind in MEDIA_HEADERS:
        if send.header_media_url is None:
            raise ValidationFailed("template.header_media_url", f"template {template.name!r} has a "
                                                                f"{kind} header: its media URL is required")
        wrong = media_kind_problem(str(send.header_media_url), kind)
        if wrong is None and (problem := http_url_problem(str(send.header_media_url))) is not None:
            wrong = f"the header's media URL {problem}"  # a host that does not parse, a port out of range
        if wrong is not None:
            raise ValidationFailed("template.header_media_url", wrong)
        media = kind.lower()
        return {"type": "header", "parameters": [{"type": media, media: {"link": send.header_media_url}}]}
    if send.header_media_url is not None:
        raise ValidationFailed("template.header_media_url", f"template {template.name!r} has no media header")
    needs_text = kind == "TEXT" and bool(placeholders(template.header_content))
    if needs_text and send.header is None:
        raise ValidationFailed("template.header", f"the header's {{{{1}}}} is missing: template "
                                                  f"{template.name!r} needs a header parameter")
    if not needs_text and send.header is not None:
        raise ValidationFailed("template.header", f"template {template.name!r} has no header parameter")
    if not needs_text:
        return None
    _check_value(send.header, "template.header", body=False)
    return {"type": "header", "parameters": [_text(send.header)]}


# Meta's limit on a copy-code button's coupon and on an authentication template's code
CODE_MAX = 15


def _buttons(template: WhatsAppTemplate, send: TemplateSend) -> list[dict[str, Any]]:
    """The button components: a URL button's ``{{1}}``; a COPY_CODE button's coupon code; an
    authentication template's OTP button (copy code, one tap, zero tap) takes the code, the
    body's ``{{1}}`` unless given (Meta refuses the message without it: 132000)."""
    given = {b.index: b.text for b in send.buttons}
    if len(given) != len(send.buttons):
        raise ValidationFailed("template.buttons", "a button index is given twice")
    out = []
    buttons = template.buttons or []
    for index, button in enumerate(buttons):
        kind = str(button.get("type") or "").upper()
        field = f"template.buttons[{index}]"
        if kind == "OTP" and index not in given and len(send.body) == 1:
            given[index] = send.body[0]
        if kind == "URL" and placeholders(button.get("url")):
            if index not in given:
                raise ValidationFailed(field, f"the {{{{1}}}} of URL button {index} ({button.get('text')!r}) "
                                              "is missing")
            _check_value(given[index], field, body=False)
            out.append({"type": "button", "sub_type": "url", "index": str(index),
                        "parameters": [_text(given.pop(index))]})
        elif kind in ("COPY_CODE", "OTP"):
            what = "the coupon code of copy-code button" if kind == "COPY_CODE" else "the code of OTP button"
            if index not in given:
                raise ValidationFailed(field, f"{what} {index} is missing")
            _check_value(given[index], field, body=False)
            if len(given[index]) > CODE_MAX and "{{" not in given[index]:  # a campaign's expression: per recipient
                raise ValidationFailed(field, f"{what} {index} has {len(given[index])} characters: WhatsApp "
                                              f"takes at most {CODE_MAX}")
            value = given.pop(index)
            parameter = {"type": "coupon_code", "coupon_code": value} if kind == "COPY_CODE" else _text(value)
            out.append({"type": "button", "sub_type": "copy_code" if kind == "COPY_CODE" else "url",
                        "index": str(index), "parameters": [parameter]})
    if given:
        index = min(given)
        raise ValidationFailed("template.buttons", f"button {index} of template {template.name!r} takes no "
                                                   "parameter")
    return out
