"""`Run`: the mutable context one interpreter run threads through node handlers.

A node handler is ``async def execute(run, ins) -> int``: it returns the next
pc, or one of the sentinels below. Handlers ask the world only through
``run.ports`` (HTTP, AI, clock) and record what they did, effects included,
with ``run.emit`` (the caller applies them: engine/effects.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from engine import events as ev
from engine.events import Event
from engine.expressions import Scope, evaluate, render, to_text
from engine.ports import OutboundMessage, ProgramLoader, Ports
from engine.program import Instruction, Program
from engine.state import Frame, Wait
from engine.texts import builtin
from engine.whatsapp_limits import fit

# Handler results other than a pc.
WAIT = -1  # the run stops until an inbound message (or timeout) resumes it
END = -2  # this flow ended: return to the caller flow, or end the run
HANDOFF = -3  # a human takes over: the run stops for good
ERROR = -4  # an `error` event was emitted: the run stops


class Run:
    """Where the run is (program, pc, call stack), its variables, scope and events."""

    __slots__ = (
        "ports", "programs", "max_call_depth", "default_country",
        "program", "code", "flow_ref", "program_hash", "pc", "stack", "wait",
        "vars", "contact", "conversation", "message", "history", "scope", "events", "language",
    )

    def __init__(
        self,
        *,
        ports: Ports,
        programs: ProgramLoader | None,
        max_call_depth: int,
        default_country: str,
        program: Program,
        flow_ref: str,
        program_hash: str,
        pc: int,
        variables: dict[str, Any],
        stack: list[Frame],
        scope_data: Mapping[str, Any],
        message: Mapping[str, Any] | None,
        now: dt.datetime,
    ) -> None:
        self.ports = ports
        self.programs = programs
        self.max_call_depth = max_call_depth
        self.default_country = default_country
        self.program = program
        self.code = program.code
        self.flow_ref = flow_ref
        self.program_hash = program_hash
        self.pc = pc
        self.stack = stack
        self.wait: Wait | None = None
        self.vars = variables
        # Copies: nodes update them (tags, attributes) so later nodes see the
        # change, without touching the caller's data.
        contact = dict(scope_data.get("contact") or {})
        if "tags" in contact:
            contact["tags"] = list(contact["tags"] or ())
        if "attributes" in contact:
            contact["attributes"] = dict(contact["attributes"] or {})
        self.contact = contact
        self.conversation = dict(scope_data.get("conversation") or {})
        self.message = dict(message or {})
        self.history = list(scope_data.get("history") or ())
        self.language = scope_data.get("language")  # the chatbot's, for built-in texts
        self.scope = Scope(
            vars=variables, contact=contact, conversation=self.conversation,
            message=self.message, now=now,
        )
        self.events: list[Event] = []

    # -- helpers for handlers ----------------------------------------------
    def emit(self, type: str, node: str | None, data: dict[str, Any] | None = None) -> None:
        self.events.append(Event(type, node, data))

    def render(self, value: Any) -> Any:
        if type(value) is dict and len(value) == 1 and "$expr" in value:  # hot path: conditions
            return evaluate(value["$expr"], self.scope)
        return render(value, self.scope)

    def render_text(self, value: Any) -> str | None:
        """A ⟨T⟩ field as a string (None stays None)."""
        if value is None:
            return None
        out = render(value, self.scope)
        return out if type(out) is str else to_text(out)

    def builtin_text(self, key: str) -> str:
        """A built-in text (``retry_message``, ``list_button``...) in the chatbot's language."""
        return builtin(self.language, key)

    def set_var(self, node: str, name: str, value: Any) -> None:
        self.vars[name] = value
        self.events.append(Event(ev.VARIABLE_SET, node, {"name": name, "value": value}))

    def follow(self, ins: Instruction, handle: str) -> int:
        """The pc behind ``handle``; an unconnected handle ends the flow."""
        for name, target in ins.exits:
            if name == handle:
                return target
        self.events.append(Event(ev.EXIT_UNCONNECTED, ins.node, {"handle": handle}))
        return END

    def fail(self, node: str | None, code: str, message: str) -> int:
        self.events.append(Event(ev.ERROR, node, {"code": code, "message": message}))
        return ERROR

    def send(self, node: str, message: OutboundMessage) -> None:
        """Send a rendered message, fitted to WhatsApp's limits first (engine/whatsapp_limits.py):
        a change is a ``message_adjusted`` event before the ``message_sent`` ones."""
        fitted, adjustments = fit(message.type, message.content)
        if adjustments:
            self.events.append(Event(ev.MESSAGE_ADJUSTED, node, {"type": message.type, "adjustments": adjustments}))
        for msg_type, content in fitted:
            out = message if content is message.content else OutboundMessage(msg_type, content)
            self.events.append(Event(ev.MESSAGE_SENT, node, {"message": {"type": out.type, "content": out.content}}))

    def enter(self, program: Program, flow_ref: str) -> int:
        """Switch to another program (a sub-flow or a caller); returns its entry pc."""
        self.program = program
        self.code = program.code
        self.flow_ref = flow_ref
        self.program_hash = program.hash
        return program.entry

    def now(self) -> dt.datetime:
        return self.ports.clock.now()

