"""Decide: what a step does, as plain data (a `Decision`), without writing anything
(but a campaign's bookkeeping, idempotent: a reply's ``replied_at``, an opt-out,
an opt-in; `api.campaigns.replies`).

A message that is an opt-out keyword opts the contact out of campaigns and
runs nothing else; so does an opt-in keyword from an opted-out contact, which
opts it back in (from anyone else it is an ordinary message). A reply to a
campaign with a flow starts that flow where the chatbot's rules would start a
flow or answer with the fallback.
Flow selection (api/conversations/flow_selection.py) says whether the bot,
an agent, a keyword handoff or the fallback answers; the interpreter runs
the chosen flow. The only I/O is what the engine asks through its ports:
HTTP and AI calls, the programs (`ProgramStore`), and the conversation's
history when a flow holds an `ai_prompt` (read through `history`, supplied
by the caller). The run's events are folded into the Decision
(engine/effects.py): messages to send, the contact as the flow left it,
priority, closing, handoff, and what the flow's domain events report
(started, completed, errors). `apply` turns it into one write.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from api.campaigns.replies import campaign_reply, campaign_reply_from, opt_in, opt_out
from api.analytics.path import Path, path_of
from api.conversations import chatbot_ai, flow_selection, load
from api.conversations.business_hours import is_open
from api.conversations.flow_templates import check_flow_templates
from api.conversations.load import Loaded, as_uuid
from api.conversations.programs import ProgramStore, has_ai
from api.runtime_context import Runtime
from api.whatsapp.recipients import is_bsuid
from engine import InboundMessage, Interpreter, Ports, RunResult, effects_of
from engine import events as ev
from engine.adapters.clock import SystemClock
from engine.texts import DEFAULT_LANGUAGE, TEXTS, builtin, language_of

log = logging.getLogger("pytake.conversations.decide")

History = Callable[[], Awaitable[list[dict[str, str]]]]
MAX_REPORTED = 5  # problems kept on the inbound row / reported as flow.error, per step


@dataclass
class Decision:
    """A step's outcome, to be applied in one statement (plain data)."""

    status: str = "none"  # the run's status, or ignored / fallback / handoff / crashed / none
    messages: list[dict[str, Any]] = field(default_factory=list)  # {"type", "content"} to send
    state: Any = None  # the engine State to keep while the flow waits; None: no flow runs
    keep_state: bool = False  # agent-owned / nothing ran: leave the flow state alone
    flow_id: uuid.UUID | None = None  # the flow the conversation waits in
    wait_deadline: datetime | None = None
    welcomed: bool = False
    chatbot_id: uuid.UUID | None = None
    handoff: dict[str, Any] | None = None  # {department, reason, priority}
    handoff_messages: list[int] = field(default_factory=list)  # indexes in `messages` of the handoff's words
    contact: dict[str, Any] | None = None  # tags/attributes/name/email as the flow left them, if changed
    contact_changes: dict[str, Any] = field(default_factory=dict)  # only the changed fields
    priority: str | None = None
    closed: bool = False
    run_info: dict[str, Any] = field(default_factory=dict)  # kept on the inbound row (metadata.run)
    flow: dict[str, Any] | None = None  # {"id", "name"} of the flow that ran
    started: bool = False  # the flow started in this step
    completed: bool = False  # the flow finished in this step (ended, or handed off)
    errors: list[dict[str, Any]] = field(default_factory=list)  # {node, code, message}
    path: list[dict[str, Any]] = field(default_factory=list)  # nodes the run went through (flow.step)
    ai: list[dict[str, Any]] = field(default_factory=list)  # its AI calls (flow.step)
    path_counts: Path | None = None  # the run's path through its flow (api/analytics), counted once applied


def crashed(loaded: Loaded, exc: BaseException) -> Decision:
    """The run raised: the message is marked processed with the error (a poison
    message must not block the conversation); a crashing timeout drops the wait."""
    message = repr(exc)[:500]
    flow = _flow_info(loaded, loaded.state.flow_ref) if loaded.state is not None else None
    return Decision(keep_state=loaded.message is not None, status="crashed", run_info={"error": message},
                    flow=flow, errors=[{"node": None, "code": "crashed", "message": message}])


async def decide(rt: Runtime, loaded: Loaded, history: History | None = None) -> Decision:
    """The step for ``loaded``: its message, or (``loaded.message`` None) its due timeout.
    ``history()`` reads the conversation's recent messages (default `load.history`)."""
    conv = loaded.conversation
    decision = Decision(chatbot_id=loaded.chatbot.id if loaded.chatbot else None)
    store = ProgramStore(rt, loaded.chatbot.id if loaded.chatbot else None, conv["organization_id"])
    now = datetime.now(timezone.utc)

    if loaded.message is None:
        assert loaded.state is not None
        result = await Interpreter(_ports(rt, loaded.chatbot)).on_timeout(loaded.state, store.load,
                                                                          _scope(loaded, None, []))
        return await _finished(rt, decision, result, loaded, _flow_info(loaded, loaded.state.flow_ref),
                               rt.programs.get(loaded.state.program_hash))

    inbound = _inbound(loaded.message)
    if (loaded.message["content"] or {}).get("kind") in ("reaction", "system"):
        # a 👍 on an earlier message, a "changed their number" notice: not an answer to anything
        decision.keep_state = True
        decision.status = "ignored"
        return decision
    waiting = loaded.state is not None and loaded.state.wait is not None
    fv = conv["flow_variables"] or {}
    # a reply to record and a campaign's flow only when the latest outbound message is a
    # campaign's (the load looked); else the organization's opt-out words, read with the load
    reply = (await campaign_reply(rt, conv["organization_id"], conv["id"]) if conv["lo_campaign"]
             else campaign_reply_from(conv["o_settings"]))
    said = flow_selection.normalize(inbound.text)
    if said in flow_selection.normalized_keywords(reply.opt_out_keywords):
        await opt_out(rt, conv["organization_id"], conv["contact_id"])
        decision.messages += _text(reply.opt_out_text(_language(loaded)))
        decision.keep_state = True
        decision.status = "opted_out"
        return decision
    # a tap on the bot's own button or list row ("Voltar" in a menu) answers it, and so does
    # whatever is typed while the flow waits for an answer: never an opt-in. Opting back in
    # is the customer's consent to campaigns again, so only an unambiguous word counts; an
    # opt-out word above is honoured always.
    answer = waiting or (loaded.message["content"] or {}).get("kind") in ("button_reply", "list_reply")
    if (not answer and said in flow_selection.normalized_keywords(reply.opt_in_keywords)
            and await opt_in(rt, conv["organization_id"], conv["contact_id"], loaded.message["created_at"])):
        decision.messages += _text(reply.opt_in_text(_language(loaded)))
        decision.keep_state = True
        decision.status = "opted_in"
        return decision
    selection = flow_selection.select(
        bot_active=conv["is_bot_active"] is not False, chatbot=loaded.chatbot, flows=loaded.flows,
        number_id=conv["whatsapp_number_id"], text=inbound.text, waiting=waiting,
        first_message=not fv.get("welcomed"), said=said)
    if reply.flow_id is not None and selection.action in ("start", "fallback"):  # a reply to a campaign
        selection = flow_selection.Selection("start", flow=_campaign_flow(loaded, reply.flow_id),
                                             welcome=selection.welcome)
    decision.run_info["selection"] = selection.action
    if selection.action == "agent":
        decision.keep_state = True
        return decision
    chatbot = loaded.chatbot
    assert chatbot is not None
    if selection.welcome:
        decision.messages += _text(chatbot.welcome_message)
        decision.welcomed = True
    if selection.action == "handoff":
        said = _text((chatbot.settings or {}).get("handoff_message"))
        decision.handoff_messages = list(range(len(decision.messages), len(decision.messages) + len(said)))
        decision.messages += said
        decision.handoff = {"department": (chatbot.settings or {}).get("handoff_department"),
                            "reason": f"keyword: {selection.keyword}", "priority": None}
        _away(decision, chatbot, now)
        decision.status = "handoff"
        if loaded.state is not None:  # the keyword ends the run that was waiting: handed to a person
            decision.flow = _flow_info(loaded, loaded.state.flow_ref)
            decision.completed = True  # its flow.completed, outcome handoff (analytics' handoff rate)
        return decision
    if selection.action == "fallback":
        decision.messages += await _fallback_answer(rt, decision, conv["id"], chatbot)
        decision.keep_state = True
        decision.status = "fallback"
        return decision

    interp = Interpreter(_ports(rt, loaded.chatbot))
    flow_ref = loaded.state.flow_ref if selection.action == "resume" else str(selection.flow.id)  # type: ignore
    flow = _flow_info(loaded, flow_ref)
    try:
        if selection.action == "resume":
            program = await store.load(flow_ref, loaded.state.program_hash)  # type: ignore[union-attr]
        else:
            program = await store.load(flow_ref, None)
    except LookupError as exc:
        log.warning("conversation %s: %s", conv["id"], exc)
        decision.messages += _text(_fallback(chatbot))
        decision.status = "error"
        decision.run_info["error"] = str(exc)
        decision.flow = flow
        decision.errors.append({"node": None, "code": getattr(exc, "code", ev.FLOW_NOT_FOUND), "message": str(exc)})
        return decision
    recent = [] if not has_ai(program) else await (history() if history else load.history(rt, conv["id"]))
    scope = _scope(loaded, inbound, recent)
    if selection.action == "resume":
        result = await interp.resume(loaded.state, inbound, store.load, scope)  # type: ignore[arg-type]
    else:
        decision.run_info["flow_id"] = flow_ref
        decision.started = True
        result = await interp.start(program, flow_ref, scope, store.load)
    return await _finished(rt, decision, result, loaded, flow, program)


async def _finished(rt: Runtime, decision: Decision, result: RunResult, loaded: Loaded,
                    flow: dict[str, Any] | None, program: Any = None) -> Decision:
    """`_finish`, then the run's template messages checked against the organization's
    templates (api/conversations/flow_templates.py): one that cannot be sent is a flow error.
    ``program``: the flow the run started in (its path is counted: api/analytics)."""
    _finish(decision, result, loaded, flow)
    if program is not None and flow is not None and flow.get("id") is not None:
        wait = loaded.state.wait if loaded.state is not None and not decision.started else None
        decision.path_counts = path_of(str(flow["id"]), program, result.events, waiting_at=wait.node if wait else None,
                                timed_out=loaded.message is None, status=result.status)
    for error in await check_flow_templates(rt, loaded.conversation, decision.messages, result.events):
        if len(decision.errors) < MAX_REPORTED:
            decision.errors.append(error)
        found = decision.run_info.setdefault("errors", [])
        if len(found) < MAX_REPORTED:
            found.append({"type": ev.ERROR, **error})
        log.warning("flow error: %s", json.dumps({"conversation_id": str(loaded.conversation["id"]),
                                                  "flow_id": decision.run_info.get("flow_id"), **error},
                                                 ensure_ascii=False, default=str))
    return decision


def _finish(decision: Decision, result: RunResult, loaded: Loaded, flow: dict[str, Any] | None) -> Decision:
    contact = loaded.contact
    effects = effects_of(result.events, {"tags": contact["tags"] or [], "attributes": contact["attributes"] or {},
                                         "name": contact["name"], "email": contact["email"]})
    offset = len(decision.messages)
    decision.messages += [m.to_json() for m in effects.messages]
    decision.state = result.state if result.status == "waiting" else None
    decision.status = result.status
    decision.wait_deadline = result.wait_deadline
    decision.flow_id = as_uuid(result.state.flow_ref) if result.state is not None else None
    decision.flow = flow
    decision.completed = result.status in ("ended", "handoff")
    if effects.changed:
        decision.contact = effects.contact
        decision.contact_changes = effects.changed
    decision.priority = effects.priority
    decision.closed = effects.closed
    _record_problems(decision, result, loaded)
    _record_steps(decision, result)
    if effects.handoff is not None:
        decision.handoff = effects.handoff
        decision.handoff_messages = [offset + i for i in effects.handoff_messages]
        if loaded.chatbot is not None:
            _away(decision, loaded.chatbot, datetime.now(timezone.utc))
    return decision


# Events a flow designer must be able to find: each is a warning log line naming the
# conversation, flow and node, and is kept on the inbound row (metadata.run); errors
# and failed calls are the step's flow.error events too.
_PROBLEMS = {ev.ERROR: ("errors", "flow error"),
             ev.API_CALLED: ("failed_calls", "api_call failed"),
             ev.AI_CALLED: ("failed_calls", "ai_prompt failed"),
             ev.MESSAGE_ADJUSTED: ("adjusted", "message adjusted to WhatsApp limits")}



def _error_of(event: Any) -> dict[str, Any]:
    """A flow.error's ``{node, code, message}`` from an engine error or a failed call."""
    if event.type == ev.API_CALLED:  # error: the HTTP port's code (timeout, address_refused...)
        code = event.get("error") or "http_error"
        message = event.get("message") or f"{event.get('method')} {event.get('url')}: HTTP {event.get('status')}"
        return {"node": event.node, "code": code, "message": message}
    if event.type == ev.AI_CALLED:  # error: the provider's message
        return {"node": event.node, "code": "ai_failed", "message": event.get("error")}
    return {"node": event.node, "code": event.get("code"), "message": event.get("message")}


MAX_PATH = 100  # nodes (and AI calls) one step reports in its flow.step event


def _record_steps(decision: Decision, result: RunResult) -> None:
    """The nodes the run entered (id, type) and its AI calls, for the flow.step event."""
    at = datetime.now(timezone.utc).isoformat()
    for event in result.events:
        if event.type == ev.NODE_ENTERED and len(decision.path) < MAX_PATH:
            decision.path.append({"node_id": event.node, "node_type": event.get("op"), "timestamp": at})
        elif event.type == ev.AI_CALLED and len(decision.ai) < MAX_PATH:
            decision.ai.append({"node_id": event.node, "provider": event.get("provider"),
                                "model": event.get("model"), "ok": event.get("ok"), "error": event.get("error"),
                                "prompt": event.get("prompt"), "response": event.get("response"),
                                "prompt_tokens": event.get("prompt_tokens"),
                                "completion_tokens": event.get("completion_tokens"),
                                "tokens_used": event.get("tokens_used"), "latency_ms": event.get("latency_ms"),
                                "timestamp": at})


def _record_problems(decision: Decision, result: RunResult, loaded: Loaded) -> None:
    for event in result.events:
        problem = _PROBLEMS.get(event.type)
        if problem is None or (event.type in (ev.API_CALLED, ev.AI_CALLED) and event.get("ok", True)):
            continue
        key, what = problem
        found = decision.run_info.setdefault(key, [])
        doc = event.to_json()
        if len(found) < MAX_REPORTED:
            found.append(doc)
        if event.type != ev.MESSAGE_ADJUSTED and len(decision.errors) < MAX_REPORTED:
            decision.errors.append(_error_of(event))
        log.warning("%s: %s", what, json.dumps({
            "conversation_id": str(loaded.conversation["id"]), "flow_id": decision.run_info.get("flow_id"), **doc},
            ensure_ascii=False, default=str))


def _ports(rt: Runtime, chatbot: flow_selection.ChatbotInfo | None) -> Ports:
    return Ports(http=rt.http, ai=chatbot_ai.ai_port(rt, chatbot), clock=SystemClock())


def _campaign_flow(loaded: Loaded, flow_id: uuid.UUID) -> flow_selection.FlowInfo:
    for flow in loaded.flows:
        if flow.id == flow_id:
            return flow
    return flow_selection.FlowInfo(flow_id, "", "campaign", (), None)


def _flow_info(loaded: Loaded, flow_ref: str) -> dict[str, Any]:
    """``{"id", "name"}`` of a flow the conversation runs (the name when it is one of the chatbot's)."""
    for flow in loaded.flows:
        if str(flow.id) == flow_ref:
            return {"id": flow.id, "name": flow.name}
    return {"id": as_uuid(flow_ref), "name": None}


def _inbound(message: Any) -> InboundMessage:
    content = message["content"] or {}
    kind = content.get("kind") or message["type"]
    mtype = {"button_reply": "button", "list_reply": "list"}.get(kind, message["type"] or "text")
    body = content.get("text") if "text" in content else content.get("caption")
    return InboundMessage(type=mtype, text=body, reply_id=content.get("reply_id"), payload=content)


def _phone_of(whatsapp_id: str | None) -> str | None:
    """A contact's phone from its ``whatsapp_id``: none while it is the BSUID (phone hidden)."""
    return None if is_bsuid(whatsapp_id) else whatsapp_id


def _scope(loaded: Loaded, inbound: InboundMessage | None, history: list[dict[str, str]]) -> dict[str, Any]:
    conv, contact = loaded.conversation, loaded.contact
    return {
        "contact": {
            "id": str(contact["id"]), "name": contact["name"] or contact["whatsapp_name"],
            "whatsapp_name": contact["whatsapp_name"], "phone": contact["phone"] or _phone_of(contact["whatsapp_id"]),
            "whatsapp_id": contact["whatsapp_id"], "email": contact["email"],
            "tags": list(contact["tags"] or []), "attributes": dict(contact["attributes"] or {}),
            **{k: v for k, v in (contact["attributes"] or {}).items() if k not in ("id", "tags")},
        },
        "conversation": {"id": str(conv["id"]), "status": conv["status"], "priority": conv["priority"],
                         "tags": list(conv["tags"] or [])},
        "message": inbound.to_scope() if inbound else {},
        "history": history,
        "language": _language(loaded),
    }


async def _fallback_answer(rt: Runtime, decision: Decision, conversation_id: Any,
                           chatbot: flow_selection.ChatbotInfo) -> list[dict[str, Any]]:
    """What answers a message no flow handles: the chatbot's AI when it is enabled
    (api/conversations/chatbot_ai.py), else (or when that call fails) its fallback text."""
    if chatbot.ai_enabled:
        text, call = await chatbot_ai.answer(rt, conversation_id, chatbot)
        decision.ai.append(call)
        if text is not None:
            decision.run_info["answered_by"] = "ai"
            return _text(text)
        decision.errors.append({"node": None, "code": "ai_failed", "message": call["error"]})
        log.warning("chatbot AI failed: %s", json.dumps({"conversation_id": str(conversation_id),
                                                          "chatbot_id": str(chatbot.id), "error": call["error"]},
                                                         ensure_ascii=False))
    return _text(_fallback(chatbot))


def _fallback(chatbot: flow_selection.ChatbotInfo) -> str | None:
    """The chatbot's fallback text; the built-in one of its language when the row holds
    none, or the database's (Portuguese) default while the chatbot speaks another language."""
    language = (chatbot.settings or {}).get("language")
    text = chatbot.fallback_message
    if text is None or (text == TEXTS[DEFAULT_LANGUAGE]["fallback_message"]
                        and language_of(language) != DEFAULT_LANGUAGE):
        return builtin(language, "fallback_message")
    return text


def _language(loaded: Loaded) -> Any:
    """The chatbot's ``settings.language`` (None without a chatbot or a setting)."""
    return (loaded.chatbot.settings or {}).get("language") if loaded.chatbot else None


def _text(value: str | None) -> list[dict[str, Any]]:
    return [{"type": "text", "content": {"text": value}}] if value else []


def _away(decision: Decision, chatbot: flow_selection.ChatbotInfo, now: datetime) -> None:
    if chatbot.away_message and not is_open(chatbot.business_hours, now):
        decision.messages += _text(chatbot.away_message)
