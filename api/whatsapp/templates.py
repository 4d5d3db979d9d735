"""Message templates on the WhatsApp Cloud API: management calls, their JSON, their webhooks.

Meta's template management endpoints, on the WhatsApp Business Account (WABA):

- ``POST /{version}/{waba_id}/message_templates`` ``{"name", "language", "category",
  "components": [...]}`` answers ``{"id", "status": "PENDING", "category"}``;
- ``GET /{version}/{waba_id}/message_templates?fields=...&limit=N[&after=cursor]`` answers
  ``{"data": [...], "paging": {"cursors": {"before", "after"}, "next"?}}`` (``next`` only
  when another page exists);
- ``DELETE /{version}/{waba_id}/message_templates?name=...[&hsm_id=...]`` answers
  ``{"success": true}`` (with ``hsm_id`` only that language's template goes).

Review results come as webhooks on the WABA (``entry[].id`` is the WABA id, no
``metadata.phone_number_id``): field ``message_template_status_update`` (``event``
APPROVED / REJECTED / PAUSED / DISABLED / ..., ``reason``, ``message_template_id``,
``message_template_name``, ``message_template_language``) and field
``message_template_quality_update`` (``new_quality_score`` GREEN / YELLOW / RED / UNKNOWN).

A template's row (SCHEMA.md ``whatsapp_templates``) holds the parts one by one;
`create_components` and `fields_from_meta` translate between the row and Meta's
component list. Variables are ``{{1}}``, ``{{2}}``, ... (Meta's positional form); their
examples live in ``variables``: ``[{"component": "body"|"header", "name": "1",
"example": "João"}]`` (``component`` defaults to body), a URL button's in its own
``example`` key.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, AsyncIterator, Mapping

import httpx

from api.whatsapp.graph_client import request_json

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
STATUSES = ("PENDING", "APPROVED", "REJECTED", "PAUSED", "DISABLED")
MEDIA_HEADERS = ("IMAGE", "VIDEO", "DOCUMENT")
FIELDS = "id,name,language,category,status,components,rejected_reason,quality_score"
STATUS_FIELD = "message_template_status_update"
QUALITY_FIELD = "message_template_quality_update"


def placeholders(text: str | None) -> list[str]:
    """The variable names of ``text`` in order of appearance (``"Oi {{1}}"`` → ``["1"]``)."""
    return [m.group(1) for m in PLACEHOLDER.finditer(text or "")]


def dangling_variable(text: str | None) -> str | None:
    """Why Meta refuses a body for where its variables stand, or None: a body that starts or
    ends with a variable (punctuation after the last one still counts as its end: "gate {{2}}."),
    or two variables with only spaces between them ("{{1}} {{2}}")."""
    body = (text or "").strip()
    found = list(PLACEHOLDER.finditer(body))
    if not found:
        return None
    if found[0].start() == 0:
        return "the body can't start with a variable: put words before it"
    if all(ch.isspace() or unicodedata.category(ch).startswith("P") for ch in body[found[-1].end():]):
        return "the body can't end with a variable (punctuation after it still counts): put words after it"
    if any(not body[a.end():b.start()].strip() for a, b in zip(found, found[1:])):
        return "two variables can't stand side by side: put a word between them"
    return None


BUTTON_GROUPS = ("quick reply buttons and the other buttons are two groups: keep the quick replies together, "
                 "before or after the URL and phone buttons")


def ungrouped_button(types: list[Any]) -> int | None:
    """The index of the first button that splits a group, or None. Meta takes quick replies and
    the other buttons (URL, phone) as two groups, each in one piece: QUICK_REPLY, QUICK_REPLY,
    URL or URL, QUICK_REPLY are fine; QUICK_REPLY, URL, QUICK_REPLY is an invalid combination."""
    groups = 0
    for i, kind in enumerate(types):
        if i == 0 or (kind == "QUICK_REPLY") != (types[i - 1] == "QUICK_REPLY"):
            groups += 1
            if groups > 2:
                return i
    return None


def examples(variables: Any, component: str) -> dict[str, str]:
    """name → example of the ``component``'s variables in a row's ``variables``."""
    out: dict[str, str] = {}
    for item in variables or []:
        if isinstance(item, dict) and (item.get("component") or "body") == component and item.get("name"):
            out[str(item["name"])] = str(item.get("example") or "")
    return out


def create_components(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Meta's ``components`` for creating the template whose row fields are ``row``
    (checked first by `api.templates.lifecycle.check_definition`)."""
    components: list[dict[str, Any]] = []
    header_type = row.get("header_type")
    if header_type == "TEXT":
        header: dict[str, Any] = {"type": "HEADER", "format": "TEXT", "text": row.get("header_content") or ""}
        names = placeholders(header["text"])
        if names:
            given = examples(row.get("variables"), "header")
            header["example"] = {"header_text": [given.get(n, "") for n in names]}
        components.append(header)
    elif header_type in MEDIA_HEADERS:
        components.append({"type": "HEADER", "format": header_type,
                           "example": {"header_handle": [row.get("header_content") or ""]}})
    elif header_type == "LOCATION":
        components.append({"type": "HEADER", "format": "LOCATION"})
    body: dict[str, Any] = {"type": "BODY", "text": row.get("body_text") or ""}
    names = placeholders(body["text"])
    if names:
        given = examples(row.get("variables"), "body")
        body["example"] = {"body_text": [[given.get(n, "") for n in names]]}
    components.append(body)
    if row.get("footer_text"):
        components.append({"type": "FOOTER", "text": row["footer_text"]})
    buttons = []
    for button in row.get("buttons") or []:
        out = {"type": button["type"], "text": button["text"]}
        if button["type"] == "URL":
            out["url"] = button["url"]
            if placeholders(button["url"]):
                out["example"] = [button.get("example") or ""]
        elif button["type"] == "PHONE_NUMBER":
            out["phone_number"] = button["phone_number"]
        buttons.append(out)
    if buttons:
        components.append({"type": "BUTTONS", "buttons": buttons})
    return components


def fields_from_meta(template: Mapping[str, Any]) -> dict[str, Any]:
    """A row's content columns from a template as Meta's GET lists it."""
    out: dict[str, Any] = {"header_type": None, "header_content": None, "footer_text": None,
                           "buttons": [], "variables": [], "body_text": ""}
    for component in template.get("components") or []:
        if not isinstance(component, dict):
            continue
        ctype = str(component.get("type") or "").upper()
        example = component.get("example") if isinstance(component.get("example"), dict) else {}
        if ctype == "HEADER":
            fmt = str(component.get("format") or "TEXT").upper()
            if fmt == "TEXT":
                out["header_type"], out["header_content"] = "TEXT", component.get("text")
                values = example.get("header_text") or []
                out["variables"] += [{"component": "header", "name": n, "example": v}
                                     for n, v in zip(placeholders(component.get("text")), values)]
            elif fmt in MEDIA_HEADERS:
                handles = example.get("header_handle") or [None]
                out["header_type"], out["header_content"] = fmt, handles[0]
            elif fmt == "LOCATION":  # the place is given with each send
                out["header_type"] = "LOCATION"
        elif ctype == "BODY":
            out["body_text"] = component.get("text") or ""
            values = (example.get("body_text") or [[]])[0]
            out["variables"] += [{"component": "body", "name": n, "example": v}
                                 for n, v in zip(placeholders(out["body_text"]), values)]
        elif ctype == "FOOTER":
            out["footer_text"] = component.get("text")
        elif ctype == "BUTTONS":
            for button in component.get("buttons") or []:
                if not isinstance(button, dict):
                    continue
                item = {k: button[k] for k in ("type", "text", "url", "phone_number") if k in button}
                if isinstance(button.get("example"), list) and button["example"]:
                    item["example"] = button["example"][0]
                out["buttons"].append(item)
    return out


@dataclass(frozen=True)
class TemplateChange:
    """One template webhook: a review result (``event``) or a quality change (``quality``)."""

    waba_id: str
    field: str
    template_id: str | None
    name: str | None
    language: str | None
    event: str | None = None
    reason: str | None = None
    quality: str | None = None
    previous_quality: str | None = None


def template_changes(doc: Any) -> list[TemplateChange]:
    """The template webhooks in a decoded webhook body (anything malformed is skipped)."""
    out: list[TemplateChange] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("entry"), list):
        return out
    for entry in doc["entry"]:
        if not isinstance(entry, dict) or entry.get("id") in (None, ""):
            continue
        changes = entry.get("changes")
        for change in changes if isinstance(changes, list) else []:  # a number there was a 500, redelivered
            if not isinstance(change, dict) or change.get("field") not in (STATUS_FIELD, QUALITY_FIELD):
                continue
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            tid = value.get("message_template_id")
            common = dict(waba_id=str(entry["id"]), field=change["field"],
                          template_id=str(tid) if tid not in (None, "") else None,
                          name=_text(value.get("message_template_name")),
                          language=_text(value.get("message_template_language")))
            if change["field"] == STATUS_FIELD:
                out.append(TemplateChange(**common, event=_text(value.get("event")),
                                          reason=_text(value.get("reason"))))
            else:
                out.append(TemplateChange(**common, quality=_text(value.get("new_quality_score")),
                                          previous_quality=_text(value.get("previous_quality_score"))))
    return out


def _text(value: Any) -> str | None:
    return str(value)[:1000] if value not in (None, "") else None


class TemplateAPI:
    """The management endpoints for one WABA (``base_url``/``version`` as the sender's)."""

    def __init__(self, base_url: str, version: str, waba_id: str, token: str, *,
                 client: httpx.AsyncClient, page_size: int = 100) -> None:
        self.url = f"{base_url.rstrip('/')}/{version}/{waba_id}/message_templates"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.client = client
        self.page_size = page_size

    async def create(self, name: str, language: str, category: str,
                     components: list[dict[str, Any]]) -> dict[str, Any]:
        return await self._call("POST", self.url, json={"name": name, "language": language, "category": category,
                                                        "components": components})

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Every template of the WABA, one page at a time (following ``paging.cursors.after``)."""
        params: dict[str, Any] = {"fields": FIELDS, "limit": self.page_size}
        while True:
            body = await self._call("GET", self.url, params=params)
            data = body.get("data")
            yield [t for t in data if isinstance(t, dict)] if isinstance(data, list) else []
            paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return
            params = {**params, "after": after}

    async def delete(self, name: str, hsm_id: str | None = None) -> None:
        params = {"name": name, **({"hsm_id": hsm_id} if hsm_id else {})}
        await self._call("DELETE", self.url, params=params)

    async def _call(self, method: str, url: str, **kw: Any) -> dict[str, Any]:
        return await request_json(self.client, method, url, self.headers, **kw)
