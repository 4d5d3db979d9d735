"""Flow engine benchmark: prints figures (no assertions; targets in brackets).

1. instructions/s on a no-I/O flow (a counting loop of set_variable /
   condition / jump)                                        [>= 300,000/s, one core]
2. median time to resume a conversation from its serialized state, run a
   10-node segment to the next question and serialize again [<= 50 µs]
3. bytes of serialized state at each wait of the example flows, driven by
   their transcripts                                        [<= 1 KB]

    .venv/bin/python bench/engine.py
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import InboundMessage, Interpreter, Program, State  # noqa: E402
from engine.adapters.memory import memory_ports  # noqa: E402
from engine.transcript import TranscriptRunner  # noqa: E402

N = [1]


def counting_loop(limit: int) -> Program:
    """start → n = n + 1 → n < limit ? (jump back) : end — three instructions per turn."""
    return Program.from_json({"format": 1, "entry": 0, "code": [
        {"op": "start", "node": "start", "arg": {}, "exits": {"next": 1}},
        {"op": "action", "node": "inc", "arg": {"action": "set_variable", "params": {
            "variable": "n", "expression": {"$expr": ["arith", "+", ["path", "vars", "n"], ["lit", 1]]}}},
         "exits": {"next": 2}},
        {"op": "condition", "node": "more", "arg": {"cases": [
            {"id": "true", "when": {"$expr": ["cmp", "<", ["path", "vars", "n"], ["lit", limit]]}}],
            "default": "false"}, "exits": {"false": 4, "true": 3}},
        {"op": "jump", "node": "again", "arg": {"target_node": "inc"}, "exits": {"next": 1}},
        {"op": "end", "node": "done", "arg": {}},
    ]})


def ten_node_segment() -> Program:
    """q1 (answered) → 8 nodes (actions, conditions, a jump, a message) → q2 (asked): 10 nodes."""
    code = [
        {"op": "start", "node": "start", "arg": {}, "exits": {"next": 1}},
        {"op": "question", "node": "q1", "arg": {"text": "Quantas?", "variable": "qty", "validation": "number",
                                                  "max_retries": 2}, "exits": {"next": 2}},
        {"op": "action", "node": "a1", "arg": {"action": "set_variable", "params": {
            "variable": "total", "expression": {"$expr": ["arith", "*", ["path", "vars", "qty"], ["lit", 49.9]]}}},
         "exits": {"next": 3}},
        {"op": "condition", "node": "c1", "arg": {"cases": [
            {"id": "big", "when": {"$expr": ["cmp", ">", ["path", "vars", "total"], ["lit", 100]]}}],
            "default": "default"}, "exits": {"big": 4, "default": 4}},
        {"op": "action", "node": "a2", "arg": {"action": "set_variable", "params": {"variable": "step", "value": "ok"}},
         "exits": {"next": 5}},
        {"op": "condition", "node": "c2", "arg": {"cases": [
            {"id": "true", "when": {"$expr": ["in", ["path", "vars", "step"], ["list", [["lit", "ok"], ["lit", "x"]]]]}}],
            "default": "false"}, "exits": {"false": 6, "true": 6}},
        {"op": "action", "node": "a3", "arg": {"action": "set_variable", "params": {
            "variable": "label", "value": {"$tpl": ["tpl", ["Pedido de ", ["path", "vars", "qty"]]]}}},
         "exits": {"next": 7}},
        {"op": "jump", "node": "j1", "arg": {"target_node": "m1"}, "exits": {"next": 8}},
        {"op": "action", "node": "a4", "arg": {"action": "set_variable", "params": {
            "variable": "summary", "value": {"$tpl": ["tpl", [["path", "vars", "label"], ": R$ ", ["path", "vars", "total"]]]}}},
         "exits": {"next": 9}},
        {"op": "message", "node": "m1", "arg": {"text": {"$tpl": ["tpl", ["Total: R$ ", ["path", "vars", "total"]]]}},
         "exits": {"next": 10}},
        {"op": "question", "node": "q2", "arg": {"text": "Confirma?", "variable": "ok", "max_retries": 2},
         "exits": {"next": 11}},
        {"op": "jump", "node": "back", "arg": {"target_node": "q1"}, "exits": {"next": 1}},
    ]
    return Program.from_json({"format": 1, "entry": 0, "code": code})


async def bench_throughput() -> None:
    """Runs as the platform does them: each within the step budget (999 instructions)."""
    program = counting_loop(333)
    interp = Interpreter(memory_ports())
    runs = 100
    best_wall = best_cpu = float("inf")
    for _ in range(15):  # best of 15 rounds: the figure a quiet core gives
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(runs):
            result = await interp.start(program, "loop", {"vars": {"n": 0}})
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    steps = sum(1 for e in result.events if e.type == "node_entered")
    assert result.status == "ended", result.status
    print(f"throughput: runs of {steps} instructions (set_variable/condition/jump): "
          f"{runs * steps / best_wall:,.0f} instructions/s wall, {runs * steps / best_cpu:,.0f}/s CPU time"
          f"  [target >= 300,000/s]")
    long_program = counting_loop(100_000)
    long_interp = Interpreter(memory_ports(), step_budget=10 ** 7)
    t0 = time.perf_counter()
    result = await long_interp.start(long_program, "loop", {"vars": {"n": 0}})
    elapsed = time.perf_counter() - t0
    steps = sum(1 for e in result.events if e.type == "node_entered")
    print(f"            one run of {steps:,} instructions (budget lifted): {steps / elapsed:,.0f} instructions/s"
          f" (keeps 2 events per step alive, so the GC works harder)")


async def bench_resume() -> None:
    program = ten_node_segment()

    async def load(ref: str, program_hash: str | None) -> Program:
        return program

    interp = Interpreter(memory_ports())
    first = await interp.start(program, "seg", {})
    # get to q2's answer → q1 ... we time: resume at q1 with "3" → runs a1..m1 → waits at q2
    at_q1 = first.state.to_json()
    inbound = InboundMessage(text="3")
    scope: dict = {"contact": {"name": "Ana"}}
    samples: list[float] = []
    text_samples: list[float] = []
    nodes = None
    for i in range(3000):
        t0 = time.perf_counter()
        state = State.from_json(at_q1)
        result = await interp.resume(state, inbound, load, scope)
        out = result.state.to_json()
        t1 = time.perf_counter()
        samples.append(t1 - t0)
        encoded = json.dumps(at_q1, separators=(",", ":"))
        t2 = time.perf_counter()
        state = State.from_json(json.loads(encoded))
        result = await interp.resume(state, inbound, load, scope)
        json.dumps(result.state.to_json(), separators=(",", ":"))
        text_samples.append(time.perf_counter() - t2)
        if nodes is None:
            nodes = sum(1 for e in result.events if e.type == "node_entered")
    med = statistics.median(samples[500:]) * 1e6
    med_text = statistics.median(text_samples[500:]) * 1e6
    print(f"resume: from state dict, {(nodes or 0) + 1}-node segment (answer, 8 nodes, next question), to_json again: "
          f"median {med:.1f} µs  [target <= 50 µs]; with JSON text decode/encode: {med_text:.1f} µs")


async def bench_state_sizes() -> None:
    from pytake.commands.run import FlowLibrary

    examples = ROOT / "examples"
    for flow in sorted(p for p in examples.glob("*.json") if not p.name.endswith(".transcript.json")):
        transcript = flow.with_name(flow.stem + ".transcript.json")
        if not transcript.exists():
            print(f"state size: {flow.stem}: no transcript")
            continue
        library = FlowLibrary(flow, examples)
        doc = json.loads(transcript.read_text("utf-8"))
        runner = TranscriptRunner(doc, library.load, library.main_ref)
        sizes: list[int] = []
        original = runner.interp._finish

        def spy(run, status, _orig=original):
            result = _orig(run, status)
            if result.state is not None:
                sizes.append(len(json.dumps(result.state.to_json(), ensure_ascii=False,
                                            separators=(",", ":")).encode()))
            return result

        runner.interp._finish = spy  # type: ignore[method-assign]
        report = await runner.run()
        status = "ok" if report.ok else "TRANSCRIPT FAILED"
        print(f"state size: {flow.stem:<22} max {max(sizes, default=0):>4} B, median "
              f"{int(statistics.median(sizes)) if sizes else 0:>4} B over {len(sizes)} waits  [<= 1024 B] ({status})")


async def main() -> None:
    print(f"PyTake engine benchmark — Python {sys.version.split()[0]}")
    await bench_throughput()
    await bench_resume()
    await bench_state_sizes()


if __name__ == "__main__":
    asyncio.run(main())
