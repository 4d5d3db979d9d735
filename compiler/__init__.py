"""The flow compiler: a React Flow canvas → diagnostics → `Program` + `nodes` rows.

Stages, one module each: `load` (JSON Schema validation), `graph` (structure
and dataflow checks, networkx), `lower` (node data → instruction arguments,
graph → linear code), `emit` (the `Program` and the `nodes` rows).
`diagnostics` holds the `Diagnostic` value and the catalogue of codes.

    result = compile_canvas(canvas, known_flows={"nps_followup"})
    if result.ok:
        data = result.program.to_bytes()

Given the other flows' canvases (``flows={"nps_followup": canvas, ...}``, by every name a
jump may use, and ``names``: this flow's own names), a jump cycle across flows that never
waits for the customer (A → A, A → B → A) is an ``infinite-loop`` error (compiler/calls.py).

Neither function raises on bad input: every problem is a `Diagnostic`.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Collection, Iterator, Mapping

from compiler.calls import check_flow_cycles
from compiler.diagnostics import CODES, Diagnostic, sort_key
from compiler.emit import emit_program, node_rows
from compiler.graph import check_graph, check_variables
from compiler.load import load_canvas
from compiler.lower import instructions, layout, lower_nodes
from compiler.templates import KnownTemplate
from engine.program import Program

__all__ = ["CODES", "CompileResult", "Diagnostic", "KnownTemplate", "compile_canvas", "lint_canvas"]


@dataclass
class CompileResult:
    diagnostics: list[Diagnostic]
    program: Program | None = None
    node_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while compiling.

    Compiling allocates many small containers and frees none that form
    cycles; on large canvases the collector's full passes over the live heap
    otherwise cost as much as the compilation itself.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compile_canvas(canvas: Any, *, known_flows: Collection[str] | None = None,
                   known_departments: Collection[str] | None = None,
                   known_templates: Collection[KnownTemplate] | None = None,
                   flows: Mapping[str, Any] | None = None, names: Collection[str] = ()) -> CompileResult:
    """Check and compile a canvas. `known_flows`: flow names a jump may name; `known_departments`:
    department names and ids a handoff may name; `known_templates`: the templates a message
    may send (None: not checked). `flows`: the canvases of the flows a jump may name, by name
    (`names`: this flow's own names), to find jump cycles across flows; without `known_flows`,
    its names and `names` are the known flows."""
    with _gc_paused():
        return _compile(canvas, known_flows, known_departments, known_templates, flows, names)


def _known(known_flows: Collection[str] | None, flows: Mapping[str, Any] | None,
           names: Collection[str]) -> Collection[str] | None:
    if known_flows is not None or flows is None:
        return known_flows
    return set(flows) | set(names)


def _compile(canvas: Any, known_flows: Collection[str] | None,
             known_departments: Collection[str] | None = None,
             known_templates: Collection[KnownTemplate] | None = None,
             flows: Mapping[str, Any] | None = None, names: Collection[str] = ()) -> CompileResult:
    loaded = load_canvas(canvas)
    diagnostics = list(loaded.diagnostics)
    if loaded.canvas is None:
        return CompileResult(sorted(diagnostics, key=sort_key))
    graph, graph_diags = check_graph(loaded.canvas, known_flows=_known(known_flows, flows, names),
                                     known_departments=known_departments, known_templates=known_templates)
    if flows is not None:
        graph_diags += check_flow_cycles(graph, names, flows)
    lowered = lower_nodes(loaded.canvas)
    diagnostics += graph_diags + lowered.diagnostics
    diagnostics += check_variables(graph, lowered.reads)
    diagnostics.sort(key=sort_key)
    result = CompileResult(diagnostics)
    if result.ok:
        order = layout(graph)
        result.program = emit_program(instructions(graph, lowered.args, order))
        result.node_rows = node_rows(graph, order)
    return result


def lint_canvas(canvas: Any, *, known_flows: Collection[str] | None = None,
                known_departments: Collection[str] | None = None,
                known_templates: Collection[KnownTemplate] | None = None,
                flows: Mapping[str, Any] | None = None, names: Collection[str] = ()) -> list[Diagnostic]:
    """The diagnostics of `compile_canvas`, without building the program."""
    with _gc_paused():
        return _lint(canvas, known_flows, known_departments, known_templates, flows, names)


def _lint(canvas: Any, known_flows: Collection[str] | None,
          known_departments: Collection[str] | None = None,
          known_templates: Collection[KnownTemplate] | None = None,
          flows: Mapping[str, Any] | None = None, names: Collection[str] = ()) -> list[Diagnostic]:
    loaded = load_canvas(canvas)
    diagnostics = list(loaded.diagnostics)
    if loaded.canvas is not None:
        graph, graph_diags = check_graph(loaded.canvas, known_flows=_known(known_flows, flows, names),
                                         known_departments=known_departments, known_templates=known_templates)
        if flows is not None:
            graph_diags += check_flow_cycles(graph, names, flows)
        lowered = lower_nodes(loaded.canvas)
        diagnostics += graph_diags + lowered.diagnostics + check_variables(graph, lowered.reads)
    return sorted(diagnostics, key=sort_key)
