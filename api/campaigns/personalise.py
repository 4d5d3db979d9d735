"""Per-recipient template parameters: a campaign's ``message_content`` values may
hold expressions, filled in for each recipient when the runner sends it.

- ``{{contact.name}}`` (the name, else the WhatsApp profile name),
  ``{{contact.first_name}}``, ``{{contact.phone}}`` (else the WhatsApp id),
  ``{{contact.whatsapp_id}}``, ``{{contact.email}}``;
- ``{{contact.attributes.<key>}}``: one of the contact's custom attributes;
- ``{{recipient.<column>}}``: a column of the campaign's recipients CSV import
  that is not a contact field, stored on the recipient (``campaign_recipients.variables``).

Text around them is kept (``"Olá {{contact.first_name}}!"``). An unknown
expression is a 422 naming the parameter (``message_content.body[1]``) when the
campaign is created, edited or started. At send time a recipient whose filled-in
parameter is unusable (empty, over 1,024 characters, a body parameter with a line
break, tab or more than four spaces in a row: Meta's 132000/132018 refusals) is
marked ``failed`` with the reason, and never reaches Meta.
"""

from __future__ import annotations

import json
import re
from typing import Any

from api.errors import ValidationFailed
from api.templates.send_checks import BODY_FORBIDDEN, CODE_MAX

EXPRESSION = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
CONTACT_FIELDS = ("name", "first_name", "phone", "whatsapp_id", "email")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
MAX_VALUE = 1024  # a template parameter's length (api.schemas.messages.TemplateValue)


def expression_error(expression: str) -> str | None:
    """Why ``expression`` (inside ``{{ }}``) is not one a campaign knows; None when it is."""
    parts = expression.split(".")
    if parts[0] == "contact":
        if len(parts) == 2 and parts[1] in CONTACT_FIELDS:
            return None
        if len(parts) >= 3 and parts[1] == "attributes" and ".".join(parts[2:]).strip():
            return None
    elif parts[0] == "recipient" and len(parts) == 2 and _NAME.fullmatch(parts[1]):
        return None
    return (f"{{{{{expression}}}}} is not a campaign variable; known: "
            f"{', '.join('{{contact.' + f + '}}' for f in CONTACT_FIELDS)}, {{{{contact.attributes.<key>}}}}, "
            "{{recipient.<column>}} (a column of the recipients import)")


def _values(content: dict[str, Any]) -> list[tuple[str, Any]]:
    """``(field, value)`` of every parameter of ``message_content`` that may hold expressions."""
    out: list[tuple[str, Any]] = []
    body = content.get("body")
    if isinstance(body, list):
        out += [(f"body[{i}]", v) for i, v in enumerate(body)]
    if "header" in content:
        out.append(("header", content["header"]))
    buttons = content.get("buttons")
    if isinstance(buttons, list):
        out += [(f"buttons[{i}].text", b.get("text")) for i, b in enumerate(buttons) if isinstance(b, dict)]
    return out


def check_expressions(content: dict[str, Any] | None) -> bool:
    """Check ``message_content``'s expressions (422 naming the parameter); whether it has any."""
    content = content or {}
    media = content.get("header_media_url")
    if isinstance(media, str) and EXPRESSION.search(media):
        raise ValidationFailed("message_content.header_media_url", "the header's media URL takes no variables: "
                                                                   "it is the same for every recipient")
    place = content.get("header_location")
    for part in ("name", "address"):  # sent as written: a {{...}} there would reach the customer unfilled
        value = place.get(part) if isinstance(place, dict) else None
        if isinstance(value, str) and EXPRESSION.search(value):
            raise ValidationFailed(f"message_content.header_location.{part}", "the header's place takes no "
                                                                              "variables: it is the same for every "
                                                                              "recipient")
    found = False
    for field, value in _values(content):
        if not isinstance(value, str):
            continue
        for match in EXPRESSION.finditer(value):
            why = expression_error(match.group(1))
            if why is not None:
                raise ValidationFailed(f"message_content.{field}", why)
            found = True
    return found


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def lookup(expression: str, recipient: Any) -> str | None:
    """The value of a (checked) expression for one claimed row (its contact's columns and
    ``variables``); None when it has none."""
    parts = expression.split(".")
    if parts[0] == "recipient":
        return _text(_json(recipient["variables"]).get(parts[1].lower()))
    field = parts[1]
    if field == "attributes":
        return _text(_json(recipient["attributes"]).get(".".join(parts[2:])))
    if field in ("name", "first_name"):
        name = recipient["name"] or recipient["whatsapp_name"]
        if field == "first_name" and name:
            return name.split()[0] if name.split() else None
        return name
    if field == "phone":
        return recipient["phone"] or recipient["whatsapp_id"]
    return recipient[field]


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


class RecipientError(Exception):
    """A recipient's parameters cannot be sent (the reason is its ``error_message``)."""


def _fill(text: str, recipient: Any, label: str) -> str:
    def one(match: re.Match[str]) -> str:
        value = lookup(match.group(1), recipient)
        if value is None or not value.strip():
            raise RecipientError(f"{label} is empty for this recipient: {{{{{match.group(1)}}}}} has no value")
        return value
    return EXPRESSION.sub(one, text)


def _check(value: str, label: str, body: bool) -> None:
    if not value.strip():
        raise RecipientError(f"{label} is empty for this recipient")
    if len(value) > MAX_VALUE:
        raise RecipientError(f"{label} is {len(value)} characters for this recipient (at most {MAX_VALUE})")
    if body and BODY_FORBIDDEN.search(value):
        raise RecipientError(f"{label} has a line break, a tab or more than 4 spaces in a row for this "
                             "recipient (WhatsApp refuses them in body parameters)")


def render(content: dict[str, Any], recipient: Any) -> dict[str, Any]:
    """The outbox content (``messages.content`` of a template) filled in for one recipient;
    raises `RecipientError` when a parameter cannot be sent."""
    template = dict(content["template"])
    components = []
    for component in template.get("components") or []:
        kind = component.get("type")
        parameters = []
        for i, parameter in enumerate(component.get("parameters") or []):
            if parameter.get("type") == "coupon_code":  # a copy-code button's coupon
                label = f"button {component.get('index')} coupon code"
                value = _fill(parameter["coupon_code"], recipient, label)
                _check(value, label, body=False)
                if len(value) > CODE_MAX:
                    raise RecipientError(f"{label} has {len(value)} characters for this recipient: WhatsApp "
                                         f"takes at most {CODE_MAX}")
                parameters.append({**parameter, "coupon_code": value})
                continue
            if parameter.get("type") != "text":
                parameters.append(parameter)
                continue
            if kind == "body":
                label = f"body parameter {{{{{i + 1}}}}}"
            elif kind == "header":
                label = "header parameter {{1}}"
            else:
                label = f"button {component.get('index')} parameter {{{{1}}}}"
            value = _fill(parameter["text"], recipient, label)
            _check(value, label, body=kind == "body")
            parameters.append({**parameter, "text": value})
        components.append({**component, "parameters": parameters})
    if components:
        template["components"] = components
    out = {**content, "template": template}
    if isinstance(content.get("text"), str):
        out["text"] = EXPRESSION.sub(lambda m: lookup(m.group(1), recipient) or "", content["text"])
    shown = content.get("shown")
    if isinstance(shown, dict) and isinstance(shown.get("header"), str):  # a text header's {{1}}
        out["shown"] = {**shown, "header": EXPRESSION.sub(lambda m: lookup(m.group(1), recipient) or "",
                                                          shown["header"])}
    return out


__all__ = ["CONTACT_FIELDS", "EXPRESSION", "RecipientError", "check_expressions", "expression_error", "lookup",
           "render"]
