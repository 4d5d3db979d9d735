"""A malformed canvas never raises: random JSON, random canvases and mutated examples.

Whatever comes in, `lint_canvas` returns a list of Diagnostics and
`compile_canvas` returns a program exactly when there is no error.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import Diagnostic, compile_canvas, lint_canvas
from compiler.node_types import NODE_TYPES, handles, required_handles
from engine.program import Program

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FLOWS = [json.loads(p.read_text(encoding="utf-8"))
         for p in sorted(EXAMPLES.glob("*.json")) if not p.name.endswith(".transcript.json")]

# PYTAKE_FUZZ_EXAMPLES=5000 for a longer hunt; the default keeps the suite quick.
FUZZ = settings(max_examples=int(os.environ.get("PYTAKE_FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=30), st.sampled_from(["{{", "{{ x }}", "{{ contact.name | upper }}", "}}", "$x", "next", "start", "vars", "true"]))
object_keys = st.text(max_size=12) | st.sampled_from(["$tpl", "$expr", "$set", "id", "title", "next"])
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(object_keys, inner, max_size=5),
                           max_leaves=40)
keys = st.sampled_from(["text", "variable", "options", "buttons", "list", "url", "body", "cases", "expression", "operator",
                        "value", "action", "params", "flow", "target_node", "return", "provider", "model", "pattern",
                        "validation", "media_url", "label", "id", "title", "rows", "button"])
node_data = st.dictionaries(keys, json_values, max_size=6)


def check(canvas: Any, known_flows: Any = None) -> None:
    diags = lint_canvas(canvas, known_flows=known_flows)
    assert isinstance(diags, list) and all(isinstance(d, Diagnostic) for d in diags)
    result = compile_canvas(canvas, known_flows=known_flows)
    assert [d.code for d in result.diagnostics] == [d.code for d in diags]
    has_error = any(d.severity == "error" for d in result.diagnostics)
    assert result.ok is (not has_error)
    assert (result.program is not None) is result.ok
    if result.program is not None:
        assert Program.from_bytes(result.program.to_bytes()) == result.program
        assert len(result.node_rows) >= len(result.program.code)


@FUZZ
@given(json_values)
def test_random_json_never_raises(value: Any) -> None:
    check(value)


@FUZZ
@given(st.fixed_dictionaries({"nodes": json_values, "edges": json_values}))
def test_random_nodes_and_edges_never_raise(value: Any) -> None:
    check(value)


@st.composite
def random_canvases(draw: st.DrawFn) -> dict:
    ids = draw(st.lists(st.sampled_from(["start", "a", "b", "c", "d", "e"]), min_size=1, max_size=8))
    nodes = [{"id": i, "type": draw(st.sampled_from(NODE_TYPES + ("bogus",))), "position": {"x": 0, "y": 0},
              "data": draw(node_data)} for i in ids]
    handles = st.sampled_from([None, "next", "true", "false", "default", "success", "error", "invalid", "timeout", "x"])
    edges = [{"id": draw(st.text(min_size=1, max_size=3)), "source": draw(st.sampled_from(ids + ["zz"])),
              "target": draw(st.sampled_from(ids + ["zz"])), "sourceHandle": draw(handles)}
             for _ in range(draw(st.integers(0, 10)))]
    return {"nodes": nodes, "edges": edges}


@FUZZ
@given(random_canvases(), st.none() | st.sets(st.text(max_size=5), max_size=3))
def test_random_canvases_of_real_node_types_never_raise(canvas: dict, known_flows: Any) -> None:
    check(canvas, known_flows)


# Mostly good values (repeated to weigh them), some bad ones.
texts = st.sampled_from(["Olá", "Olá", "{{x}}", "Oi {{contact.name | default(\"você\")}}", "Oi", "{{ x | upper }} {{z}}",
                         "{{vars}}", "Tchau", "{{ y + }}", "{{nope(1)}}", "{{", "", "a" * 30])
names = st.sampled_from(["x", "x", "y", "y", "z", "vars", "contact.city", "vars.x.y", "message", "true", "x-y"])
ids = st.sampled_from(["a", "b", "c", "next", "default", "invalid", "true"])
choice = st.fixed_dictionaries({"id": ids, "title": texts}, optional={"description": texts})
choices_ = st.lists(choice, max_size=4, unique_by=lambda c: c["id"]) | st.lists(choice, max_size=12)


def plausible_data(node_type: str) -> st.SearchStrategy:
    """Data close to each node type's schema, so fuzzing reaches lowering and the graph checks."""
    common = {"label": st.text(max_size=5)}
    if node_type == "message":
        return st.fixed_dictionaries({"text": texts}, optional={**common, "media_url": texts, "buttons": choices_,
                                                   "list": st.fixed_dictionaries({"button": texts, "rows": choices_}),
                                                   "header": texts, "footer": texts})
    if node_type == "question":
        return st.fixed_dictionaries({"text": texts, "variable": names}, optional={
            "validation": st.sampled_from(["text", "number", "option", "regex", "date"]), "options": choices_,
            "pattern": st.sampled_from(["\\d+", "(a+)+", "[", "", "x{2,}"]), "min": st.integers(-3, 3),
            "options_style": st.sampled_from(["buttons", "list"]), "retry_message": texts, "timeout_seconds": st.integers(0, 60)})
    if node_type == "condition":
        rule = st.fixed_dictionaries({"variable": names, "operator": st.sampled_from(
            ["==", ">", "contains", "not_contains", "in", "not_in", "is_empty", "is_not_empty", "starts_with"])},
            optional={"value": json_values})
        case = st.one_of(st.fixed_dictionaries({"id": ids, "expression": texts}),
                         rule.map(lambda r: {"id": "c", **r}))
        return st.one_of(rule, st.fixed_dictionaries({"expression": st.sampled_from(["x > 1", "contact.vip", "(", "vars"])}),
                         st.fixed_dictionaries({"cases": st.lists(case, max_size=4)}))
    if node_type == "action":
        return st.fixed_dictionaries({"action": st.sampled_from(["set_variable", "add_tag", "close_conversation", "bogus"])},
                                     optional={"params": st.fixed_dictionaries({}, optional={
                                         "variable": names, "value": texts, "expression": texts, "tag": texts})})
    if node_type == "api_call":
        return st.fixed_dictionaries({"url": st.sampled_from(["https://x.example.com/{{x}}", "{{x}}", "ftp://x"])},
                                     optional={"body": json_values, "headers": st.dictionaries(st.text(max_size=3), texts),
                                               "response_mapping": st.dictionaries(names, st.sampled_from(["$", "a.b[0]", "a..b"]))})
    if node_type == "ai_prompt":
        return st.fixed_dictionaries({"provider": st.sampled_from(["openai", "anthropic"]), "model": st.just("m")},
                                     optional={"prompt": texts, "variable": names})
    if node_type == "jump":
        return st.one_of(st.fixed_dictionaries({"target_node": st.sampled_from(["a", "b", "c", "zz"])}),
                         st.fixed_dictionaries({"flow": st.sampled_from(["f", "g"])}, optional={"return": st.booleans()}))
    if node_type == "end":
        return st.fixed_dictionaries({}, optional={"message": texts})
    if node_type == "handoff":
        return st.fixed_dictionaries({}, optional={"message": texts, "reason": texts})
    return st.just({})


@st.composite
def plausible_canvases(draw: st.DrawFn) -> dict:
    node_ids = ["start"] + draw(st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), max_size=7, unique=True)) + ["zend"]
    nodes = []
    for node_id in node_ids:
        node_type = {"start": "start", "zend": "end"}.get(node_id) or draw(st.sampled_from(NODE_TYPES[1:]))
        nodes.append({"id": node_id, "type": node_type, "position": {"x": 0, "y": 0}, "data": draw(plausible_data(node_type))})
    edges = []
    for i, node in enumerate(nodes):  # mostly well-wired: each handle usually leads to a later node
        for handle in sorted(handles(node["type"], node["data"])):
            if handle in required_handles(node["type"], node["data"], set()) or draw(st.integers(0, 9)) < 7:
                later = node_ids[i + 1:]
                if not later:
                    break
                target = draw(st.sampled_from(later) if draw(st.integers(0, 19)) else st.sampled_from(node_ids))
                edges.append({"id": f"e{len(edges)}", "source": node["id"], "target": target, "sourceHandle": handle})
    noise = st.sampled_from([None, "next", "true", "default", "success", "invalid", "a", "zz"])
    for _ in range(draw(st.integers(0, 1)) * draw(st.integers(0, 2))):
        edges.append({"id": f"e{len(edges)}", "source": draw(st.sampled_from(node_ids + ["zz"])),
                      "target": draw(st.sampled_from(node_ids + ["zz"])), "sourceHandle": draw(noise)})
    return {"nodes": nodes, "edges": edges}


@FUZZ
@given(plausible_canvases(), st.none() | st.just({"f"}))
def test_nearly_valid_canvases_never_raise(canvas: dict, known_flows: Any) -> None:
    check(canvas, known_flows)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


def _mutate(doc: Any, path: tuple, operation: str, replacement: Any) -> Any:
    if not path:
        return replacement if operation == "replace" else doc
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if operation == "drop":
        del parent[last]
    elif operation == "rename" and isinstance(parent, dict):
        parent[f"{last}_x"] = parent.pop(last)
    elif operation == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    else:
        parent[last] = replacement
    return doc


@FUZZ
@given(st.data())
def test_mutated_examples_never_raise(data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(FLOWS)))
    for _ in range(data.draw(st.integers(1, 4))):
        paths = _paths(doc)
        path = data.draw(st.sampled_from(paths))
        operation = data.draw(st.sampled_from(["drop", "rename", "replace", "duplicate"]))
        doc = _mutate(doc, path, operation, data.draw(json_values))
    check(doc, {"nps_followup"})


@FUZZ
@given(st.data())
def test_deleting_nodes_and_edges_from_examples_never_raises(data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(FLOWS)))
    for key in ("nodes", "edges"):
        keep = data.draw(st.lists(st.booleans(), min_size=len(doc[key]), max_size=len(doc[key])))
        doc[key] = [item for item, kept in zip(doc[key], keep) if kept]
    check(doc)


def test_values_that_are_not_json_are_diagnosed() -> None:
    nested: Any = []
    for _ in range(5000):
        nested = [nested]
    for value in (
        {"nodes": {1, 2}}, {"nodes": [], "edges": (1,)}, {"nodes": [{"id": "s", "data": {1: "x"}}]},
        {"nodes": [{"id": "s", "type": "start", "position": {"x": float("nan"), "y": 0}, "data": {}}]},
        {"nodes": nested}, object(), 3 + 4j,
    ):
        diags = lint_canvas(value)
        assert [d.code for d in diags] == ["invalid-canvas"]
        assert compile_canvas(value).program is None


def test_json_text_is_parsed_and_bad_text_is_diagnosed(cv) -> None:
    canvas = cv.canvas([cv.node("start", "start"), cv.node("end", "end")], [cv.edge("start", "end")])
    assert compile_canvas(json.dumps(canvas)).ok
    assert compile_canvas(json.dumps(canvas).encode()).ok
    for text in ("{", b"\xff\xfe", "[1, 2", "not json"):
        diags = lint_canvas(text)
        assert [d.code for d in diags] == ["invalid-json"]
    assert [d.code for d in lint_canvas("[1, 2]")] == ["invalid-canvas"]


def test_json_text_whose_strings_are_not_text_is_diagnosed_where_they_are(cv) -> None:
    """A \\u0000 or a lone surrogate escape: json.loads takes both, but no database or UTF-8 encoder
    does (a save of such a canvas raised UnicodeEncodeError, a 500, while lint said it was clean).
    A surrogate pair (an emoji) is text."""
    canvas = cv.canvas([cv.node("start", "start"), cv.node("m", "message", {"text": "PLACEHOLDER"}),
                        cv.node("end", "end")], [cv.edge("start", "m"), cv.edge("m", "end")])
    text = json.dumps(canvas)
    for escape, why in (("a\\u0000b", "U+0000"), ("a\\ud800b", "lone surrogate"), ("\\uDFFF", "lone surrogate")):
        diags = lint_canvas(text.replace("PLACEHOLDER", escape))
        assert [(d.code, d.path) for d in diags] == [("invalid-json", "/nodes/1/data/text")], diags
        assert why in diags[0].message
        assert compile_canvas(text.replace("PLACEHOLDER", escape)).program is None
    assert compile_canvas(text.replace("PLACEHOLDER", "oi \\ud83d\\ude00")).ok
