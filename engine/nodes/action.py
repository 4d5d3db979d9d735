"""`action`: changes state and continues through `next`.

    {"action": "set_variable", "params": {"variable": "total", "expression": {"$expr": ...}}}
    {"action": "add_tag", "params": {"tag": "lead"}}          (and "remove_tag")
    {"action": "set_contact_attribute", "params": {"attribute": "city", "value": "Recife"}}
    {"action": "set_priority", "params": {"priority": "high"}}
    {"action": "close_conversation", "params": {}}

Contact and conversation changes are events (``tag_added``, ``attribute_set``,
``priority_set``, ``conversation_closed``...) that the caller applies
(engine/effects.py); they are mirrored in the run's ``contact`` namespace so
later nodes read them (`name` and `email` are columns, other attributes live
under ``contact.attributes``).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from engine import events as ev
from engine.context import Run
from engine.program import Instruction, Op

PRIORITIES = ("low", "normal", "high", "urgent")
CONTACT_COLUMNS = ("name", "email")


def set_variable(run: Run, node: str, params: Mapping[str, Any]) -> None:
    """Synchronous: the common action stays off the coroutine machinery."""
    if "expression" in params:
        value = run.render(params["expression"])
    else:
        value = run.render(params.get("value"))
    run.set_var(node, params["variable"], value)


def _add_tag(run: Run, node: str, params: Mapping[str, Any]) -> None:
    tag = (run.render_text(params.get("tag")) or "").strip()
    if not tag:
        return
    tags = run.contact.setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)
    run.emit(ev.TAG_ADDED, node, {"tag": tag})


def _remove_tag(run: Run, node: str, params: Mapping[str, Any]) -> None:
    tag = (run.render_text(params.get("tag")) or "").strip()
    if not tag:
        return
    tags = run.contact.get("tags")
    if tags and tag in tags:
        tags.remove(tag)
    run.emit(ev.TAG_REMOVED, node, {"tag": tag})


def _set_contact_attribute(run: Run, node: str, params: Mapping[str, Any]) -> None:
    attribute = params["attribute"]
    value = run.render(params.get("value"))
    if attribute in CONTACT_COLUMNS:
        run.contact[attribute] = value
    else:
        run.contact.setdefault("attributes", {})[attribute] = value
    run.emit(ev.ATTRIBUTE_SET, node, {"attribute": attribute, "value": value})


def _set_priority(run: Run, node: str, params: Mapping[str, Any]) -> None:
    priority = run.render_text(params.get("priority"))
    if priority not in PRIORITIES:
        run.emit(ev.ERROR, node, {"code": "bad_priority", "message": f"unknown priority {priority!r}"})
        return
    run.conversation["priority"] = priority
    run.emit(ev.PRIORITY_SET, node, {"priority": priority})


def _close_conversation(run: Run, node: str, params: Mapping[str, Any]) -> None:
    run.conversation["status"] = "closed"
    run.emit(ev.CONVERSATION_CLOSED, node, None)


ACTIONS: dict[str, Callable[[Run, str, Mapping[str, Any]], None]] = {
    "add_tag": _add_tag,
    "remove_tag": _remove_tag,
    "set_contact_attribute": _set_contact_attribute,
    "set_priority": _set_priority,
    "close_conversation": _close_conversation,
}


def execute(run: Run, ins: Instruction) -> int:
    arg = ins.arg
    name = arg.get("action")
    if name == "set_variable":
        set_variable(run, ins.node, arg["params"])
        return run.follow(ins, "next")
    action = ACTIONS.get(name)
    if action is None:
        return run.fail(ins.node, "unknown_action", f"unknown action {name!r}")
    action(run, ins.node, arg.get("params") or {})
    return run.follow(ins, "next")


HANDLERS = {Op.ACTION: execute}
