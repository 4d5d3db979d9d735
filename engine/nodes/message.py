"""`message`: sends text, media, reply buttons or a list, then continues through `next`.

    {"text": "Olá {{contact.name | default(\\"cliente\\")}}! 👋",
     "media_url": "https://example.com/menu.jpg",
     "buttons": [{"id": "menu", "title": "Ver cardápio"}]}

Media alone carries `text` as its caption; media together with buttons or a
list is sent first, followed by the interactive message with the text.

    {"template": {"name": "order_shipped", "language": "pt_BR",
                  "parameters": ["{{contact.name}}", "{{vars.order_id}}"]}}

A `template` is sent as a ``template`` message with its parameters rendered
(`template_message`); the platform checks it against the approved template
before it reaches the outbox (api/conversations/flow_templates.py).
"""

from __future__ import annotations

from typing import Any, Mapping

from engine import events as ev
from engine.context import Run
from engine.ports import OutboundMessage
from engine.program import Instruction, Op
from engine.urls import http_url_problem

MEDIA_TYPES = ("image", "video", "audio", "document")


def interactive(
    run: Run, text: str, arg: Mapping[str, Any], buttons: Any, rows: Any, list_button: Any
) -> OutboundMessage:
    """A `button` or `list` message with rendered titles (and header/footer when given)."""
    if buttons:
        content: dict[str, Any] = {
            "text": text,
            "buttons": [{"id": b["id"], "title": run.render_text(b.get("title", ""))} for b in buttons],
        }
        kind = "button"
    else:
        content = {
            "text": text,
            "button": run.render_text(list_button) or run.builtin_text("list_button"),
            "rows": [_row(run, r) for r in rows],
        }
        kind = "list"
    for key in ("header", "footer"):
        value = run.render_text(arg.get(key))
        if value:
            content[key] = value
    return OutboundMessage(kind, content)


def _row(run: Run, row: Mapping[str, Any]) -> dict[str, Any]:
    out = {"id": row["id"], "title": run.render_text(row.get("title", ""))}
    if row.get("description"):
        out["description"] = run.render_text(row["description"])
    return out


def template_message(run: Run, template: Mapping[str, Any]) -> OutboundMessage:
    """A ``template`` message: name, language and every parameter rendered now."""
    out: dict[str, Any] = {"name": template["name"], "language": template.get("language") or "pt_BR",
                           "parameters": [run.render_text(p) or "" for p in template.get("parameters") or ()]}
    for key in ("header", "header_media_url"):
        if template.get(key) is not None:
            out[key] = run.render_text(template[key]) or ""
    place = template.get("header_location")
    if place is not None:
        rendered = {k: run.render_text(place[k]) for k in ("name", "address") if k in place}
        # a name or address that renders empty is left out (both are optional), not sent blank
        out["header_location"] = {"latitude": place["latitude"], "longitude": place["longitude"],
                                  **{k: v for k, v in rendered.items() if v and v.strip()}}
    if template.get("buttons"):
        out["buttons"] = [{"index": b["index"], "text": run.render_text(b["text"]) or ""}
                          for b in template["buttons"]]
    return OutboundMessage("template", {"template": out})


def build(run: Run, arg: Mapping[str, Any]) -> list[OutboundMessage]:
    if arg.get("template"):
        return [template_message(run, arg["template"])]
    text = run.render_text(arg.get("text")) or ""
    media_url = run.render_text(arg.get("media_url"))
    buttons = arg.get("buttons")
    listing = arg.get("list")
    out: list[OutboundMessage] = []
    if media_url:
        media_type = arg.get("media_type") or "image"
        if media_type not in MEDIA_TYPES:
            media_type = "document"
        content: dict[str, Any] = {"media_url": media_url}
        if text and not (buttons or listing):
            content["caption"] = text
        if media_type == "document" and arg.get("filename"):
            content["filename"] = run.render_text(arg["filename"])
        out.append(OutboundMessage(media_type, content))
        if not (buttons or listing):
            return out
    if buttons or listing:
        rows = (listing or {}).get("rows", ()) if not buttons else ()
        out.append(interactive(run, text, arg, buttons, rows, (listing or {}).get("button")))
    elif text:
        out.append(OutboundMessage("text", {"text": text}))
    return out


def _bad_media(message: OutboundMessage) -> tuple[str, str, str] | None:
    """(field, url, problem) of a rendered media link WhatsApp could not fetch, or None."""
    if message.type in MEDIA_TYPES:
        found = ("media_url", message.content.get("media_url"))
    elif message.type == "template" and "header_media_url" in message.content["template"]:
        found = ("template.header_media_url", message.content["template"]["header_media_url"])
    else:
        return None
    problem = http_url_problem(found[1])
    return None if problem is None else (found[0], found[1], problem)


def execute(run: Run, ins: Instruction) -> int:
    messages = build(run, ins.arg or {})
    for message in messages:  # checked before any is sent: the node sends all or nothing
        bad = _bad_media(message)
        if bad is not None:
            field, url, problem = bad
            shown = url if len(url) <= 200 else url[:197] + "..."
            run.fail(ins.node, ev.INVALID_MEDIA_URL,
                     f"message {ins.node!r}: {field} rendered as {shown!r}, which {problem}; "
                     "not sent (WhatsApp would refuse it)")
            return run.follow(ins, "next")  # as a template that cannot be sent: the run goes on
    for message in messages:
        run.send(ins.node, message)
    return run.follow(ins, "next")


HANDLERS = {Op.MESSAGE: execute}
