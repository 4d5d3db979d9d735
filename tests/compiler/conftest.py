"""Fixtures for the compiler tests: canvas builders and the example flows."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from compiler.node_types import required_handles

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CASES = Path(__file__).resolve().parent / "cases"


def node(node_id: str, node_type: str, data: dict | None = None, x: float = 0, y: float = 0) -> dict:
    return {"id": node_id, "type": node_type, "position": {"x": x, "y": y}, "data": data or {}}


def edge(source: str, target: str, handle: str | None = "next", edge_id: str | None = None) -> dict:
    return {"id": edge_id or f"{source}-{handle}-{target}", "source": source, "target": target,
            "sourceHandle": handle, "targetHandle": None}


def canvas(nodes: list[dict], edges: list[dict]) -> dict:
    return {"nodes": nodes, "edges": edges, "viewport": {"x": 0, "y": 0, "zoom": 1}}


def single_node_canvas(node_type: str, data: Any) -> dict:
    """start → the node → every handle the node requires → end: isolates one node's rules."""
    nodes = [node("start", "start"), node("n", node_type, data), node("end", "end")]
    edges = [edge("start", "n")]
    if isinstance(data, dict):
        for handle in required_handles(node_type, data, set()):
            edges.append(edge("n", "end", handle))
    return canvas(nodes, edges)


def example_paths() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("*.json") if not p.name.endswith(".transcript.json"))


def load_example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def example_flow_ids() -> set[str]:
    return {p.stem for p in example_paths()}


@pytest.fixture(scope="session")
def cv() -> SimpleNamespace:
    """Canvas helpers: cv.node, cv.edge, cv.canvas, cv.single_node_canvas, cv.load_example, ..."""
    return SimpleNamespace(
        node=node, edge=edge, canvas=canvas, single_node_canvas=single_node_canvas,
        example_paths=example_paths, load_example=load_example, example_flow_ids=example_flow_ids,
        EXAMPLES=EXAMPLES, CASES=CASES, ROOT=ROOT,
    )
