"""What the sandbox Graph API refuses in a ``/messages`` request, as Meta documents it.

`check_send(doc)` returns None for a request Meta would accept, else an
`Invalid` with Meta's code and ``details``: 131008 for a missing required
parameter, 131009 for a value Meta refuses (a length, a count, a duplicate,
an unknown type), 100 for a parameter that is not one of the object's.
The addressee is ``to`` (a phone) or ``recipient`` (a business-scoped user
id; ``to`` wins when both are present). The lengths are Meta's (engine/whatsapp_limits.py, the one table PyTake
fits its messages to); the sandbox checks the request body itself, so a
sender that builds it wrong fails the project's tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from api.whatsapp.recipients import is_bsuid
from engine import whatsapp_limits as L

RECIPIENT = re.compile(r"^\+?[1-9]\d{6,14}$")  # E.164: up to 15 digits, the "+" optional
URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
CALLBACK_DATA = 512  # biz_opaque_callback_data
TEMPLATE_NAME = 512
TEMPLATE_COMPONENTS = ("header", "body", "footer", "button", "carousel", "limited_time_offer")
TEMPLATE_PARAMETERS = ("text", "currency", "date_time", "image", "video", "document", "location",
                       "payload", "coupon_code", "action", "order_status", "limited_time_offer", "product")


@dataclass(frozen=True)
class Invalid:
    code: int
    details: str


class _Refused(Exception):
    def __init__(self, code: int, details: str) -> None:
        super().__init__(details)
        self.invalid = Invalid(code, details)


def _missing(path: str) -> _Refused:
    return _Refused(131008, f"The parameter {path} is required.")


def _bad(details: str) -> _Refused:
    return _Refused(131009, details)


def _object(parent: Any, key: str, path: str) -> dict[str, Any]:
    value = parent.get(key)
    if value is None:
        raise _missing(path)
    if not isinstance(value, dict):
        raise _Refused(100, f"Param {path} must be a JSON object.")
    return value


def _string(parent: dict[str, Any], key: str, path: str, limit: int | None, *, required: bool = True,
            label: str | None = None) -> str | None:
    value = parent.get(key)
    if value is None:
        if required:
            raise _missing(path)
        return None
    if not isinstance(value, str):
        raise _Refused(100, f"Param {path} must be a string.")
    if required and not value.strip():
        raise _missing(path)
    if limit is not None and len(value) > limit:
        name = label or path
        raise _bad(f"{name} length invalid. Min length: {1 if required else 0}, Max length: {limit}")
    return value


def check_send(doc: dict[str, Any]) -> Invalid | None:
    """None when Meta would take this send request; else why not."""
    try:
        _check(doc)
    except _Refused as exc:
        return exc.invalid
    return None


def _check(doc: dict[str, Any]) -> None:
    recipient_type = doc.get("recipient_type", "individual")
    if recipient_type != "individual":
        raise _bad(f"recipient_type {recipient_type!r} is not valid (individual).")
    to, recipient = doc.get("to"), doc.get("recipient")
    if (to is None or to == "") and (recipient is None or recipient == ""):
        raise _missing("to")
    if to is not None and to != "" and (not isinstance(to, str) or not RECIPIENT.match(to)):
        raise _Refused(100, f"Param to {to!r} is not a valid phone number (E.164 digits, e.g. 5511987654321).")
    if recipient is not None and not is_bsuid(recipient):
        raise _Refused(100, f"Param recipient {recipient!r} is not a valid business-scoped user ID "
                            "(a country code, a period and up to 128 letters or digits, e.g. US.13491208655302741918).")
    callback = doc.get("biz_opaque_callback_data")
    if callback is not None and (not isinstance(callback, str) or len(callback) > CALLBACK_DATA):
        raise _bad(f"biz_opaque_callback_data must be a string of at most {CALLBACK_DATA} characters.")
    context = doc.get("context")
    if context is not None:
        _string(_object(doc, "context", "context"), "message_id", "context['message_id']", None)
    mtype = doc.get("type", "text")
    body = _object(doc, mtype, mtype)
    if mtype == "text":
        _string(body, "body", "text['body']", L.TEXT_BODY, label="Message body")
        if "preview_url" in body and not isinstance(body["preview_url"], bool):
            raise _Refused(100, "Param text['preview_url'] must be a boolean.")
    elif mtype in MEDIA_TYPES:
        _media(body, mtype, mtype)
    elif mtype == "interactive":
        _interactive(body)
    elif mtype == "template":
        _template(body)
    elif mtype == "reaction":
        _string(body, "message_id", "reaction['message_id']", None)
        if not isinstance(body.get("emoji"), str):
            raise _missing("reaction['emoji']")
    elif mtype == "location":
        for key in ("latitude", "longitude"):
            if not isinstance(body.get(key), (int, float, str)) or body.get(key) == "":
                raise _missing(f"location['{key}']")


def _media(media: dict[str, Any], mtype: str, path: str) -> None:
    has_id, has_link = bool(media.get("id")), bool(media.get("link"))
    if has_id == has_link:
        raise _bad(f"{path} needs exactly one of id (an uploaded media id) or link.")
    if has_link and (not isinstance(media["link"], str) or not URL.match(media["link"])):
        raise _bad(f"{path}['link'] is not a valid http(s) URL.")
    if "caption" in media:
        if mtype not in L.CAPTIONED_MEDIA:
            raise _Refused(100, f"Param {path}['caption'] is not a parameter of a {mtype} message.")
        _string(media, "caption", f"{path}['caption']", L.CAPTION, required=False, label="Caption")
    if "filename" in media and mtype != "document":
        raise _Refused(100, f"Param {path}['filename'] is not a parameter of a {mtype} message.")


def _interactive(box: dict[str, Any]) -> None:
    kind = box.get("type")
    if kind is None:
        raise _missing("interactive['type']")
    body = _object(box, "body", "interactive['body']")
    _string(body, "text", "interactive['body']['text']", L.INTERACTIVE_BODY, label="Body text")
    if "header" in box:
        header = _object(box, "header", "interactive['header']")
        htype = header.get("type")
        if htype == "text":
            _string(header, "text", "interactive['header']['text']", L.HEADER_TEXT, label="Header text")
        elif htype in ("image", "video", "document"):
            _media(_object(header, htype, f"interactive['header']['{htype}']"), htype,
                   f"interactive['header']['{htype}']")
        else:
            raise _bad(f"Header type {htype!r} is not valid (text, image, video, document).")
    if "footer" in box:
        footer = _object(box, "footer", "interactive['footer']")
        _string(footer, "text", "interactive['footer']['text']", L.FOOTER_TEXT, label="Footer text")
    action = _object(box, "action", "interactive['action']")
    if kind == "button":
        _buttons(action)
    elif kind == "list":
        _list(action)
    elif kind not in ("cta_url", "location_request_message", "flow", "product", "product_list",
                      "catalog_message", "address_message", "call_permission_request"):
        raise _bad(f"Interactive type {kind!r} is not valid.")


def _buttons(action: dict[str, Any]) -> None:
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not buttons:
        raise _missing("interactive['action']['buttons']")
    if len(buttons) > L.BUTTONS:
        raise _bad(f"Number of buttons invalid. Min: 1, Max: {L.BUTTONS}")
    ids, titles = set(), set()
    for i, button in enumerate(buttons):
        path = f"interactive['action']['buttons'][{i}]"
        if not isinstance(button, dict) or button.get("type") != "reply":
            raise _bad(f"{path}['type'] must be \"reply\".")
        reply = _object(button, "reply", f"{path}['reply']")
        bid = _string(reply, "id", f"{path}['reply']['id']", L.BUTTON_ID, label="Button id")
        title = _string(reply, "title", f"{path}['reply']['title']", L.BUTTON_TITLE, label="Button title")
        if bid in ids:
            raise _bad("Button ids must be unique.")
        if title in titles:
            raise _bad("Button titles must be unique.")
        ids.add(bid)
        titles.add(title)


def _list(action: dict[str, Any]) -> None:
    _string(action, "button", "interactive['action']['button']", L.LIST_BUTTON, label="Button text")
    sections = action.get("sections")
    if not isinstance(sections, list) or not sections:
        raise _missing("interactive['action']['sections']")
    if len(sections) > L.SECTIONS:
        raise _bad(f"Number of sections invalid. Min: 1, Max: {L.SECTIONS}")
    ids: set[str] = set()
    total = 0
    for s, section in enumerate(sections):
        path = f"interactive['action']['sections'][{s}]"
        if not isinstance(section, dict):
            raise _Refused(100, f"Param {path} must be a JSON object.")
        _string(section, "title", f"{path}['title']", L.SECTION_TITLE, required=len(sections) > 1,
                label="Section title")
        rows = section.get("rows")
        if not isinstance(rows, list) or not rows:
            raise _missing(f"{path}['rows']")
        for r, row in enumerate(rows):
            rpath = f"{path}['rows'][{r}]"
            if not isinstance(row, dict):
                raise _Refused(100, f"Param {rpath} must be a JSON object.")
            rid = _string(row, "id", f"{rpath}['id']", L.ROW_ID, label="Row id")
            _string(row, "title", f"{rpath}['title']", L.ROW_TITLE, label="Row title")
            _string(row, "description", f"{rpath}['description']", L.ROW_DESCRIPTION, required=False,
                    label="Row description")
            if rid in ids:
                raise _bad("Row ids must be unique across sections.")
            ids.add(rid)
        total += len(rows)
    if total > L.ROWS:
        raise _bad(f"Total row count exceed max allowed count: {L.ROWS}")


def _template(tpl: dict[str, Any]) -> None:
    _string(tpl, "name", "template['name']", TEMPLATE_NAME)
    language = _object(tpl, "language", "template['language']")
    _string(language, "code", "template['language']['code']", None)
    components = tpl.get("components")
    if components is None:
        return
    if not isinstance(components, list):
        raise _Refused(100, "Param template['components'] must be an array.")
    for i, component in enumerate(components):
        path = f"template['components'][{i}]"
        if not isinstance(component, dict):
            raise _Refused(100, f"Param {path} must be a JSON object.")
        ctype = component.get("type")
        if ctype not in TEMPLATE_COMPONENTS:
            raise _bad(f"{path}['type'] {ctype!r} is not valid ({', '.join(TEMPLATE_COMPONENTS)}).")
        if ctype == "button":
            if not component.get("sub_type"):
                raise _missing(f"{path}['sub_type']")
            if component.get("index") is None:
                raise _missing(f"{path}['index']")
        parameters = component.get("parameters", [])
        if not isinstance(parameters, list):
            raise _Refused(100, f"Param {path}['parameters'] must be an array.")
        for j, parameter in enumerate(parameters):
            ppath = f"{path}['parameters'][{j}]"
            if not isinstance(parameter, dict):
                raise _Refused(100, f"Param {ppath} must be a JSON object.")
            ptype = parameter.get("type")
            if ptype not in TEMPLATE_PARAMETERS:
                raise _bad(f"{ppath}['type'] {ptype!r} is not valid.")
            if ptype == "text":
                _string(parameter, "text", f"{ppath}['text']", None)
            elif ptype in ("image", "video", "document"):
                _media(_object(parameter, ptype, f"{ppath}['{ptype}']"), ptype, f"{ppath}['{ptype}']")
