"""Templates and Meta: submit for review, apply review webhooks, sync a WABA's list, delete.

- `check_definition`: what Meta would refuse, refused first (422 naming the field);
- `submit`: POST the definition to the number's WABA, store Meta's id, status PENDING;
- `apply_changes`: ``message_template_status_update`` / ``..._quality_update`` webhooks
  update the rows of the numbers on that WABA (only the signing app's organization's, when
  the webhook came through an organization's own app); an unknown template is logged;
- `sync_number` / `sync_due`: every template Meta lists for the number's WABA (all pages)
  upserted into the number's rows; rows Meta no longer lists (they had a Meta id) removed;
- `delete_at_meta`: the template removed at Meta (by name and id) before its row goes.

No transaction is held open across a Graph API call.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, Mapping

import httpx
from sqlalchemy import text

from api.crypto import decrypt_secret
from api.db.models import WhatsAppNumber, WhatsAppTemplate
from api.errors import ApiError, ValidationFailed
from api.settings import Settings
from api.templates.send_checks import media_kind_problem
from engine.urls import http_url_problem
from api.whatsapp.config import WhatsAppConfig
from api.whatsapp.graph_client import GraphError, PermanentGraphError
from api.whatsapp.templates import (BUTTON_GROUPS, MEDIA_HEADERS, QUALITY_FIELD, STATUSES, TemplateAPI,
                                    TemplateChange, create_components, dangling_variable, examples,
                                    fields_from_meta, placeholders, template_changes, ungrouped_button)

log = logging.getLogger("pytake.templates")

SYNC_EVERY = 6 * 3600.0
BUTTON_TEXT = 25
URL_MAX = 2000
# Meta statuses outside the table's five (SCHEMA.md): what a row records for them
STATUS_ALIASES = {"IN_APPEAL": "PENDING", "PENDING_DELETION": "DISABLED", "DELETED": "DISABLED",
                  "ARCHIVED": "DISABLED", "LIMIT_EXCEEDED": "DISABLED", "LOCKED": "PAUSED"}


class MetaUnavailable(ApiError):
    """Meta's Graph API failed or could not be reached (502); nothing was changed here."""

    def __init__(self, error: GraphError) -> None:
        super().__init__(502, "meta_unavailable", f"Meta's Graph API did not answer: {error.describe()}")


def meta_refused(error: GraphError) -> ApiError:
    """What the caller sees for Graph errors: Meta's refusal is a 422, anything else a 502."""
    if isinstance(error, PermanentGraphError):
        return ValidationFailed("meta", f"Meta refused the request: {error.describe()}")
    return MetaUnavailable(error)


# -- definition checks ---------------------------------------------------------------

def _sequential(names: list[str], field: str) -> None:
    expected = [str(i) for i in range(1, len(names) + 1)]
    if names != expected:
        raise ValidationFailed(field, "variables must be {{1}}, {{2}}, ... in order, each once "
                                      f"(found {', '.join('{{' + n + '}}' for n in names)})")


def check_definition(row: Mapping[str, Any]) -> None:
    """Refuse (422) a definition Meta would reject: the body, variables, examples, header, footer, buttons."""
    if not row.get("category"):
        raise ValidationFailed("category", "a category (MARKETING, UTILITY or AUTHENTICATION) is required")
    if not str(row.get("body_text") or "").strip():
        raise ValidationFailed("body_text", "the body needs its text (only spaces is none)")
    for i, item in enumerate(row.get("variables") or []):  # Meta's examples are text
        if not isinstance(item, dict) or not isinstance(item.get("example", ""), str):
            raise ValidationFailed(f"variables[{i}].example", "a variable's example is text: "
                                                              "{\"name\": \"1\", \"example\": \"João\"}")
    body_names = placeholders(row.get("body_text"))
    _sequential(body_names, "body_text")
    given = examples(row.get("variables"), "body")
    for name in body_names:
        if not given.get(name):
            raise ValidationFailed("variables", f"the body's variable {{{{{name}}}}} needs an example "
                                                f"(variables: {{\"name\": \"{name}\", \"example\": ...}})")
    if (dangling := dangling_variable(row.get("body_text"))) is not None:
        raise ValidationFailed("body_text", dangling)
    header_type = row.get("header_type")
    header = row.get("header_content")
    if header_type == "TEXT":
        if not header:
            raise ValidationFailed("header_content", "a TEXT header needs its text")
        if len(header) > 60:
            raise ValidationFailed("header_content", "a TEXT header is at most 60 characters")
        names = placeholders(header)
        if len(names) > 1:
            raise ValidationFailed("header_content", "a TEXT header has at most one variable, {{1}}")
        _sequential(names, "header_content")
        if names and not examples(row.get("variables"), "header").get("1"):
            raise ValidationFailed("variables", "the header's variable {{1}} needs an example "
                                                "(variables: {\"component\": \"header\", \"name\": \"1\", ...})")
    elif header_type in MEDIA_HEADERS:
        if not header or not str(header).startswith(("https://", "http://", "4::")):
            raise ValidationFailed("header_content", f"a {header_type} header needs an example media "
                                                     "(its URL or Meta's upload handle)")
        if str(header).startswith("http") and (problem := http_url_problem(str(header))) is not None:
            raise ValidationFailed("header_content", f"the example media's URL {problem}")
        wrong = media_kind_problem(str(header), header_type) if str(header).startswith("http") else None
        if wrong is not None:
            raise ValidationFailed("header_content", wrong)
    elif header_type == "LOCATION":  # Meta's: the place is a parameter of each send, never of the template
        if header:
            raise ValidationFailed("header_content", "a LOCATION header has no content: each send gives "
                                                     "the place (header_location)")
        if row.get("category") == "AUTHENTICATION":
            raise ValidationFailed("header_type", "a LOCATION header is for UTILITY and MARKETING templates")
    elif header:
        raise ValidationFailed("header_type", "header_content is given without a header_type")
    if placeholders(row.get("footer_text")):
        raise ValidationFailed("footer_text", "a footer takes no variables: put {{n}} in the body")
    _check_buttons(row.get("buttons") or [])


def _check_buttons(buttons: list[Any]) -> None:
    counts = {"QUICK_REPLY": 0, "URL": 0, "PHONE_NUMBER": 0}
    for i, button in enumerate(buttons):
        field = f"buttons[{i}]"
        if not isinstance(button, dict) or not isinstance(button.get("type"), str) or button["type"] not in counts:
            raise ValidationFailed(f"{field}.type", "a button's type is QUICK_REPLY, URL or PHONE_NUMBER")
        counts[button["type"]] += 1
        label = button.get("text")
        if not isinstance(label, str) or not label.strip() or len(label) > BUTTON_TEXT:
            raise ValidationFailed(f"{field}.text", f"a button's text is 1 to {BUTTON_TEXT} characters")
        if button["type"] == "URL":
            url = button.get("url")
            if (not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > URL_MAX
                    or http_url_problem(url) is not None):
                raise ValidationFailed(f"{field}.url", "a URL button needs an http(s) URL")
            names = placeholders(url)
            if names and (names != ["1"] or not url.endswith("}}")):
                raise ValidationFailed(f"{field}.url", "a URL button's only variable is {{1}}, at the end")
            example = button.get("example")
            if names and not (isinstance(example, str) and example.startswith("http") and http_url_problem(example) is None):
                raise ValidationFailed(f"{field}.example", "a URL with {{1}} needs an example URL")
        elif button["type"] == "PHONE_NUMBER":
            phone = str(button.get("phone_number") or "")
            digits = phone.removeprefix("+")
            if not (digits.isascii() and digits.isdigit()) or not 8 <= len(digits) <= 20:
                raise ValidationFailed(f"{field}.phone_number", "a phone button needs the number in E.164 "
                                                                "(e.g. +5511999990000)")
    if len(buttons) > 10:
        raise ValidationFailed("buttons", "at most 10 buttons")
    if counts["URL"] > 2 or counts["PHONE_NUMBER"] > 1:
        raise ValidationFailed("buttons", "at most 2 URL buttons and 1 phone button")
    if (split := ungrouped_button([b["type"] for b in buttons])) is not None:
        raise ValidationFailed(f"buttons[{split}].type", BUTTON_GROUPS)


# -- Graph access -----------------------------------------------------------------------

def _token(settings: Settings, encrypted: str | None) -> str:
    if not encrypted:
        return "sandbox"  # as the sender: a number without a token talks to the sandbox
    try:
        return decrypt_secret(settings, encrypted)
    except ValueError as exc:
        raise ValidationFailed("whatsapp_number_id", "the number's access token cannot be decrypted: "
                                                     "set it again") from exc


def template_api(settings: Settings, number: Any, client: httpx.AsyncClient) -> TemplateAPI:
    """The management API of ``number``'s WABA (422 when the number has none)."""
    waba = number.whatsapp_business_account_id
    if not waba:
        raise ValidationFailed("whatsapp_number_id", "the number has no WhatsApp Business Account id "
                                                     "(whatsapp_business_account_id)")
    config = WhatsAppConfig.from_settings(settings)
    return TemplateAPI(config.graph_url, config.graph_version, waba,
                       _token(settings, number.access_token_encrypted), client=client)


def graph_http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=15.0)


# -- submit / delete --------------------------------------------------------------------

def row_fields(row: WhatsAppTemplate) -> dict[str, Any]:
    return {c: getattr(row, c) for c in ("name", "language", "category", "header_type", "header_content",
                                         "body_text", "footer_text", "buttons", "variables")}


async def submit(session: Any, settings: Settings, template: WhatsAppTemplate,
                 number: WhatsAppNumber) -> Exception | None:
    """POST ``template`` to Meta and store Meta's id and status, in ``session``'s transaction,
    which holds the row locked (``FOR UPDATE``) from before the call: an edit or a second submit
    waits for it, then finds the template submitted (so what Meta reviews is the row's content,
    and a second submit is a 409, never a second call). Meta's refusal is recorded on the row
    (``sync_status: error``) and returned, for the caller to raise once that is committed."""
    fields = row_fields(template)
    check_definition(fields)
    async with graph_http() as client:
        api = template_api(settings, number, client)
        try:
            answer = await api.create(template.name, template.language or "pt_BR", template.category,
                                      create_components(fields))
        except GraphError as exc:
            if not isinstance(exc, PermanentGraphError):
                raise meta_refused(exc) from exc
            await _mark(session, template.id, sync_status="error", sync_error=exc.describe()[:2000])
            return meta_refused(exc)
    status = str(answer.get("status") or "PENDING").upper()
    await _mark(session, template.id, meta_template_id=str(answer.get("id") or ""),
                meta_status=STATUS_ALIASES.get(status, status) if status not in STATUSES else status,
                sync_status="synced", sync_error=None, rejection_reason=None)
    return None


async def _mark(session: Any, template_id: uuid.UUID, **values: Any) -> None:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    await session.execute(text(f"UPDATE whatsapp_templates SET {sets}, last_synced_at = now(), updated_at = now() "
                               "WHERE id = :id"), {**values, "id": template_id})


async def delete_at_meta(settings: Settings, template: WhatsAppTemplate, number: WhatsAppNumber | None) -> None:
    """Remove the template at Meta (a row never submitted has nothing there)."""
    if not template.meta_template_id or number is None:
        return
    async with graph_http() as client:
        try:
            await template_api(settings, number, client).delete(template.name, template.meta_template_id)
        except GraphError as exc:
            raise meta_refused(exc) from exc


# -- webhooks ---------------------------------------------------------------------------

_APPLY = """
UPDATE whatsapp_templates t SET {sets}, updated_at = now()
  FROM whatsapp_numbers n
 WHERE n.id = t.whatsapp_number_id AND n.organization_id = t.organization_id AND n.deleted_at IS NULL
   AND n.whatsapp_business_account_id = :waba
   AND (CAST(:org AS uuid) IS NULL OR n.organization_id = CAST(:org AS uuid))
   AND ((CAST(:tid AS text) IS NOT NULL AND t.meta_template_id = CAST(:tid AS text))
        OR (t.meta_template_id IS NULL AND t.name = :name AND t.language = :language))
RETURNING t.id"""


async def apply_template_webhooks(db: Any, doc: Any, organization_id: uuid.UUID | None) -> int:
    """The webhook route's hook: the template fields of a decoded webhook body applied."""
    changes = template_changes(doc)
    return await apply_changes(db, changes, organization_id) if changes else 0


async def apply_changes(db: Any, changes: list[TemplateChange], organization_id: uuid.UUID | None) -> int:
    """Apply template webhooks; the number of rows changed (unknown templates are logged)."""
    changed = 0
    async with db.transaction() as s:
        for change in changes:
            params: dict[str, Any] = {"waba": change.waba_id, "org": str(organization_id) if organization_id else None,
                                      "tid": change.template_id, "name": change.name, "language": change.language}
            if change.field == QUALITY_FIELD:
                sets = "quality_score = CAST(:quality AS jsonb)"
                params["quality"] = json.dumps({"score": change.quality, "previous": change.previous_quality})
            else:
                event = (change.event or "").upper()
                status = event if event in STATUSES else STATUS_ALIASES.get(event)
                if status is None:
                    log.info("template webhook: event %r of template %s (%s/%s) ignored", change.event,
                             change.template_id, change.name, change.language)
                    continue
                reason = change.reason if change.reason and change.reason.upper() != "NONE" else None
                sets = "meta_status = :status, rejection_reason = :reason, sync_status = 'synced'"
                params.update(status=status, reason=reason if status != "APPROVED" else None)
            ids = (await s.execute(text(_APPLY.format(sets=sets)), params)).all()
            if not ids:
                log.warning("template webhook for an unknown template ignored: WABA %s, id %s, %s/%s",
                            change.waba_id, change.template_id, change.name, change.language)
            changed += len(ids)
    return changed


# -- sync -------------------------------------------------------------------------------

_UPSERT = """
INSERT INTO whatsapp_templates (organization_id, whatsapp_number_id, meta_template_id, name, language, category,
       meta_status, header_type, header_content, body_text, footer_text, buttons, variables, sync_status,
       last_synced_at, sync_error, rejection_reason, quality_score)
VALUES (:org, :number, :tid, :name, :language, :category, :status, :header_type, :header_content, :body_text,
        :footer_text, CAST(:buttons AS jsonb), CAST(:variables AS jsonb), 'synced', now(), NULL, :reason,
        CAST(:quality AS jsonb))
ON CONFLICT (organization_id, whatsapp_number_id, name, language) DO UPDATE SET
       meta_template_id = EXCLUDED.meta_template_id, category = EXCLUDED.category,
       meta_status = EXCLUDED.meta_status, header_type = EXCLUDED.header_type,
       header_content = EXCLUDED.header_content, body_text = EXCLUDED.body_text,
       footer_text = EXCLUDED.footer_text, buttons = EXCLUDED.buttons, variables = EXCLUDED.variables,
       sync_status = 'synced', last_synced_at = now(), sync_error = NULL,
       rejection_reason = EXCLUDED.rejection_reason, quality_score = EXCLUDED.quality_score, updated_at = now()"""


def _upsert_params(org: uuid.UUID, number_id: uuid.UUID, template: dict[str, Any]) -> dict[str, Any] | None:
    name, language = template.get("name"), template.get("language")
    if not isinstance(name, str) or not isinstance(language, str) or len(name) > 255 or len(language) > 10:
        return None
    status = str(template.get("status") or "PENDING").upper()
    status = status if status in STATUSES else STATUS_ALIASES.get(status, "DISABLED")
    category = str(template.get("category") or "").upper()
    fields = fields_from_meta(template)
    if fields["header_type"] not in (None, "TEXT", "LOCATION", *MEDIA_HEADERS):
        fields["header_type"] = None
    reason = template.get("rejected_reason")
    quality = template.get("quality_score") if isinstance(template.get("quality_score"), dict) else {}
    return {"org": org, "number": number_id, "tid": str(template.get("id") or "") or None, "name": name,
            "language": language,
            "category": category if category in ("MARKETING", "UTILITY", "AUTHENTICATION") else None,
            "status": status, "header_type": fields["header_type"], "header_content": fields["header_content"],
            "body_text": fields["body_text"], "footer_text": fields["footer_text"],
            "buttons": json.dumps(fields["buttons"]), "variables": json.dumps(fields["variables"]),
            "reason": reason if reason and str(reason).upper() != "NONE" else None,
            "quality": json.dumps(quality)}


async def sync_number(db: Any, settings: Settings, number: Any) -> int:
    """Upsert every template Meta lists for ``number``'s WABA; the number of templates seen."""
    seen: list[str] = []
    async with graph_http() as client:
        api = template_api(settings, number, client)
        try:
            async for page in api.pages():
                rows = [p for p in (_upsert_params(number.organization_id, number.id, t) for t in page) if p]
                if rows:
                    async with db.transaction() as s:
                        await s.execute(text(_UPSERT), rows)
                seen += [r["tid"] for r in rows if r["tid"]]
        except GraphError as exc:
            raise meta_refused(exc) from exc
    async with db.transaction() as s:  # gone at Meta (deleted there): gone here
        await s.execute(text("""
            DELETE FROM whatsapp_templates WHERE organization_id = :org AND whatsapp_number_id = :number
               AND meta_template_id IS NOT NULL AND NOT (meta_template_id = ANY(CAST(:seen AS text[])))"""),
            {"org": number.organization_id, "number": number.id, "seen": seen})
    return len(seen)


async def sync_due(db: Any, settings: Settings) -> int:
    """The scheduled sync: every active number with a WABA id; a failing number is logged."""
    async with db.session() as s:
        numbers = (await s.execute(text(
            "SELECT id, organization_id, whatsapp_business_account_id, access_token_encrypted "
            "FROM whatsapp_numbers WHERE deleted_at IS NULL AND is_active "
            "AND whatsapp_business_account_id IS NOT NULL AND whatsapp_business_account_id <> ''"))).all()
    synced = 0
    for number in numbers:
        try:
            await sync_number(db, settings, number)
            synced += 1
        except ApiError as exc:
            log.warning("template sync of number %s failed: %s", number.id, exc.message)
    return synced
