"""What the compiler knows about each node type: handles, choices, variables set.

One table per fact, keyed by node type, so each type's rules are found by its
name (flow_schemas/README.md is the contract). Every function here accepts
data that failed schema validation (wrong types, missing fields) and answers
from what it can read: graph checks still run on a half-broken canvas.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

NODE_TYPES = (
    "start", "message", "question", "condition", "action",
    "api_call", "ai_prompt", "jump", "end", "handoff",
)

# Handles every node of a type has, besides those named by its data.
FIXED_HANDLES: dict[str, tuple[str, ...]] = {
    "start": ("next",),
    "message": ("next",),
    "question": ("next", "invalid", "timeout"),
    "condition": (),
    "action": ("next",),
    "api_call": ("success", "error"),
    "ai_prompt": ("success", "error"),
    "jump": ("next",),
    "end": (),
    "handoff": (),
}

TERMINAL_TYPES = frozenset({"end", "handoff"})

# The layout walk follows these handles first so the main path falls through.
PRIMARY_HANDLES = ("next", "success", "true")

VARIABLE_DEFAULTS = {"api_call": ("status_variable", "api_status"), "ai_prompt": ("variable", "ai_response")}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def choices(node_type: str, data: Mapping[str, Any]) -> Iterator[tuple[tuple, str]]:
    """(path inside data, id) of each button, list row, option or case of a node."""
    if node_type == "message":
        for i, b in enumerate(as_list(data.get("buttons"))):
            if isinstance(b, dict) and isinstance(b.get("id"), str):
                yield ("buttons", i, "id"), b["id"]
        for i, r in enumerate(as_list(as_dict(data.get("list")).get("rows"))):
            if isinstance(r, dict) and isinstance(r.get("id"), str):
                yield ("list", "rows", i, "id"), r["id"]
    elif node_type == "question":
        for i, o in enumerate(as_list(data.get("options"))):
            if isinstance(o, dict) and isinstance(o.get("id"), str):
                yield ("options", i, "id"), o["id"]
    elif node_type == "condition":
        for i, c in enumerate(as_list(data.get("cases"))):
            if isinstance(c, dict) and isinstance(c.get("id"), str):
                yield ("cases", i, "id"), c["id"]


def branch_choices(node_type: str, data: Mapping[str, Any]) -> list[str]:
    """Ids that are also handles: a question's options, a condition's cases."""
    if node_type in ("question", "condition"):
        return [choice_id for _, choice_id in choices(node_type, data)]
    return []


def is_cases_condition(data: Mapping[str, Any]) -> bool:
    return "cases" in data


def handles(node_type: str, data: Mapping[str, Any]) -> frozenset[str]:
    """Every handle an edge may leave this node through."""
    if node_type == "condition":
        if is_cases_condition(data):
            return frozenset(branch_choices(node_type, data)) | {"default"}
        return frozenset({"true", "false"})
    return frozenset(FIXED_HANDLES.get(node_type, ())) | frozenset(branch_choices(node_type, data))


def reserved_handles(node_type: str) -> frozenset[str]:
    """Built-in handle names an option or case id must not take."""
    if node_type == "condition":
        return frozenset({"default"})
    return frozenset(FIXED_HANDLES.get(node_type, ()))


def required_handles(node_type: str, data: Mapping[str, Any], connected: set[str]) -> list[str]:
    """Handles that must have an edge, given the handles that have one."""
    if node_type == "start":
        return ["next"]
    if node_type in ("api_call", "ai_prompt"):
        return ["success"]
    if node_type == "condition":
        if is_cases_condition(data):
            return list(dict.fromkeys(branch_choices(node_type, data) + ["default"]))
        return ["true", "false"]
    if node_type == "question":
        options = branch_choices(node_type, data)
        if options and all(o in connected for o in options):
            return []
        return ["next"]
    return []


def answering_handles(node_type: str, data: Mapping[str, Any]) -> list[str]:
    """Handles a customer reaches through no fault of the flow's main path (a wrong
    answer, silence, a failed call): left unconnected, the customer hears nothing."""
    if node_type == "question":
        return ["invalid"] + (["timeout"] if data.get("timeout_seconds") else [])
    if node_type in ("api_call", "ai_prompt"):
        return ["error"]
    return []


def variables_set(node_type: str, data: Mapping[str, Any], handle: str) -> tuple[str, ...]:
    """Flow variables a node has set when the run leaves it through `handle`."""
    if node_type == "question":
        if handle in ("invalid", "timeout"):
            return ()
        name = data.get("variable")
        if not isinstance(name, str):
            return ()
        return (name, f"{name}_title") if "options" in data else (name,)
    if node_type == "action":
        params = as_dict(data.get("params"))
        if data.get("action") == "set_variable" and isinstance(params.get("variable"), str):
            return (params["variable"],)
        return ()
    if node_type == "api_call":
        status = data.get("status_variable", "api_status")
        out = (status,) if isinstance(status, str) else ()
        if handle == "success":
            out += tuple(k for k in as_dict(data.get("response_mapping")) if isinstance(k, str))
        return out
    if node_type == "ai_prompt":
        name = data.get("variable", "ai_response")
        return (name,) if handle == "success" and isinstance(name, str) else ()
    return ()
