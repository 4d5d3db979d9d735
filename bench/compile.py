"""Compiler benchmark: lint + compile of generated canvases of 100, 1,000 and 10,000 nodes.

Canvases mix node types the way real flows do (questions with options,
conditions, actions, API and AI calls, messages with templates), chained in
sections that rejoin, with loops back to questions. Prints the CPU time of each stage
(best of several runs; CPU time, so other processes on the machine do not
inflate it), bytecode bytes per node and t(10k)/t(1k).
Target: lint + compile of 1,000 nodes ≤ 50 ms on one core, linear growth.

    .venv/bin/python bench/compile.py
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compiler import compile_canvas  # noqa: E402
from compiler.emit import emit_program, node_rows  # noqa: E402
from compiler.graph import check_graph, check_variables  # noqa: E402
from compiler.load import load_canvas  # noqa: E402
import compiler.lower as lower_module  # noqa: E402
from compiler.lower import clear_parse_cache, instructions, layout, lower_nodes, parsed  # noqa: E402

SIZES = (100, 1_000, 10_000)


def section(i: int) -> tuple[list[dict], list[tuple[str, str, str]], str, str]:
    """Ten nodes of a realistic flow, entered at the first and left at the last."""
    p = f"s{i}_"
    nodes = [
        (f"{p}hello", "message", {"text": f"Etapa {i}: olá {{{{contact.name | default(\"cliente\")}}}}!",
                                   "media_url": "https://example.com/img.jpg"}),
        (f"{p}ask", "question", {"text": "Qual opção você prefere?", "variable": f"v{i}",
                                 "options": [{"id": "a", "title": "Opção A"}, {"id": "b", "title": "Opção B"},
                                             {"id": "c", "title": "Opção C"}]}),
        (f"{p}route", "condition", {"cases": [{"id": "is_a", "variable": f"v{i}", "operator": "==", "value": "a"},
                                              {"id": "vip", "expression": "\"vip\" in contact.tags and contact.age >= 18"}]}),
        (f"{p}tag", "action", {"action": "add_tag", "params": {"tag": f"etapa-{i}"}}),
        (f"{p}api", "api_call", {"method": "POST", "url": "https://api.example.com/leads/{{contact.id}}",
                                 "headers": {"Authorization": "Bearer abc"},
                                 "body": {"name": "{{contact.name}}", "choice": f"{{{{v{i}}}}}", "n": i},
                                 "response_mapping": {f"r{i}": "data.id"}}),
        (f"{p}ai", "ai_prompt", {"provider": "openai", "model": "gpt-4o-mini", "prompt": f"Resuma: {{{{v{i}_title}}}}",
                                 "variable": f"ai{i}"}),
        (f"{p}set", "action", {"action": "set_variable", "params": {"variable": f"t{i}", "expression": f"len(v{i}) * 2 + 1"}}),
        (f"{p}num", "question", {"text": "Quantos? {{vars.total | default(0)}}", "variable": f"n{i}", "validation": "number",
                                 "min": 1, "max": 10}),
        (f"{p}check", "condition", {"variable": f"n{i}", "operator": ">", "value": 5}),
        (f"{p}bye", "message", {"text": f"Resumo: {{{{v{i}_title}}}} x {{{{n{i}}}}}",
                                "buttons": [{"id": "ok", "title": "Ok"}, {"id": "menu", "title": "Menu"}]}),
    ]
    edges = [
        (f"{p}hello", "next", f"{p}ask"), (f"{p}ask", "next", f"{p}route"), (f"{p}ask", "invalid", f"{p}bye"),
        (f"{p}route", "is_a", f"{p}tag"), (f"{p}route", "vip", f"{p}ai"), (f"{p}route", "default", f"{p}set"),
        (f"{p}tag", "next", f"{p}api"), (f"{p}api", "success", f"{p}set"), (f"{p}api", "error", f"{p}set"),
        (f"{p}ai", "success", f"{p}set"), (f"{p}ai", "error", f"{p}set"),
        (f"{p}set", "next", f"{p}num"), (f"{p}num", "next", f"{p}check"), (f"{p}num", "invalid", f"{p}bye"),
        (f"{p}check", "true", f"{p}bye"), (f"{p}check", "false", f"{p}ask"),  # a loop back to a question
    ]
    built = [{"id": nid, "type": t, "position": {"x": k * 200, "y": i * 150}, "data": d} for k, (nid, t, d) in enumerate(nodes)]
    return built, edges, f"{p}hello", f"{p}bye"


def generate(n_nodes: int) -> dict:
    nodes: list[dict] = [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}}]
    edges: list[tuple[str, str, str]] = []
    previous = "start"
    for i in range((n_nodes - 2) // 10):
        built, sec_edges, first, last = section(i)
        nodes += built
        edges += sec_edges + [(previous, "next", first)]
        previous = last
    nodes.append({"id": "end", "type": "end", "position": {"x": 0, "y": 0}, "data": {"message": "Obrigado!"}})
    edges.append((previous, "next", "end"))
    return {"nodes": nodes, "viewport": {"x": 0, "y": 0, "zoom": 1},
            "edges": [{"id": f"e{k}", "source": s, "target": t, "sourceHandle": h} for k, (s, h, t) in enumerate(edges)]}


def best(fn: Callable[[], Any], repeat: int, cold: bool = False) -> tuple[float, Any]:
    """Best time of `repeat` runs; `cold` empties the expression parse cache before each run."""
    times, result = [], None
    for _ in range(repeat):
        if cold:
            clear_parse_cache()
        gc.collect()
        gc.disable()  # as compile_canvas does: no collector passes inside a stage
        start = time.process_time()
        result = fn()
        times.append(time.process_time() - start)
        gc.enable()
    return min(times), result


def measure(canvas: dict, repeat: int) -> dict[str, Any]:
    t_load, loaded = best(lambda: load_canvas(canvas), repeat)
    t_graph1, (graph, _) = best(lambda: check_graph(loaded.canvas), repeat)
    t_lower1, lowered = best(lambda: lower_nodes(loaded.canvas), repeat, cold=True)
    t_graph2, var_diags = best(lambda: check_variables(graph, lowered.reads), repeat)
    t_lower2, code = best(lambda: instructions(graph, lowered.args, layout(graph)), repeat)
    t_emit, program = best(lambda: (emit_program(code), node_rows(graph, layout(graph)))[0], repeat)
    t_bytes, data = best(program.to_bytes, repeat)
    t_total, result = best(lambda: compile_canvas(canvas), repeat, cold=True)
    assert result.ok, [d.message for d in result.diagnostics[:3]]
    t_warm, _ = best(lambda: compile_canvas(canvas), repeat)
    parse_sources = sources(canvas)  # collected outside the timing: it runs load + lower
    t_parse, _ = best(lambda: [parsed(w, s) for w, s in parse_sources], repeat, cold=True)
    return {
        "nodes": len(canvas["nodes"]), "load": t_load, "graph": t_graph1 + t_graph2, "lower": t_lower1 + t_lower2,
        "emit": t_emit + t_bytes, "total": t_total, "warm": t_warm, "parse": t_parse, "bytes": len(data),
        "n_parse": len(parse_sources),
    }


def sources(canvas: dict) -> list[tuple[str, str]]:
    """The (kind, source) pairs lowering this canvas parses, for the parse-only figure."""
    seen: list[tuple[str, str]] = []

    def spy(wrapper: str, source: str) -> Any:
        seen.append((wrapper, source))
        return parsed(wrapper, source)

    lower_module.parsed = spy
    try:
        lower_nodes(load_canvas(canvas).canvas)
    finally:
        lower_module.parsed = parsed
    return seen


def main() -> None:
    print("cold = empty parse cache (first compile); warm = recompile of the same canvas "
          "(the parse cache keeps 4,096 sources, so 10k nodes stay cold)")
    print(f"{'nodes':>7} {'load+validate':>14} {'graph':>9} {'lower':>9} {'emit':>9} {'compile cold':>13} "
          f"{'warm':>9} {'of which parse':>15} {'bytes/node':>11}")
    rows = []
    for size in SIZES:
        canvas = generate(size)
        row = measure(canvas, repeat=7 if size <= 1_000 else 3)
        rows.append(row)
        ms = {k: row[k] * 1000 for k in ("load", "graph", "lower", "emit", "total")}
        print(f"{row['nodes']:>7} {ms['load']:>11.1f} ms {ms['graph']:>6.1f} ms {ms['lower']:>6.1f} ms "
              f"{ms['emit']:>6.1f} ms {ms['total']:>10.1f} ms {row['warm'] * 1000:>6.1f} ms "
              f"{row['parse'] * 1000:>9.1f} ms ({row['n_parse']}) {row['bytes'] / row['nodes']:>6.1f}")
    by_size = {r["nodes"]: r for r in rows}
    r1k = next(r for r in rows if 900 <= r["nodes"] <= 1_100)
    r10k = next(r for r in rows if r["nodes"] >= 9_000)
    print(f"t(10k)/t(1k) = {r10k['total'] / r1k['total']:.1f} cold, {r10k['warm'] / r1k['warm']:.1f} warm (10.0 is linear)")
    print(f"1,000 nodes: {r1k['total'] * 1000:.1f} ms cold, {r1k['warm'] * 1000:.1f} ms warm, "
          f"of which {r1k['parse'] * 1000:.1f} ms parsing {r1k['n_parse']} expressions/templates (target ≤ 50 ms)")
    del by_size


if __name__ == "__main__":
    main()
