"""Stage 2, graph checks: edges → resolved exits, plus every structural diagnostic.

`check_graph` resolves which node each handle of each node leads to and
reports start nodes, dangling or unknown edges, ambiguous branches, required
handles left open, jumps to unknown nodes or flows, duplicate choice ids,
unreachable nodes and loops that never wait for the customer.
`check_variables` is the dataflow pass run once node contents are parsed:
a variable is *definitely set* at a node when every path from the start sets
it; a read of one that is not is a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Collection, Mapping

import networkx as nx

from compiler.diagnostics import Diagnostic, make, pointer
from compiler.load import Canvas, Node
from compiler.templates import KnownTemplate, check_template
from compiler.node_types import (
    NODE_TYPES,
    TERMINAL_TYPES,
    answering_handles,
    choices,
    handles,
    required_handles,
    reserved_handles,
    variables_set,
)


@dataclass
class FlowGraph:
    """The canvas with its edges resolved: node → handle → target node id."""

    canvas: Canvas
    start: str | None
    exits: dict[str, dict[str, str]]
    reachable: set[str] = field(default_factory=set)


def check_graph(canvas: Canvas, *, known_flows: Collection[str] | None = None,
                known_departments: Collection[str] | None = None,
                known_templates: Collection[KnownTemplate] | None = None) -> tuple[FlowGraph, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    nodes = canvas.nodes

    starts = sorted((n for n in nodes.values() if n.type == "start"), key=lambda n: n.id)
    if not starts:
        diags.append(make("no-start", None, "/nodes", "the flow has no start node",
                          "add a node of type `start` and connect its `next` handle"))
    for extra in starts[1:]:
        diags.append(make("multiple-starts", extra.id, extra.pointer,
                          f"the flow has {len(starts)} start nodes ({', '.join(n.id for n in starts)}); it needs exactly one",
                          "delete the extra start nodes or turn them into jumps"))
    start = starts[0].id if len(starts) == 1 else None

    node_handles = {n.id: handles(n.type, n.data) for n in nodes.values() if n.type in NODE_TYPES}
    exits: dict[str, dict[str, str]] = {node_id: {} for node_id in nodes}
    attempted: dict[str, set[str]] = {node_id: set() for node_id in nodes}

    for edge in sorted(canvas.edges, key=lambda e: e.id):
        source, target = nodes.get(edge.source), nodes.get(edge.target)
        if source is not None:
            attempted[source.id].add(edge.handle)
        if source is None or target is None:
            missing = [f"{end} {name!r}" for end, name, found in
                       (("source", edge.source, source), ("target", edge.target, target)) if found is None]
            diags.append(make("edge-missing-node", source.id if source else None, edge.pointer,
                              f"edge {edge.id!r}: {' and '.join(missing)} does not exist",
                              "delete the edge or reconnect it"))
            continue
        if source.type in TERMINAL_TYPES:
            diags.append(make("edge-from-terminal", source.id, edge.pointer,
                              f"edge {edge.id!r} leaves {source.type} node {source.id!r}, which stops the run",
                              "delete the edge"))
            continue
        known = node_handles.get(source.id)
        if known is not None and edge.handle not in known:
            diags.append(make("unknown-handle", source.id, edge.pointer + "/sourceHandle",
                              f"edge {edge.id!r} leaves {source.type} node {source.id!r} through handle "
                              f"{edge.handle!r}, which it does not have",
                              "handles: " + (", ".join(sorted(known)) or "none")))
            continue
        if source.type == "jump" and ("target_node" in source.data or source.data.get("return") is False):
            why = "jumps to its target node" if "target_node" in source.data else "jumps to a flow without return"
            diags.append(make("edge-never-taken", source.id, edge.pointer,
                              f"edge {edge.id!r} is never taken: node {source.id!r} {why}",
                              "delete the edge"))
            continue
        if edge.handle in exits[source.id]:
            diags.append(make("ambiguous-branch", source.id, edge.pointer,
                              f"handle {edge.handle!r} of node {source.id!r} already has an edge "
                              f"(to {exits[source.id][edge.handle]!r}); edge {edge.id!r} would be ambiguous",
                              "keep one edge per handle"))
            continue
        exits[source.id][edge.handle] = edge.target

    open_required: set[str] = set()  # nodes with a handle-unconnected error
    for node in nodes.values():
        if node.type == "jump":
            diags.extend(_check_jump(node, nodes, exits, known_flows))
        if node.type == "handoff" and known_departments is not None:
            diags.extend(_check_department(node, known_departments))
        if node.type == "message" and known_templates is not None and node.valid:
            diags.extend(check_template(node, known_templates))
        if node.type in NODE_TYPES:
            connected = set(exits[node.id]) | attempted[node.id]
            for handle in required_handles(node.type, node.data, connected):
                if handle not in connected:
                    open_required.add(node.id)
                    diags.append(make("handle-unconnected", node.id, node.pointer,
                                      f"{node.type} node {node.id!r}: required handle {handle!r} is not connected",
                                      "connect it to the node that should run next"))
            diags.extend(_check_choices(node))

    graph = FlowGraph(canvas, start, exits)
    if start is not None:
        graph.reachable = _reachable(start, exits)
        for node_id in sorted(graph.reachable - open_required):
            node = nodes[node_id]
            if not exits[node_id] and not attempted[node_id] and _stops_silently(node):
                diags.append(make("dead-end", node_id, node.pointer,
                                  f"{node.type} node {node_id!r} has no outgoing edge, so the run silently "
                                  "stops after it",
                                  "connect it to the node that should run next, or to an `end` node"))
        for node_id in sorted(graph.reachable):
            node = nodes[node_id]
            if node.type in NODE_TYPES:
                connected = set(exits[node_id]) | attempted[node_id]
                for handle in answering_handles(node.type, node.data):
                    if handle not in connected:
                        diags.append(make("silent-exit", node_id, node.pointer,
                                          f"{node.type} node {node_id!r}: handle {handle!r} is not connected, so a "
                                          "customer who takes it gets no answer",
                                          _SILENT_EXIT_HINTS[handle]))
        for node_id in sorted(set(nodes) - graph.reachable):
            node = nodes[node_id]
            diags.append(make("unreachable-node", node_id, node.pointer,
                              f"{node.type or 'node'} {node_id!r} cannot be reached from the start node; it is not compiled",
                              "connect it or delete it"))
    diags.extend(_check_loops(nodes, exits))
    return graph, diags


_SILENT_EXIT_HINTS = {
    "invalid": "connect it to a message (or a handoff) for a customer whose answers were all invalid",
    "timeout": "connect it to what should happen when the customer does not answer in time",
    "error": "connect it to a message that apologises, or to a handoff, for when the call fails",
}


def _stops_silently(node: Node) -> bool:
    """Whether a node with no outgoing edge ends the run without saying so.

    `end` and `handoff` stop on purpose; a jump to a node or to a flow that
    does not return never continues here anyway.
    """
    if node.type not in NODE_TYPES or node.type in TERMINAL_TYPES or not node.valid:
        return False  # unknown types and invalid data have their own errors
    if node.type == "jump" and ("target_node" in node.data or node.data.get("return") is False):
        return False
    return True


def _reachable(start: str, exits: Mapping[str, Mapping[str, str]]) -> set[str]:
    """The start and every node a path of resolved exits leads to from it."""
    seen = {start}
    stack = [start]
    while stack:
        for target in exits[stack.pop()].values():
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _check_department(node: Node, known: Collection[str]) -> list[Diagnostic]:
    """A handoff's department must be one of the organization's (by name, any case, or id)."""
    name = node.data.get("department")
    if not isinstance(name, str) or not name or name.casefold() in {k.casefold() for k in known}:
        return []
    names = sorted(k for k in known if not _looks_like_uuid(k))
    return [make("unknown-department", node.id, pointer("nodes", node.index, "data", "department"),
                 f"handoff {node.id!r}: department {name!r} does not exist in this organization, so the "
                 "conversation would wait in no department's queue",
                 ("departments: " + ", ".join(names)) if names else "create the department first")]


def _looks_like_uuid(value: str) -> bool:
    return len(value) == 36 and value.count("-") == 4


def _check_jump(node: Node, nodes: Mapping[str, Node], exits: dict[str, dict[str, str]],
                known_flows: Collection[str] | None) -> list[Diagnostic]:
    target, flow = node.data.get("target_node"), node.data.get("flow")
    if isinstance(target, str):
        if target in nodes:
            exits[node.id]["next"] = target
            return []
        return [make("jump-unknown-node", node.id, pointer("nodes", node.index, "data", "target_node"),
                     f"jump {node.id!r} targets node {target!r}, which does not exist", "pick an existing node id")]
    if isinstance(flow, str) and known_flows is not None and flow not in known_flows:
        listed = ", ".join(sorted(known_flows)[:10]) or "none"
        return [make("jump-unknown-flow", node.id, pointer("nodes", node.index, "data", "flow"),
                     f"jump {node.id!r} runs flow {flow!r}, which is not known", f"known flows: {listed}")]
    return []


def _check_choices(node: Node) -> list[Diagnostic]:
    out = []
    seen: dict[str, tuple] = {}
    reserved = reserved_handles(node.type) if node.type in ("question", "condition") else frozenset()
    for where, choice_id in choices(node.type, node.data):
        if choice_id not in seen and choice_id not in reserved:
            seen[choice_id] = where
            continue
        path = pointer("nodes", node.index, "data", *where)
        if choice_id in seen:
            out.append(make("duplicate-choice-id", node.id, path,
                            f"{node.type} {node.id!r}: id {choice_id!r} is used twice ({'/'.join(map(str, seen[choice_id]))})",
                            "give each button, row, option or case its own id"))
        else:
            seen[choice_id] = where
        if choice_id in reserved:
            out.append(make("duplicate-choice-id", node.id, path,
                            f"{node.type} {node.id!r}: id {choice_id!r} clashes with the built-in handle of that name",
                            "rename it"))
    return out


def _never_waits(node: Node) -> bool:
    """Nodes a loop may run through without stopping for the customer."""
    if node.type == "question":
        return False
    if node.type == "jump" and "flow" in node.data:
        return False  # the called flow may wait
    return True


def _check_loops(nodes: Mapping[str, Node], exits: Mapping[str, Mapping[str, str]]) -> list[Diagnostic]:
    """A cycle avoiding every question exists iff the graph without questions has one."""
    busy = nx.DiGraph()
    busy.add_edges_from(
        (src, dst)
        for src, out in exits.items() if _never_waits(nodes[src])
        for dst in out.values() if _never_waits(nodes[dst])
    )
    diags = []
    for component in nx.strongly_connected_components(busy):
        first = min(component)
        if len(component) == 1 and not busy.has_edge(first, first):
            continue
        cycle = [src for src, _ in nx.find_cycle(busy.subgraph(component), source=first)]
        shown = " → ".join(cycle[:8] + (["..."] if len(cycle) > 8 else []) + [cycle[0]])
        node = nodes[first]
        diags.append(make("infinite-loop", first, node.pointer,
                          f"the loop {shown} never waits for the customer, so it would run forever",
                          "put a question in the loop, or leave it through a condition that can end it"))
    return diags


def check_variables(graph: FlowGraph, reads: Mapping[str, list[tuple[str, str]]]) -> list[Diagnostic]:
    """Warn about each read of a flow variable that is not set on every path from the start.

    `reads` maps a node id to (variable, JSON pointer of the field reading it).
    A forward must-analysis over the reachable graph, with per-handle gen sets
    (a question sets its variable only when answered), on integer bitsets.
    """
    if graph.start is None:
        return []
    nodes, exits = graph.canvas.nodes, graph.exits
    index: dict[str, int] = {}

    def bit(name: str) -> int:
        if name not in index:
            index[name] = len(index)
        return 1 << index[name]

    gen: dict[tuple[str, str], int] = {}
    preds: dict[str, list[tuple[str, str]]] = {n: [] for n in graph.reachable}
    for src in graph.reachable:
        node = nodes[src]
        for handle, dst in exits[src].items():
            mask = 0
            for name in variables_set(node.type, node.data, handle):
                mask |= bit(name)
            gen[(src, handle)] = mask
            preds[dst].append((src, handle))
    for node_reads in reads.values():
        for name, _ in node_reads:
            bit(name)
    everything = (1 << len(index)) - 1

    order = _reverse_postorder(graph.start, exits)
    state = {n: everything for n in order}
    state[graph.start] = 0
    changed = True
    while changed:
        changed = False
        for node_id in order:
            if node_id == graph.start:
                continue
            value = everything
            for src, handle in preds[node_id]:
                value &= state[src] | gen[(src, handle)]
            if value != state[node_id]:
                state[node_id] = value
                changed = True

    diags = []
    for node_id in order:
        for name, where in reads.get(node_id, ()):
            if not state[node_id] >> index[name] & 1:
                diags.append(make("variable-unset", node_id, where,
                                  f"`vars.{name}` is read here, but some path from the start reaches "
                                  f"{node_id!r} without setting it (it would be null)",
                                  f"set {name} on every path first, or write default({name}, ...)"))
    return diags


def _reverse_postorder(start: str, exits: Mapping[str, Mapping[str, str]]) -> list[str]:
    seen = {start}
    post: list[str] = []
    stack = [(start, iter(sorted(exits[start].items())))]
    while stack:
        node_id, children = stack[-1]
        for _, child in children:
            if child not in seen:
                seen.add(child)
                stack.append((child, iter(sorted(exits[child].items()))))
                break
        else:
            stack.pop()
            post.append(node_id)
    post.reverse()
    return post
