"""Stage 4, emit: instructions → `Program`, and the rows of the `nodes` table.

The program's bytes are deterministic (engine.program's canonical encoding)
because the instruction order comes from `lower.layout`, which depends only on
the graph, never on the order of nodes and edges in the canvas JSON.
"""

from __future__ import annotations

from typing import Any

from compiler.graph import FlowGraph
from engine.program import Instruction, Program, build


def emit_program(code: list[Instruction]) -> Program:
    return build(code, entry=0)


def node_rows(graph: FlowGraph, order: list[str]) -> list[dict[str, Any]]:
    """One row per canvas node: compiled nodes in code order, then the rest by id.

    ``next_node_id`` is the canvas id the `next` (or a condition's `default`)
    handle leads to, for SQL reporting over the graph.
    """
    nodes = graph.canvas.nodes
    placed = set(order)
    rows = []
    for node_id in order + sorted(set(nodes) - placed):
        node = nodes[node_id]
        label = node.data.get("label")
        out = graph.exits.get(node_id, {})
        rows.append({
            "id": node_id,
            "type": node.type,
            "label": label if isinstance(label, str) else None,
            "content": node.data,
            "position_x": node.x,
            "position_y": node.y,
            "next_node_id": out.get("next", out.get("default")),
        })
    return rows
