"""The interpreter: runs a conversation's program until it waits, ends or hands off.

    interp = Interpreter(ports)
    result = await interp.start(program, "welcome", scope_data)     # first message
    result = await interp.resume(result.state, inbound, load, scope_data)
    result = await interp.on_timeout(result.state, load, scope_data)

``scope_data`` is what expressions may read besides the variables:
``{"contact": {...}, "conversation": {...}, "message": {...}, "history": [...]}``
(and, for ``start`` only, ``"vars"`` to seed variables); ``history`` items are
``{"role": "user"|"assistant", "content"}`` (for `ai_prompt`).

``load`` is the caller's program loader, ``await load(flow_ref, program_hash)``:
a waiting conversation asks for the exact version it started on (its hash), a
new sub-flow call passes ``None`` for the current version; raise
``LookupError`` when there is none. A run executes at most ``step_budget``
instructions: a loop that never waits stops with an ``error`` event
(``step_budget_exceeded``) instead of hanging a worker. Port failures other
than HTTP and AI ones (which take the node's `error` branch) propagate to the
caller, whose transaction then keeps nothing of the run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from engine import events as ev
from engine.context import END, ERROR, HANDOFF, WAIT, Run
from engine.events import NODE_ENTERED, Event
from engine.expressions import EvaluationError
from engine.nodes import HANDLERS
from engine.nodes import question
from engine.ports import InboundMessage, ProgramLoader, Ports
from engine.program import Op, Program
from engine.state import State

Status = Literal["waiting", "ended", "handoff", "error"]
# node_entered data, shared per op (events are read-only) so a step allocates no dict
_ENTERED_DATA = {op: {"op": op.name.lower()} for op in Op}


@dataclass(slots=True)
class RunResult:
    state: State | None
    status: Status
    events: list[Event] = field(default_factory=list)
    wait_deadline: dt.datetime | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The messages sent during the run, as ``{"type", "content"}``."""
        return [e.data["message"] for e in self.events if e.type == ev.MESSAGE_SENT]


class Interpreter:
    def __init__(
        self,
        ports: Ports,
        *,
        step_budget: int = 1000,
        max_call_depth: int = 8,
        default_country: str = "55",
    ) -> None:
        self.ports = ports
        self.step_budget = step_budget
        self.max_call_depth = max_call_depth
        self.default_country = default_country

    # -- public API -------------------------------------------------------
    async def start(
        self,
        program: Program,
        flow_ref: str,
        scope_data: Mapping[str, Any] | None = None,
        programs: ProgramLoader | None = None,
    ) -> RunResult:
        """Run a flow from its entry (a new conversation, or a trigger)."""
        scope_data = scope_data or {}
        run = self._run_for(program, flow_ref, program.entry, dict(scope_data.get("vars") or {}),
                            [], scope_data, scope_data.get("message"), programs)
        run.emit(ev.FLOW_ENTERED, None, {"flow": flow_ref, "returns": False})
        return await self._loop(run, program.entry)

    async def resume(
        self,
        state: State,
        inbound: InboundMessage,
        programs: ProgramLoader,
        scope_data: Mapping[str, Any] | None = None,
    ) -> RunResult:
        """Continue a waiting conversation with the customer's answer."""
        run, ins = await self._restore(state, programs, scope_data or {}, inbound.to_scope())
        if ins is None:
            return self._finish(run, "error")
        try:
            nxt = await question.answer(run, ins, inbound, state.wait.retries_left)  # type: ignore[union-attr]
        except EvaluationError as exc:
            run.fail(ins.node, ev.EXPRESSION_ERROR, str(exc))
            return self._finish(run, "error")
        return await self._after(run, nxt)

    async def on_timeout(
        self,
        state: State,
        programs: ProgramLoader,
        scope_data: Mapping[str, Any] | None = None,
    ) -> RunResult:
        """The wait's deadline passed: take `timeout`. Before the deadline, nothing happens."""
        scope_data = scope_data or {}
        wait = state.wait
        if wait is not None and (wait.deadline is None or self.ports.clock.now() < wait.deadline_at):
            return RunResult(state, "waiting", [], wait.deadline_at)
        run, ins = await self._restore(state, programs, scope_data, scope_data.get("message"))
        if ins is None:
            return self._finish(run, "error")
        return await self._after(run, await question.timeout(run, ins))

    # -- internals ----------------------------------------------------------
    def _run_for(self, program: Program, flow_ref: str, pc: int, variables: dict[str, Any],
                 stack: list, scope_data: Mapping[str, Any], message: Any,
                 programs: ProgramLoader | None) -> Run:
        return Run(
            ports=self.ports, programs=programs, max_call_depth=self.max_call_depth,
            default_country=self.default_country, program=program, flow_ref=flow_ref,
            program_hash=program.hash, pc=pc, variables=variables, stack=stack,
            scope_data=scope_data, message=message, now=self.ports.clock.now(),
        )

    async def _restore(self, state: State, programs: ProgramLoader, scope_data: Mapping[str, Any],
                       message: Any) -> tuple[Run, Any]:
        """A Run positioned at the state's waiting question (``ins`` None: an error was emitted)."""
        program = await _load(programs, state.flow_ref, state.program_hash)
        if program is None:
            program = _EMPTY
        run = self._run_for(program, state.flow_ref, state.pc, dict(state.vars),
                            [*state.stack], scope_data, message, programs)
        if program is _EMPTY:
            run.fail(None, ev.FLOW_NOT_FOUND,
                     f"flow {state.flow_ref!r} version {state.program_hash[:12]} not found")
            return run, None
        if program.hash != state.program_hash:
            run.fail(None, ev.PROGRAM_MISMATCH, f"flow {state.flow_ref!r}: loader returned another version")
            return run, None
        wait = state.wait
        code = program.code
        if wait is None:
            run.fail(None, ev.NOT_WAITING, "the conversation is not waiting for an answer")
            return run, None
        if not (0 <= state.pc < len(code)) or code[state.pc].op is not Op.QUESTION \
                or code[state.pc].node != wait.node:
            run.fail(wait.node, ev.BAD_STATE, f"pc {state.pc} is not the question {wait.node!r}")
            return run, None
        return run, code[state.pc]

    async def _after(self, run: Run, nxt: int) -> RunResult:
        if nxt >= 0:
            return await self._loop(run, nxt)
        return await self._settle(run, nxt, 0)

    async def _loop(self, run: Run, pc: int, steps: int = 0) -> RunResult:
        budget = self.step_budget
        handlers = HANDLERS
        events = run.events
        entered = _ENTERED_DATA
        while True:
            steps += 1
            if steps > budget:
                run.fail(None, ev.STEP_BUDGET_EXCEEDED,
                         f"more than {budget} steps without waiting for the customer")
                return self._finish(run, "error")
            run.pc = pc
            ins = run.code[pc]
            op = ins.op
            events.append(Event(NODE_ENTERED, ins.node, entered[op]))
            try:
                pc = handlers[op](run, ins)
                if type(pc) is not int:  # I/O nodes return a coroutine; pure ones an int
                    pc = await pc
            except EvaluationError as exc:
                run.fail(ins.node, ev.EXPRESSION_ERROR, str(exc))
                return self._finish(run, "error")
            if pc < 0:
                result = await self._settle(run, pc, steps)
                if result is not None:
                    return result
                pc = run.pc

    async def _settle(self, run: Run, signal: int, steps: int) -> RunResult | None:
        """Turn a handler's sentinel into a result; None means "carry on at run.pc"."""
        if signal == WAIT:
            return self._finish(run, "waiting")
        if signal == END:
            while run.stack:
                frame = run.stack.pop()
                program = await _load(run.programs, frame.flow_ref, frame.program_hash)
                if program is None or program.hash != frame.program_hash:
                    run.fail(None, ev.FLOW_NOT_FOUND,
                             f"calling flow {frame.flow_ref!r} version {frame.program_hash[:12]} not found")
                    return self._finish(run, "error")
                if frame.return_pc is not None and not 0 <= frame.return_pc < len(program.code):
                    run.fail(None, ev.BAD_STATE, f"calling flow {frame.flow_ref!r}: return pc {frame.return_pc} "
                                                 "is outside its program")  # a corrupt (or forged) state
                    return self._finish(run, "error")
                run.enter(program, frame.flow_ref)
                run.emit(ev.FLOW_RETURNED, None, {"flow": frame.flow_ref})
                if frame.return_pc is not None:
                    run.pc = frame.return_pc
                    if steps:
                        return None
                    return await self._loop(run, frame.return_pc)
            return self._finish(run, "ended")
        if signal == HANDOFF:
            return self._finish(run, "handoff")
        if signal == ERROR:
            return self._finish(run, "error")
        run.fail(None, ev.UNKNOWN_OP, f"handler returned {signal}")
        return self._finish(run, "error")

    def _finish(self, run: Run, status: Status) -> RunResult:
        if status != "waiting":
            return RunResult(None, status, run.events)
        wait = run.wait
        state = State(run.flow_ref, run.program_hash, run.pc, run.vars, run.stack, wait)
        return RunResult(state, status, run.events, wait.deadline_at if wait else None)


_EMPTY = Program((), 0, {"": 0})


async def _load(programs: ProgramLoader | None, flow_ref: str, program_hash: str) -> Program | None:
    if programs is None:
        return None
    try:
        return await programs(flow_ref, program_hash)
    except LookupError:
        return None
