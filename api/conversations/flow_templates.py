"""A flow's template messages, checked against the organization's templates before the outbox.

The compiler checked the template when the flow was saved; it may have been
deleted, paused or edited since. Each ``template`` message a run produced
(engine/nodes/message.py: name, language, rendered parameters) is matched to
the template of the conversation's organization and number and turned into
Meta's template object by the same checks an agent's template reply passes
(api/templates/send_checks.py). One that does not pass is not sent: the step
reports a flow error (``template_unavailable``: missing, not APPROVED or
deactivated; ``template_parameters``: its parameters do not fit) instead of
Meta refusing it later with 132000. A run with no template message reads nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import or_, select

from api.db.models import WhatsAppTemplate
from api.errors import ValidationFailed
from api.runtime_context import Runtime
from api.schemas.messages import TemplateSend
from api.templates.send_checks import template_content
from engine import events as ev

UNAVAILABLE = "template_unavailable"
PARAMETERS = "template_parameters"

__all__ = ["PARAMETERS", "UNAVAILABLE", "check_flow_templates"]


async def check_flow_templates(rt: Runtime, conversation: Any, messages: list[dict[str, Any]],
                               events: Any) -> list[dict[str, Any]]:
    """``messages`` with each template message resolved to Meta's form, or dropped; the
    ``{node, code, message}`` errors of the dropped ones. ``events``: the run's, to name
    the node that sent each template."""
    asked = [m for m in messages if m["type"] == "template"]
    if not asked:
        return []
    nodes = [e.node for e in events if e.type == ev.MESSAGE_SENT and e.data["message"]["type"] == "template"]
    nodes += [None] * (len(asked) - len(nodes))
    found = await _templates(rt, conversation, {m["content"]["template"]["name"] for m in asked})
    errors: list[dict[str, Any]] = []
    for message, node in zip(asked, nodes):
        problem = _resolve(message, found, conversation["whatsapp_number_id"])
        if problem is not None:
            messages.remove(message)
            errors.append({"node": node, "code": problem[0], "message": problem[1]})
    return errors


async def _templates(rt: Runtime, conversation: Any, names: set[str]) -> dict[tuple[str, str], WhatsAppTemplate]:
    """The organization's templates by (name, language): the number's own before the shared ones."""
    number = conversation["whatsapp_number_id"]
    async with rt.db.session() as session:
        rows = (await session.execute(select(WhatsAppTemplate).where(
            WhatsAppTemplate.organization_id == conversation["organization_id"], WhatsAppTemplate.name.in_(names),
            or_(WhatsAppTemplate.whatsapp_number_id.is_(None), WhatsAppTemplate.whatsapp_number_id == number),
        ).order_by(WhatsAppTemplate.whatsapp_number_id.is_(None)))).scalars().all()
    out: dict[tuple[str, str], WhatsAppTemplate] = {}
    for row in rows:
        out.setdefault((row.name, row.language or "pt_BR"), row)
    return out


def _resolve(message: dict[str, Any], found: dict[tuple[str, str], WhatsAppTemplate],
             number_id: Any) -> tuple[str, str] | None:
    """Turn ``message`` into the template message the outbox sends; else (code, why)."""
    asked = message["content"]["template"]
    name, language = asked["name"], asked.get("language") or "pt_BR"
    template = found.get((name, language))
    if template is None:
        return UNAVAILABLE, f"template {name!r} ({language}) does not exist in this organization"
    if template.is_enabled_in_flows is False:
        return UNAVAILABLE, f"template {name!r} ({language}) is not enabled in flows"
    try:
        send = TemplateSend.model_validate({
            "id": template.id, "body": asked.get("parameters") or [], "header": asked.get("header"),
            "header_media_url": asked.get("header_media_url"), "header_location": asked.get("header_location"),
            "buttons": asked.get("buttons") or []})
        message["content"] = template_content(template, send, number_id)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
        return PARAMETERS, f"template {name!r}: {where}: {exc.errors()[0]['msg']}"
    except ValidationFailed as exc:
        return (UNAVAILABLE if exc.field == "template.id" else PARAMETERS), exc.message
    return None
