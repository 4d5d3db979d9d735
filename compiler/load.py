"""Stage 1, load + validate: untrusted canvas JSON → `Canvas` + diagnostics.

Checks that the value is JSON data, then validates it against
``flow_schemas/canvas.schema.json`` and each node's data against
``flow_schemas/nodes/<type>.schema.json``. Every problem becomes a
diagnostic located by node id and JSON pointer; nothing raises. Extraction is
tolerant: a node with a usable id stays in the graph even when its data is
wrong, so the later stages can still report what else is wrong.

Schemas are compiled once at import. Valid data (the common case) is
confirmed by ``jsonschema_rs`` (Rust, ~100x faster); only data it rejects is
re-validated by ``jsonschema`` to build located, readable messages.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import jsonschema_rs

from compiler.diagnostics import Diagnostic, make, pointer
from compiler.node_types import NODE_TYPES

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "flow_schemas"
MAX_DEPTH = 64  # deeper JSON is refused: no stage should need to recurse further

# Validator keywords whose failure is best explained by the schema's own "x-message".
_EXPLAINED = frozenset({"oneOf", "anyOf", "not", "required", "pattern", "const", "maxProperties"})


@dataclass(slots=True)
class Node:
    id: str
    type: str
    data: dict
    x: float
    y: float
    index: int  # position in the canvas's nodes array (for JSON pointers)
    valid: bool = True  # data matched its type's schema

    @property
    def pointer(self) -> str:
        return pointer("nodes", self.index)


@dataclass(slots=True)
class Edge:
    id: str
    source: str
    target: str
    handle: str
    index: int

    @property
    def pointer(self) -> str:
        return pointer("edges", self.index)


@dataclass
class Canvas:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)


@dataclass
class LoadResult:
    canvas: Canvas | None
    diagnostics: list[Diagnostic]


class _Schema:
    """A schema compiled twice: a fast yes/no check and a detailed error reporter."""

    def __init__(self, path: Path) -> None:
        self.document = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(self.document)
        self.fast = jsonschema_rs.Draft202012Validator(self.document)
        self.detailed = jsonschema.Draft202012Validator(self.document)

    def errors(self, instance: Any) -> list[jsonschema.ValidationError]:
        try:
            if self.fast.is_valid(instance):
                return []
        except (ValueError, TypeError, OverflowError):  # not representable in Rust: ask jsonschema
            pass
        return sorted(self.detailed.iter_errors(instance), key=lambda e: (list(map(str, e.absolute_path)), e.validator))


CANVAS_SCHEMA = _Schema(SCHEMA_DIR / "canvas.schema.json")
NODE_SCHEMAS = {t: _Schema(SCHEMA_DIR / "nodes" / f"{t}.schema.json") for t in NODE_TYPES}


_ODD_ESCAPE = re.compile(r"\\u(0000|d[89a-f][0-9a-f]{2})", re.IGNORECASE)


def _unstorable_text(value: Any) -> tuple[str, str] | None:
    """(pointer, reason) of the first string (or key) holding U+0000 or a lone surrogate: JSON
    escapes can write both, but neither is text PostgreSQL stores or UTF-8 encodes."""
    stack: list[tuple[Any, tuple]] = [(value, ())]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            stack += [(k, where) for k in item] + [(v, where + (k,)) for k, v in item.items()]
        elif isinstance(item, list):
            stack += [(v, where + (i,)) for i, v in enumerate(item)]
        elif isinstance(item, str):
            if "\x00" in item:
                return pointer(*where), "a string holds U+0000 (NUL), which is not text"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return pointer(*where), "a string holds a lone surrogate (\\ud800-\\udfff), which is not text"
    return None


def parse_json_text(text: str | bytes | bytearray) -> tuple[Any, Diagnostic | None]:
    """JSON text → value, or None and an ``invalid-json`` diagnostic with line and column (or the
    pointer of a string that holds what is not text: U+0000, a lone surrogate)."""
    try:
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8")
        value = json.loads(text)
        # only \\u escapes write them (raw, JSON or UTF-8 refuse them): the walk is for texts that have one
        if _ODD_ESCAPE.search(text) and (problem := _unstorable_text(value)) is not None:
            where, why = problem
            return None, make("invalid-json", None, where, f"not valid text at {where or '/'}: {why}")
        return value, None
    except UnicodeDecodeError as exc:
        return None, make("invalid-json", None, "", f"not UTF-8 text: {exc.reason} at byte {exc.start}")
    except json.JSONDecodeError as exc:
        return None, make("invalid-json", None, "", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
    except ValueError:  # Python's guard against integers of more than sys.get_int_max_str_digits() digits
        return None, make("invalid-json", None, "",
                          f"not valid JSON: a number has more than {sys.get_int_max_str_digits()} digits")
    except RecursionError:
        return None, make("invalid-json", None, "", "not valid JSON: nested too deeply")


def load_canvas(raw: Any) -> LoadResult:
    """Validate `raw` (parsed JSON, or JSON text) and extract its nodes and edges."""
    diagnostics: list[Diagnostic] = []
    if isinstance(raw, (str, bytes, bytearray)):
        raw, problem_text = parse_json_text(raw)
        if problem_text is not None:
            return LoadResult(None, [problem_text])
    problem = json_problem(raw)
    if problem is not None:
        where, text = problem
        return LoadResult(None, [make("invalid-canvas", None, where, text)])
    if not isinstance(raw, dict):
        return LoadResult(None, [make("invalid-canvas", None, "", f"a canvas is a JSON object, not {_json_type(raw)}")])

    for err in CANVAS_SCHEMA.errors(raw):
        diagnostics.append(_canvas_diagnostic(raw, err))
    nodes_raw, edges_raw = raw.get("nodes"), raw.get("edges", [])
    if not isinstance(nodes_raw, list) or not isinstance(edges_raw, list):
        return LoadResult(None, diagnostics)

    canvas = Canvas()
    for index, item in enumerate(nodes_raw):
        node = _extract_node(item, index)
        if node is None:
            continue
        if node.id in canvas.nodes:
            first = canvas.nodes[node.id]
            diagnostics.append(make(
                "duplicate-node-id", node.id, node.pointer,
                f"node id {node.id!r} is already used by node #{first.index}; this node is ignored",
                "give every node its own id",
            ))
            continue
        canvas.nodes[node.id] = node
        if node.type in NODE_SCHEMAS and isinstance(item.get("data"), dict):
            node_diags = [_node_diagnostic(node, err) for err in NODE_SCHEMAS[node.type].errors(node.data)]
            if node_diags:
                node.valid = False
                diagnostics.extend(node_diags)
        else:
            node.valid = False

    seen_edges: dict[str, Edge] = {}
    for index, item in enumerate(edges_raw):
        edge = _extract_edge(item, index)
        if edge is None:
            continue
        if edge.id in seen_edges:
            diagnostics.append(make(
                "duplicate-edge-id", edge.source, edge.pointer,
                f"edge id {edge.id!r} is already used by edge #{seen_edges[edge.id].index}; this edge is ignored",
                "give every edge its own id",
            ))
            continue
        seen_edges[edge.id] = edge
        canvas.edges.append(edge)
    return LoadResult(canvas, diagnostics)


def _extract_node(item: Any, index: int) -> Node | None:
    if not isinstance(item, dict):
        return None
    node_id = item.get("id")
    if not isinstance(node_id, str) or not node_id:
        return None
    node_type = item.get("type") if isinstance(item.get("type"), str) else ""
    data = item.get("data") if isinstance(item.get("data"), dict) else {}
    position = item.get("position") if isinstance(item.get("position"), dict) else {}
    return Node(node_id, node_type, data, _number(position.get("x")), _number(position.get("y")), index)


def _extract_edge(item: Any, index: int) -> Edge | None:
    if not isinstance(item, dict):
        return None
    edge_id, source, target = item.get("id"), item.get("source"), item.get("target")
    if not all(isinstance(v, str) and v for v in (edge_id, source, target)):
        return None
    handle = item.get("sourceHandle")
    if not isinstance(handle, str) or not handle:
        handle = "next"
    return Edge(edge_id, source, target, handle, index)


def _number(value: Any) -> float:
    """A position as a float; 0.0 when it is not a number or too large for one (the schema reports it)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return 0.0
    try:
        return float(value)
    except OverflowError:  # an integer beyond ±1.8e308
        return 0.0


# -- JSON-ness ----------------------------------------------------------------


_PLAIN = frozenset({str, int, bool, type(None)})


def _plain_json(value: Any) -> bool:
    """Fast check that `value` is made of exactly dict/list/str/int/float/bool/None, not too deep."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        t = type(item)
        if t is dict or t is list:
            if depth >= MAX_DEPTH:
                return False
            if t is dict:
                if not all(type(k) is str for k in item):
                    return False
                children = item.values()
            else:
                children = item
            for child in children:
                tc = type(child)
                if tc in _PLAIN:
                    continue
                if tc is float:
                    if child - child != 0.0:  # inf or nan
                        return False
                    continue
                stack.append((child, depth + 1))
        elif t is float:
            if item - item != 0.0:
                return False
        elif t not in _PLAIN:
            return False
    return True


def json_problem(value: Any) -> tuple[str, str] | None:
    """(pointer, reason) of the first part of `value` that is not JSON data, or None.

    Guards the later stages (and canonical encoding) against sets, tuples,
    non-string keys, NaN and pathological nesting. Iterative.
    """
    if _plain_json(value):
        return None
    stack: list[tuple[Any, tuple, int]] = [(value, (), 0)]
    while stack:
        item, where, depth = stack.pop()
        t = type(item)
        if t is str or t is bool or t is int or item is None:
            continue
        if t is float:
            if not math.isfinite(item):
                return pointer(*where), f"{item!r} is not a JSON number"
            continue
        if depth >= MAX_DEPTH:
            return pointer(*where), f"nested deeper than {MAX_DEPTH} levels"
        if t is dict or isinstance(item, dict):
            for key, sub in item.items():
                if type(key) is not str:
                    return pointer(*where), f"object key {key!r} is not a string"
                if type(sub) not in (str, bool, int) and sub is not None:
                    stack.append((sub, where + (key,), depth + 1))
            continue
        if t is list or isinstance(item, list):
            for i, sub in enumerate(item):
                if type(sub) not in (str, bool, int) and sub is not None:
                    stack.append((sub, where + (i,), depth + 1))
            continue
        if isinstance(item, (str, int, float)):  # subclasses (enums, numpy scalars...) are not plain JSON
            return pointer(*where), f"a {t.__name__} is not plain JSON data"
        return pointer(*where), f"a {t.__name__} is not JSON data"
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# -- schema errors → diagnostics -----------------------------------------------


def _canvas_diagnostic(raw: dict, err: jsonschema.ValidationError) -> Diagnostic:
    parts = list(err.absolute_path)
    node_id = None
    if len(parts) >= 2 and parts[0] == "nodes" and isinstance(parts[1], int):
        item = raw["nodes"][parts[1]]
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            node_id = item["id"]
    if len(parts) == 3 and parts[0] == "nodes" and parts[2] == "type" and err.validator == "enum":
        return make(
            "unknown-node-type", node_id, pointer(*parts),
            f"unknown node type {err.instance!r}",
            "node types: " + ", ".join(NODE_TYPES),
        )
    return make("invalid-canvas", node_id, pointer(*parts), f"{_field(parts) if parts else 'canvas'}: {_explain(err)}")


def _node_diagnostic(node: Node, err: jsonschema.ValidationError) -> Diagnostic:
    parts = list(err.absolute_path)
    where = pointer("nodes", node.index, "data", *parts)
    limit = err.schema.get("x-whatsapp-limit") if isinstance(err.schema, dict) else None
    if limit and err.validator in ("maxLength", "maxItems"):
        size = len(err.instance)
        unit = "characters" if err.validator == "maxLength" else "items"
        return make(
            "whatsapp-limit", node.id, where,
            f"{_field(parts)}: {limit} has {size} {unit}; WhatsApp allows at most {err.validator_value}",
            _limit_hint(parts, err.validator),
        )
    if parts == ["action"] and err.validator == "enum" and node.type == "action":
        return make(
            "unknown-action", node.id, where, f"unknown action {err.instance!r}",
            "actions: " + ", ".join(err.validator_value),
        )
    return make("invalid-node-data", node.id, where, f"{node.type} {_field(parts)}: {_explain(err)}")


def _limit_hint(parts: list, validator: str) -> str | None:
    if parts and parts[-1] in ("buttons", "options") and validator == "maxItems":
        return "use a list (up to 10 rows) or a question with options"
    if validator == "maxLength" and parts and parts[-1] == "id":
        return "use a shorter id (the customer never sees it)"
    if validator == "maxLength":
        return "shorten the text"
    return None


def _field(parts: Iterable) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "data"


def _short(value: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _explain(err: jsonschema.ValidationError) -> str:
    """A short, readable reason for one schema error (never the whole instance)."""
    v, expected, instance = err.validator, err.validator_value, err.instance
    schema = err.schema if isinstance(err.schema, dict) else {}
    if v in _EXPLAINED and "x-message" in schema:
        return schema["x-message"]
    if v == "required":
        missing = [name for name in expected if isinstance(instance, dict) and name not in instance]
        return f"missing required field {', '.join(f'`{m}`' for m in missing) or '?'}"
    if v == "additionalProperties":
        known = set(schema.get("properties", {}))
        extra = sorted(k for k in instance if k not in known) if isinstance(instance, dict) else []
        return f"unknown field {', '.join(f'`{k}`' for k in extra)}"
    if v == "type":
        wanted = expected if isinstance(expected, str) else " or ".join(expected)
        return f"must be {wanted}, not {_json_type(instance)}"
    if v == "enum":
        return f"{_short(instance)} is not one of {', '.join(_short(e) for e in expected)}"
    if v == "const":
        return f"must be {_short(expected)}"
    if v == "minLength":
        return "must not be empty" if expected == 1 else f"must be at least {expected} characters"
    if v == "maxLength":
        return f"is {len(instance)} characters long; at most {expected} allowed"
    if v == "minItems":
        return f"needs at least {expected} item{'s' if expected != 1 else ''}"
    if v == "maxItems":
        return f"has {len(instance)} items; at most {expected} allowed"
    if v == "minimum":
        return f"must be ≥ {expected}"
    if v == "maximum":
        return f"must be ≤ {expected}"
    if v == "exclusiveMinimum":
        return f"must be > {expected}"
    if v == "pattern":
        return f"{_short(instance)} does not match {expected}"
    if v in ("oneOf", "anyOf"):
        return "does not match any of the allowed forms"
    message = err.message
    return message if len(message) <= 200 else message[:197] + "..."
