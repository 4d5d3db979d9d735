"""`jump`: to another node of this flow (JUMP), or into another flow (CALL).

    {"target_node": "ask_size"}            -> JUMP, exits {"next": pc}
    {"flow": "nps_survey", "return": true} -> CALL

A CALL with return pushes a frame so that, when the called flow ends, the run
continues through this node's `next` (or ends too, when `next` is not
connected). ``"return": false`` replaces the current flow. Nesting is bounded
by the interpreter's ``max_call_depth``.
"""

from __future__ import annotations

from engine import events as ev
from engine.context import Run
from engine.ports import FlowUnavailable
from engine.program import Instruction, Op
from engine.state import Frame


def execute_jump(run: Run, ins: Instruction) -> int:
    target = ins.exit("next")
    if target is None:
        return run.fail(ins.node, "jump_target_missing", f"jump to {ins.arg.get('target_node')!r}: no such node")
    return target


async def execute_call(run: Run, ins: Instruction) -> int:
    arg = ins.arg
    flow = arg.get("flow")
    returns = arg.get("return", True) is not False
    if returns and len(run.stack) >= run.max_call_depth:
        return run.fail(ins.node, ev.CALL_DEPTH_EXCEEDED,
                        f"flow {flow!r}: sub-flows nested deeper than {run.max_call_depth}")
    if run.programs is None:
        return run.fail(ins.node, ev.FLOW_NOT_FOUND, f"flow {flow!r}: no program loader")
    try:
        program = await run.programs(flow, None)
    except FlowUnavailable as exc:  # it exists: the designer must fix or publish it, not look for it
        return run.fail(ins.node, exc.code, f"flow {flow!r} exists but {exc.reason}: {exc}")
    except LookupError as exc:  # a loader's reason may name the flow already: not twice
        reason = str(exc)
        return run.fail(ins.node, ev.FLOW_NOT_FOUND,
                        reason if reason.startswith(f"flow {flow!r} ") else f"flow {flow!r} not found: {reason}")
    if program is None:
        return run.fail(ins.node, ev.FLOW_NOT_FOUND, f"flow {flow!r} not found")
    if returns:
        run.stack.append(Frame(run.flow_ref, run.program_hash, ins.exit("next")))
    run.emit(ev.FLOW_ENTERED, ins.node, {"flow": flow, "returns": returns})
    return run.enter(program, flow)


HANDLERS = {Op.JUMP: execute_jump, Op.CALL: execute_call}
