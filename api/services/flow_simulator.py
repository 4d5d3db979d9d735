"""The editor's simulator: chat with a flow's draft through the real interpreter.

A dry run: the run's effects (messages, contact changes, handoff) are only
folded from its events and shown (engine/effects.py), so no contact,
conversation or message row changes and nothing is sent to WhatsApp. `api_call` and `ai_prompt` nodes do call out, with the same
HTTP guard and AI configuration as the runtime (a designer tests the real
integrations). Sub-flows (`jump`) run the draft of the chatbot's other flows.

The client keeps the session (engine state, contact as the flow left it,
history) and sends it back with the next message; a session whose program
changed since it started is refused, so the designer restarts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.models import Chatbot, Flow
from engine import FlowNotCompiled, InboundMessage, Interpreter, Program, effects_of
from engine import events as ev
from engine.adapters.clock import SystemClock
from engine.ports import Ports
from engine.state import State, StateFormatError

HISTORY_SIZE = 10
TRACED = frozenset({ev.NODE_ENTERED, ev.VARIABLE_SET, ev.TAG_ADDED, ev.TAG_REMOVED, ev.ATTRIBUTE_SET,
                    ev.PRIORITY_SET, ev.CONVERSATION_CLOSED, ev.HANDOFF, ev.API_CALLED, ev.AI_CALLED,
                    ev.FLOW_ENTERED, ev.FLOW_RETURNED, ev.WAITING, ev.ANSWER_INVALID,
                    ev.EXIT_UNCONNECTED, ev.ERROR})


class SimulationRefused(ValueError):
    """The request cannot be simulated; ``field`` names what to fix."""

    def __init__(self, field_name: str, message: str, diagnostics: list[Any] | None = None) -> None:
        super().__init__(message)
        self.field = field_name
        self.diagnostics = diagnostics or []


@dataclass
class DraftLibrary:
    """Compiles the chatbot's flows from their drafts (``flows.canvas_data``) on demand."""

    session: AsyncSession
    flow: Flow
    canvas: Any
    programs: dict[str, Program] = field(default_factory=dict)

    async def known(self) -> dict[str, Flow]:
        rows = (await self.session.execute(select(Flow).where(Flow.chatbot_id == self.flow.chatbot_id)
                                           .order_by(Flow.created_at, Flow.id))).scalars()  # a name: the oldest
        out: dict[str, Flow] = {}
        for row in rows:
            out.setdefault(str(row.id), row)
            out.setdefault(row.name, row)
        return out

    async def main(self) -> Program:
        from compiler import compile_canvas

        known = await self.known()
        named = known.get(self.flow.name)  # the runtime's flow of that name: the oldest
        own = {str(self.flow.id)} | ({self.flow.name} if named is not None and named.id == self.flow.id else set())
        result = compile_canvas(self.canvas, known_flows=set(known), names=own,
                                flows={name: row.canvas_data for name, row in known.items()})
        if result.program is None:
            errors = [d for d in result.diagnostics if d.severity == "error"]
            raise SimulationRefused("canvas", f"the canvas has {len(errors)} error(s)", list(result.diagnostics))
        self.programs[str(self.flow.id)] = result.program
        return result.program

    async def load(self, flow_ref: str, program_hash: str | None) -> Program:
        from compiler import compile_canvas

        program = self.programs.get(flow_ref)
        if program is None:
            flows = await self.known()
            target = flows.get(flow_ref)
            if target is None:
                raise LookupError(f"flow {flow_ref!r} not found in this chatbot")
            if target.id == self.flow.id:
                program = self.programs[str(self.flow.id)]
            else:
                result = compile_canvas(target.canvas_data, known_flows=set(flows))
                if result.program is None:
                    raise FlowNotCompiled(flow_ref, [f"{d.node_id or '-'}: {d.code}: {d.message}"
                                                     for d in result.diagnostics if d.severity == "error"])
                program = result.program
            self.programs[flow_ref] = program
        if program_hash is not None and program.hash != program_hash:
            raise LookupError("the flow changed since this simulation started: restart it")
        return program


def _inbound(message: Mapping[str, Any]) -> InboundMessage:
    text, reply_id = message.get("text"), message.get("reply_id")
    kind = "button" if reply_id is not None else "text"
    return InboundMessage(type=kind, text=text, reply_id=reply_id, payload=dict(message))


def _scope(contact: Mapping[str, Any], inbound: InboundMessage | None,
           history: list[dict[str, str]], language: Any) -> dict[str, Any]:
    name = contact.get("name") or "Simulator"
    attributes = contact["attributes"]
    return {
        "contact": {"id": None, "name": name, "whatsapp_name": name, "phone": "+5511900000000",
                    "whatsapp_id": "5511900000000", "email": contact.get("email"),
                    "tags": list(contact["tags"]), "attributes": dict(attributes),
                    **{k: v for k, v in attributes.items() if k not in ("id", "tags")}},
        "conversation": {"id": None, "status": "active", "priority": "medium", "tags": []},
        "message": inbound.to_scope() if inbound else {},
        "history": history,
        "language": language,
    }


def _variables(result: Any, state_doc: Any) -> dict[str, Any]:
    """The flow's variables after the step; when the run ended (no state), as it left them."""
    if result.state is not None:
        return dict(result.state.vars)
    out = dict(state_doc.get("v") or {}) if isinstance(state_doc, dict) else {}
    for event in result.events:
        if event.type == ev.VARIABLE_SET:
            out[event.get("name")] = event.get("value")
    return out


def _check_session(contact: Mapping[str, Any], history: Any) -> None:
    """The session's contact and history as this simulator returns them (a session edited by hand
    into other shapes raised TypeError: a 500)."""
    tags, attributes = contact.get("tags"), contact.get("attributes")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise SimulationRefused("session", "the session's contact tags are a list of texts")
    if attributes is not None and not isinstance(attributes, dict):
        raise SimulationRefused("session", "the session's contact attributes are an object")
    for key in ("name", "email"):
        if contact.get(key) is not None and not isinstance(contact[key], str):
            raise SimulationRefused("session", f"the session's contact {key} is a text")
    if history is not None and not isinstance(history, list):
        raise SimulationRefused("session", "the session's history is a list")


async def simulate(session: AsyncSession, flow: Flow, *, canvas: Any, message: Mapping[str, Any] | None,
                   timeout: bool, previous: Mapping[str, Any] | None, http: Any, ai: Any) -> dict[str, Any]:
    """One step of a simulated conversation; see the module docstring."""
    library = DraftLibrary(session, flow, canvas)
    program = await library.main()
    previous = previous or {}
    kept = previous.get("contact") if isinstance(previous.get("contact"), dict) else {}
    _check_session(kept, previous.get("history"))
    contact = effects_of((), {k: kept[k] for k in ("tags", "attributes", "name", "email") if k in kept}).contact
    history = [h for h in previous.get("history") or [] if isinstance(h, dict)][-HISTORY_SIZE:]
    interpreter = Interpreter(Ports(http=http, ai=ai, clock=SystemClock()))
    chatbot_settings = (await session.execute(
        select(Chatbot.settings).where(Chatbot.id == flow.chatbot_id))).scalar() or {}
    language = chatbot_settings.get("language")
    state_doc = previous.get("state")
    inbound = _inbound(message) if message else None
    if inbound is not None and inbound.text:
        history.append({"role": "user", "content": inbound.text})
    if state_doc is None:
        if timeout:
            raise SimulationRefused("timeout", "nothing is waiting: start the simulation first")
        scope = _scope(contact, inbound, history, language)
        result = await interpreter.start(program, str(flow.id), scope, library.load)
    else:
        try:
            state = State.from_json(state_doc)
        except (StateFormatError, TypeError, ValueError, KeyError):
            raise SimulationRefused("session", "the session is not one this simulator issued") from None
        scope = _scope(contact, inbound, history, language)
        if timeout:
            if state.wait is not None:  # the designer fires the timeout now
                state.wait.deadline = "1970-01-01T00:00:00+00:00"
            result = await interpreter.on_timeout(state, library.load, scope)
        elif inbound is None:
            raise SimulationRefused("message", "send the customer's message (text or reply_id)")
        else:
            result = await interpreter.resume(state, inbound, library.load, scope)
    effects = effects_of(result.events, contact)
    messages = result.messages
    for sent in messages:
        body = (sent.get("content") or {}).get("text") or (sent.get("content") or {}).get("caption")
        if body:
            history.append({"role": "assistant", "content": body})
    trace = [e.to_json() for e in result.events if e.type in TRACED]
    current = result.state.wait.node if result.state is not None and result.state.wait is not None else None
    if current is None:
        entered = [e.node for e in result.events if e.type == ev.NODE_ENTERED and e.node]
        current = entered[-1] if entered else None
    state_json = result.state.to_json() if result.state is not None and result.status == "waiting" else None
    return {
        "status": result.status,
        "messages": messages,
        "trace": trace,
        "current_node": current,
        "variables": _variables(result, state_doc),
        "contact": {"tags": effects.contact["tags"], "attributes": effects.contact["attributes"],
                    "priority": effects.priority, "closed": effects.closed},
        "handoff": effects.handoff,
        "session": {"state": state_json, "history": history[-HISTORY_SIZE:], "contact": effects.contact},
    }


