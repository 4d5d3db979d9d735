"""Jump cycles across flows: a run that goes from flow to flow and back (A → A, A → B → A)
without ever waiting for the customer.

`graph._check_loops` finds the loops inside one canvas; it cannot see through a
`jump` to a flow, which it counts as a node that may wait. When the compiler is
given the other flows (`compile_canvas(..., flows=...)`), this pass builds one
graph over this flow and every flow its jumps reach:

- a node of a flow leads where its edges lead, a question never (it waits);
- a jump to a flow leads to that flow's start and, when it returns, also to its
  own `next` if the called flow can finish without waiting (reach an `end`, or
  a handle left unconnected, without a question on the way);
- a jump to a flow that is not given, or does not load, leads nowhere (it may wait).

A cycle of that graph through a flow jump of this flow is an `infinite-loop` error
at that jump: at run time it repeats until the step budget or the sub-flow depth
stops it, sending every message on the way each time. A cycle through a question
(a menu that jumps back to the start) waits for the customer and is fine, but a
jump on it that comes back (`"return": true`, the default) nests one more
sub-flow each round, and the run stops at the depth bound (8): a
`recursive-call` warning at that jump.
"""

from __future__ import annotations

from typing import Any, Collection, Mapping

import networkx as nx

from compiler.diagnostics import Diagnostic, make
from compiler.graph import FlowGraph, check_graph
from compiler.load import load_canvas
from compiler.node_types import NODE_TYPES, handles

THIS = ""  # the key of the flow being compiled


def _is_call(node: Any) -> bool:
    return node.type == "jump" and isinstance(node.data.get("flow"), str) and "target_node" not in node.data


def _returns(node: Any) -> bool:
    return node.data.get("return", True) is not False


def _may_end(node: Any, exits: Mapping[str, str]) -> bool:
    """Whether the run may stop in this flow at this (non-question, non-call) node: an `end`, or
    a handle that can be taken with no edge (the flow ends there, back to its caller)."""
    if node.type == "end":
        return True
    if node.type == "handoff" or node.type == "jump" or node.type not in NODE_TYPES:
        return False  # a handoff stops the bot; a node jump always has its target
    return any(h not in exits for h in handles(node.type, node.data))


class _Flows:
    """The flows reachable from this one through flow jumps, loaded on demand."""

    def __init__(self, this: FlowGraph, names: Collection[str], flows: Mapping[str, Any]) -> None:
        self.names = set(names)
        self.flows = flows
        self.graphs: dict[str, FlowGraph | None] = {THIS: this}
        self.labels: dict[str, str] = {THIS: ""}
        self.keys: dict[int, str] = {}

    def key(self, name: str) -> str | None:
        """The key of the flow a jump names, or None when it is not given or does not load."""
        if name in self.names:
            return THIS
        try:
            canvas = self.flows[name] if name in self.flows else None
        except (OSError, ValueError):  # a lazy mapping that could not read the file
            canvas = None
        if canvas is None:
            return None
        key = self.keys.get(id(canvas))
        if key is None:
            key = self.keys[id(canvas)] = name
            self.labels[key] = name
            loaded = load_canvas(canvas)
            graph = None
            if loaded.canvas is not None:
                graph, _ = check_graph(loaded.canvas)
                if graph.start is None:
                    graph = None
            self.graphs[key] = graph
        return key if self.graphs[key] is not None else None


def check_flow_cycles(this: FlowGraph, names: Collection[str], flows: Mapping[str, Any]) -> list[Diagnostic]:
    """`infinite-loop` errors for the cycles through this flow's flow jumps that never wait."""
    if this.start is None:
        return []
    lib = _Flows(this, names, flows)
    callee: dict[tuple[str, str], str | None] = {}
    pending, seen = [THIS], {THIS}
    while pending:  # every flow reachable through calls
        key = pending.pop()
        graph = lib.graphs[key]
        assert graph is not None
        for node_id in graph.reachable:
            node = graph.canvas.nodes[node_id]
            if _is_call(node):
                target = callee[(key, node_id)] = lib.key(node.data["flow"])
                if target is not None and target not in seen:
                    seen.add(target)
                    pending.append(target)

    finishes = _finishing(lib, seen, callee)
    busy = nx.DiGraph()
    for key in seen:
        graph = lib.graphs[key]
        assert graph is not None
        for node_id in graph.reachable:
            node = graph.canvas.nodes[node_id]
            if node.type == "question":
                continue
            if _is_call(node):
                target = callee[(key, node_id)]
                if target is None:
                    continue
                busy.add_edge((key, node_id), (target, lib.graphs[target].start))
                after = graph.exits[node_id].get("next")
                if after is not None and _returns(node) and target in finishes \
                        and graph.canvas.nodes[after].type != "question":
                    busy.add_edge((key, node_id), (key, after))
                continue
            for dst in graph.exits[node_id].values():
                if graph.canvas.nodes[dst].type != "question":
                    busy.add_edge((key, node_id), (key, dst))

    diags = []
    looping: set[str] = set()
    for component in nx.strongly_connected_components(busy):
        calls = sorted(n for k, n in component if k == THIS and _is_call(this.canvas.nodes[n]))
        if not calls or (len(component) == 1 and not busy.has_edge(*component, *component)):
            continue
        at = calls[0]
        looping.update(calls)
        cycle = _cycle_through(busy.subgraph(component), (THIS, at))
        shown = [n if k == THIS else f"{lib.labels[k]}:{n}" for k, n in cycle]
        shown = shown[:8] + (["..."] if len(shown) > 8 else []) + [shown[0]]
        node = this.canvas.nodes[at]
        diags.append(make(
            "infinite-loop", at, node.pointer,
            f"jump {at!r} runs flow {node.data['flow']!r}, and the run comes back to it without waiting for "
            f"the customer ({' → '.join(shown)}): it would repeat until the run is stopped, sending every "
            "message on the way again",
            "put a question on the way, or end the called flow instead of jumping back"))
    return diags + _recursive_calls(lib, seen, callee, looping)


def _recursive_calls(lib: _Flows, keys: set[str], callee: Mapping[tuple[str, str], str | None],
                     looping: set[str]) -> list[Diagnostic]:
    """`recursive-call` warnings: this flow's jumps with return into a flow that runs this flow again."""
    calls = nx.DiGraph()
    calls.add_nodes_from(keys)
    calls.add_edges_from((key, target) for (key, _), target in callee.items() if target is not None)
    this = lib.graphs[THIS]
    assert this is not None
    diags = []
    for (key, node_id), target in sorted(callee.items()):
        node = this.canvas.nodes.get(node_id) if key == THIS else None
        if node is None or target is None or not _returns(node) or node_id in looping:
            continue
        if target != THIS and not nx.has_path(calls, target, THIS):
            continue
        if target == THIS:
            how = "which is this flow itself"
        else:
            path = nx.shortest_path(calls, target, THIS)
            how = "which runs this one again (" + " → ".join(lib.labels[k] or "this flow" for k in [THIS, *path]) + ")"
        diags.append(make(
            "recursive-call", node_id, node.pointer,
            f"jump {node_id!r} runs flow {node.data['flow']!r} and comes back after it (return), {how}: each "
            "round nests one more sub-flow, and after 8 the run stops (call_depth_exceeded) instead of answering",
            'to go back to a flow\'s start, jump with "return": false (or to a node of this flow)'))
    return diags


def _finishing(lib: _Flows, keys: set[str], callee: Mapping[tuple[str, str], str | None]) -> set[str]:
    """The flows that can end (and so return to a caller) without waiting: a least fixpoint, since a
    flow may finish through the flows it calls."""
    done: set[str] = set()
    changed = True
    while changed:
        changed = False
        for key in keys - done:
            if _can_finish(lib.graphs[key], key, done, callee):
                done.add(key)
                changed = True
    return done


def _can_finish(graph: FlowGraph | None, key: str, done: set[str],
                callee: Mapping[tuple[str, str], str | None]) -> bool:
    assert graph is not None
    stack, seen = [graph.start], {graph.start}
    while stack:
        node_id = stack.pop()
        node = graph.canvas.nodes[node_id]
        exits = graph.exits[node_id]
        if node.type == "question":
            continue
        if _is_call(node):
            target = callee.get((key, node_id))
            if target is None or target not in done:
                continue  # unknown, or cannot come back without waiting
            if not _returns(node) or "next" not in exits:
                return True  # the called flow's end ends this one too
            following = [exits["next"]]
        else:
            if _may_end(node, exits):
                return True
            following = list(exits.values())
        for dst in following:
            if dst not in seen:
                seen.add(dst)
                stack.append(dst)
    return False


def _cycle_through(sub: Any, at: tuple[str, str]) -> list[tuple[str, str]]:
    """The shortest cycle of `sub` (strongly connected) that starts and ends at `at`."""
    best: list[tuple[str, str]] | None = None
    for succ in sub.successors(at):
        path = [at] if succ == at else [at] + nx.shortest_path(sub, succ, at)[:-1]
        if best is None or len(path) < len(best):
            best = path
    return best or [at]
