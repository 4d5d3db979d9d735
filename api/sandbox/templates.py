"""The sandbox's template management: Meta's endpoints on a WABA, the review, its webhooks.

- ``POST /{version}/{waba_id}/message_templates``: a definition Meta would refuse is
  refused the same way (error 100 with ``error_user_msg``: name, language, category,
  a BODY, ``{{n}}`` examples, buttons); a second template with the same name and
  language is refused (error 100, subcode 2388024); otherwise ``{"id", "status":
  "PENDING", "category"}`` and, ``template_review_delay`` seconds later, the review:
  REJECTED (reason ``INVALID_FORMAT``) when the name contains ``template_reject_rule``,
  else APPROVED, posted as a signed ``message_template_status_update`` webhook;
- ``GET`` lists them in pages (``limit``, ``after``; ``paging.next`` while more remain);
- ``DELETE ?name=[&hsm_id=]`` removes them (error 100 when there is none).
- ``POST /_sandbox/templates/event {"id", "event"?, "reason"?, "quality"?}`` makes Meta
  change its mind later (PAUSED, DISABLED, a quality score): row updated, webhook posted.

The webhooks go to the app whose ``waba_id`` is the template's WABA (``SandboxConfig.apps``),
else to the default ``webhook_url``. A template message sent with a known template's name
and language is refused as Meta refuses it: 132001 unknown language, 132015 paused,
132016 disabled, 132000 when a component's parameter count does not match.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from api.whatsapp.templates import (BUTTON_GROUPS, PLACEHOLDER, STATUS_FIELD, QUALITY_FIELD, dangling_variable,
                                    placeholders, ungrouped_button)

if TYPE_CHECKING:  # pragma: no cover
    from api.sandbox.server import SandboxApp

ROUTE = re.compile(r"^/(v\d+(?:\.\d+)?)/([^/]+)/message_templates$")
NAME = re.compile(r"^[a-z0-9_]{1,512}$")
CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
_ids = itertools.count(int(time.time()) * 1000)


def _refuse(message: str, subcode: int | None = None) -> tuple[int, dict[str, Any]]:
    error: dict[str, Any] = {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                             "error_user_title": "Template not valid", "error_user_msg": message,
                             "fbtrace_id": "A" + format(next(_ids), "x")}
    if subcode is not None:
        error["error_subcode"] = subcode
    return 400, {"error": error}


def check_definition(doc: Any) -> str | None:
    """Why Meta would refuse to create ``doc``, or None."""
    if not isinstance(doc, dict):
        return "the body must be a JSON object"
    if not isinstance(doc.get("name"), str) or not NAME.match(doc["name"]):
        return "name: lowercase letters, digits and underscores"
    if not isinstance(doc.get("language"), str) or not doc["language"]:
        return "language is required"
    if doc.get("category") not in CATEGORIES:
        return "category must be MARKETING, UTILITY or AUTHENTICATION"
    components = doc.get("components")
    if not isinstance(components, list) or not any(isinstance(c, dict) and c.get("type") == "BODY"
                                                   for c in components):
        return "components must include a BODY"
    for component in components:
        if not isinstance(component, dict):
            return "a component must be an object"
        ctype, text = component.get("type"), component.get("text")
        example = component.get("example") if isinstance(component.get("example"), dict) else {}
        if ctype == "BODY":
            names = placeholders(text)
            given = (example.get("body_text") or [[]])[0]
            if names and (len(given) != len(names) or not all(given)):
                return "the BODY's variables need examples (example.body_text)"
            if (dangling := dangling_variable(text)) is not None:
                return dangling
        elif ctype == "HEADER":
            fmt = component.get("format")
            if fmt == "TEXT" and placeholders(text) and not example.get("header_text"):
                return "the HEADER's variable needs an example (example.header_text)"
            if fmt not in ("TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"):
                return "a HEADER's format is TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION"
            if fmt in ("IMAGE", "VIDEO", "DOCUMENT") and not example.get("header_handle"):
                return f"a {fmt} header needs example.header_handle"
            if fmt == "LOCATION" and doc.get("category") == "AUTHENTICATION":
                return "a LOCATION header is for UTILITY and MARKETING templates"
        elif ctype == "BUTTONS":
            for button in component.get("buttons") or []:
                if not isinstance(button, dict) or button.get("type") not in ("QUICK_REPLY", "URL", "PHONE_NUMBER"):
                    return "a button's type is QUICK_REPLY, URL or PHONE_NUMBER"
                if button["type"] == "URL" and placeholders(button.get("url")) and not button.get("example"):
                    return "a URL button with a variable needs an example"
            if ungrouped_button([b["type"] for b in component.get("buttons") or []]) is not None:
                return f"Invalid buttons combination: {BUTTON_GROUPS}"
        elif ctype != "FOOTER":
            return f"unknown component type {ctype!r}"
    return None


class TemplateDesk:
    """The templates of every WABA the sandbox has seen, and their reviews."""

    def __init__(self, app: "SandboxApp") -> None:
        self.app = app

    @property
    def by_waba(self) -> dict[str, list[dict[str, Any]]]:
        return self.app.state.templates

    def handle(self, method: str, waba: str, query: str, body: Any) -> tuple[int, Any]:
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        templates = self.by_waba.setdefault(waba, [])
        if method == "POST":
            return self._create(waba, templates, body)
        if method == "GET":
            limit = max(1, min(int(params.get("limit") or 25) if str(params.get("limit") or "").isdigit() else 25,
                               1000))
            start = int(params["after"]) if str(params.get("after") or "").isdigit() else 0
            page = templates[start:start + limit]
            paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
            if start + len(page) < len(templates):
                paging["next"] = f"/{waba}/message_templates?limit={limit}&after={start + len(page)}"
            return 200, {"data": [dict(t) for t in page], "paging": paging}
        if method == "DELETE":
            name, hsm_id = params.get("name"), params.get("hsm_id")
            gone = [t for t in templates if t["name"] == name and (not hsm_id or t["id"] == hsm_id)]
            if not name or not gone:
                return _refuse(f"Message template {name!r} not found", 2593002)
            self.by_waba[waba] = [t for t in templates if t not in gone]
            return 200, {"success": True}
        return _refuse(f"unsupported method {method}")

    def _create(self, waba: str, templates: list[dict[str, Any]], doc: Any) -> tuple[int, Any]:
        problem = check_definition(doc)
        if problem:
            return _refuse(problem)
        if any(t["name"] == doc["name"] and t["language"] == doc["language"] for t in templates):
            return _refuse("Content in this language already exists", 2388024)
        template = {"id": str(next(_ids)), "name": doc["name"], "language": doc["language"],
                    "category": doc["category"], "status": "PENDING", "components": doc["components"],
                    "quality_score": {"score": "UNKNOWN"}}
        templates.append(template)
        self.app._spawn(self._review(waba, template))
        return 200, {"id": template["id"], "status": "PENDING", "category": template["category"]}

    async def _review(self, waba: str, template: dict[str, Any]) -> None:
        config = self.app.state.config
        await asyncio.sleep(config.template_review_delay)
        rule = config.template_reject_rule
        if rule and rule in template["name"]:
            await self.change(waba, template, event="REJECTED", reason="INVALID_FORMAT")
        else:
            await self.change(waba, template, event="APPROVED", reason="NONE")

    async def change(self, waba: str, template: dict[str, Any], *, event: str | None = None,
                     reason: str | None = None, quality: str | None = None) -> None:
        """Change a template and post the webhook Meta would post."""
        base = {"message_template_id": int(template["id"]), "message_template_name": template["name"],
                "message_template_language": template["language"]}
        if event:
            template["status"] = event
            if event == "REJECTED":
                template["rejected_reason"] = reason
            value = {"event": event, **base, "reason": reason or "NONE",
                     "message_template_category": template["category"]}
            await self._post(waba, STATUS_FIELD, value)
        if quality:
            previous = template["quality_score"].get("score", "UNKNOWN")
            template["quality_score"] = {"score": quality, "date": int(time.time())}
            await self._post(waba, QUALITY_FIELD, {"previous_quality_score": previous,
                                                   "new_quality_score": quality, **base})

    async def event(self, doc: Any) -> tuple[int, Any]:
        """``POST /_sandbox/templates/event``."""
        if not isinstance(doc, dict) or not doc.get("id"):
            return _refuse("body must be {\"id\", \"event\"?, \"reason\"?, \"quality\"?}")
        for waba, templates in self.by_waba.items():
            for template in templates:
                if template["id"] == str(doc["id"]):
                    await self.change(waba, template, event=doc.get("event"), reason=doc.get("reason"),
                                      quality=doc.get("quality"))
                    return 200, {"success": True}
        return _refuse(f"no template {doc['id']}")

    async def _post(self, waba: str, field: str, value: dict[str, Any]) -> None:
        doc = {"object": "whatsapp_business_account",
               "entry": [{"id": waba, "time": int(time.time()), "changes": [{"field": field, "value": value}]}]}
        number = next((pnid for pnid, app in self.app.state.config.apps.items() if app.get("waba_id") == waba),
                      None)
        await self.app.post_webhook(doc, number)

    def refusal(self, tpl: Any) -> tuple[int, str] | None:
        """The error code Meta answers a template send with, for a template the sandbox knows."""
        if not isinstance(tpl, dict) or not isinstance(tpl.get("language"), dict):
            return None
        name, language = tpl.get("name"), tpl["language"].get("code")
        known = [t for ts in self.by_waba.values() for t in ts if t["name"] == name]
        if not known:
            return None
        match = next((t for t in known if t["language"] == language), None)
        if match is None:
            return 132001, f"template name ({name}) does not exist in {language}"
        if match["status"] == "PAUSED":
            return 132015, "template is paused"
        if match["status"] != "APPROVED":
            return 132016, f"template is {match['status']}"
        sent = {(c.get("type"), str(c.get("index", ""))): len(c.get("parameters") or [])
                for c in tpl.get("components") or [] if isinstance(c, dict)}
        for component in match["components"]:
            ctype = component["type"]
            if ctype == "BODY" or (ctype == "HEADER" and component.get("format") == "TEXT"):
                need = len(PLACEHOLDER.findall(component.get("text") or ""))
                got = sent.get((ctype.lower(), ""), 0)
            elif ctype == "HEADER":
                need, got = 1, sent.get(("header", ""), 0)
            elif ctype == "BUTTONS":
                for i, button in enumerate(component.get("buttons") or []):
                    need = 1 if (button.get("type") == "URL" and placeholders(button.get("url"))
                                 or button.get("type") in ("COPY_CODE", "OTP")) else 0
                    if sent.get(("button", str(i)), 0) != need:
                        return 132000, f"button {i}: expected number of params ({need}) does not match"
                continue
            else:
                continue
            if need != got:
                return 132000, (f"{ctype.lower()}: number of localizable_params ({got}) does not match the "
                                f"expected number of params ({need})")
        return None
