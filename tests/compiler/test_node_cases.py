"""Table-driven cases per node type (cases/<node_type>.json).

Each case puts one node between a start and an end (every required handle,
and every handle a customer could be left silent at, connected) and states the diagnostic codes expected and, optionally, the
compiled instruction argument; ``known_templates`` (a list of `KnownTemplate` fields) compiles it
as within an organization that has those templates. ``{"$repeat": [text, n]}`` in a case's data
stands for ``text * n`` (to keep length-limit cases readable).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compiler import KnownTemplate, compile_canvas
from compiler.node_types import NODE_TYPES, answering_handles, handles, required_handles

CASES = Path(__file__).resolve().parent / "cases"


def _expand(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$repeat"}:
            text, count = value["$repeat"]
            return text * count
        return {k: _expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v) for v in value]
    return value


def _cases() -> list:
    params = []
    for node_type in NODE_TYPES:
        for case in json.loads((CASES / f"{node_type}.json").read_text(encoding="utf-8")):
            params.append(pytest.param(node_type, case, id=f"{node_type}: {case['description']}"))
    return params


def _canvas(node_type: str, data: Any) -> dict:
    """start → the node → end through its required and answering handles (and `next`, when it continues)."""

    def node(node_id: str, kind: str, d: Any) -> dict:
        return {"id": node_id, "type": kind, "position": {"x": 0, "y": 0}, "data": d}

    nodes, edges = [node("n", node_type, data)], []
    if node_type != "start":  # the node under test is the start itself
        nodes.append(node("start", "start", {}))
        edges.append({"id": "e0", "source": "start", "target": "n", "sourceHandle": "next"})
    exits = list(required_handles(node_type, data, set()))
    exits += [h for h in answering_handles(node_type, data) if h not in exits]
    continues = node_type not in ("jump", "end", "handoff") or ("flow" in data and "target_node" not in data)
    if continues and "next" in handles(node_type, data) and "next" not in exits:
        exits.append("next")
    for i, handle in enumerate(exits):
        edges.append({"id": f"e{i + 1}", "source": "n", "target": "end", "sourceHandle": handle})
    if exits or data.get("target_node") == "end":
        nodes.append(node("end", "end", {}))
    return {"nodes": nodes, "edges": edges}


def test_every_node_type_has_a_case_file() -> None:
    assert sorted(p.stem for p in CASES.glob("*.json") if p.stem in NODE_TYPES) == sorted(NODE_TYPES)


@pytest.mark.parametrize(("node_type", "case"), _cases())
def test_node_case(node_type: str, case: dict) -> None:
    data = _expand(case["data"])
    known = case.get("known_templates")
    result = compile_canvas(_canvas(node_type, data),
                            known_templates=None if known is None else [KnownTemplate(**t) for t in known])
    codes = sorted({d.code for d in result.diagnostics})
    assert codes == sorted(case["codes"]), [d.message for d in result.diagnostics]
    if "arg" in case:
        assert result.program is not None
        compiled = result.program.code[result.program.node_offsets["n"]]
        assert compiled.arg == case["arg"]
