"""Run a conversation's flow on its inbound messages: in order, one at a time, once.

`process_conversation` is what the ``pytake.process_conversation`` task runs.
Any number of workers may run it for any conversation:

- a Redis lease (`locks.conversation_lease`) lets one worker at a time work on
  a conversation; others return at once;
- the holder takes the oldest unprocessed inbound message, again and again,
  until none is left; after releasing the lease it looks once more if a
  task bounced off the lease meanwhile, so a message stored while it was
  finishing is never left waiting (no lost wake-up: that message's own task
  found the lease taken);
- each message is handled as load → commit → run the engine (which may call
  APIs and AI, with no transaction open) → ONE transaction that checks, with
  the conversation and message rows locked, that the message is still
  unprocessed and the state unchanged (a lease that expired under a slow
  run cannot apply twice), then writes the outbox rows, the new state,
  contact/conversation changes and the handoff, and marks the message
  processed. The sender is kicked after commit.

A question's reply timeout is checked the same way: the maintenance loop
wakes conversations whose wait deadline passed, and the holder of the lease
runs `Interpreter.on_timeout`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from api.db.session import bind
from api.conversations import flow_selection
from api.conversations.adapters import CollectingContact, CollectingHandoff, CollectingMessenger
from api.conversations.business_hours import is_open
from api.runtime_context import Runtime
from api.outbox.locks import conversation_lease, lease_ms
from api.outbox.enqueue import kick_sender, outbound_rows
from api.conversations.programs import ProgramStore, has_ai
from api.outbox.sender import SendHint, Sender
from api.whatsapp.payloads import REFERRAL_KEY
from engine import InboundMessage, Interpreter, Ports, RunResult, State
from engine.texts import DEFAULT_LANGUAGE, TEXTS, builtin, language_of
from engine.adapters.clock import SystemClock
from engine.events import MESSAGE_ADJUSTED

log = logging.getLogger("pytake.runtime.processor")

TIMEOUTS_KEY = "runtime:timeouts"
HISTORY_SIZE = 20


@dataclass
class Loaded:
    """What one step needs, read in one short transaction."""

    conversation: Any
    contact: Any
    chatbot: flow_selection.ChatbotInfo | None
    flows: list[flow_selection.FlowInfo]
    message: Any | None  # the inbound row, or None for a timeout step
    state: State | None
    rev: int


@dataclass
class Outcome:
    messages: list[dict[str, Any]] = field(default_factory=list)
    state: State | None = None
    keep_state: bool = False  # agent-owned / nothing ran: leave flow_variables alone
    flow_id: uuid.UUID | None = None
    status: str = "none"
    handoff: dict[str, Any] | None = None
    contact: CollectingContact | None = None
    welcomed: bool = False
    run_info: dict[str, Any] = field(default_factory=dict)
    chatbot_id: uuid.UUID | None = None
    wait_deadline: datetime | None = None
    more: bool = True  # set by the commit: unprocessed inbound rows remain (as of its snapshot)


async def process_conversation(rt: Runtime, conversation_id: Any) -> int:
    """Handle every unprocessed inbound message of a conversation; the count handled here."""
    conversation_id = uuid.UUID(str(conversation_id))
    handled = 0
    while True:
        lease = conversation_lease(rt.redis, conversation_id, lease_ms(rt.settings))
        if not await lease.acquire():
            return handled
        try:
            while not lease.lost:
                step = await _step(rt, conversation_id)
                if step == "idle":
                    break
                handled += step in ("message", "last")
                if step == "last":  # the commit saw nothing more to do: skip the reload
                    break
        finally:
            await lease.release()
        # a message stored while we finished had its task bounce off the lease:
        # look again then (a task that comes later takes the lease itself)
        if not lease.missed or not await _has_unprocessed(rt, conversation_id):
            return handled


async def _has_unprocessed(rt: Runtime, conversation_id: uuid.UUID) -> bool:
    async with rt.db.raw() as conn:
        return await conn.fetchrow(*bind(_NEXT_MESSAGE, {"c": conversation_id})) is not None


_NEXT_MESSAGE = """
SELECT id FROM messages
 WHERE conversation_id = :c AND direction = 'inbound' AND metadata->>'processed' = 'false'
 LIMIT 1
"""

# conversation + contact + its oldest unprocessed inbound message, one round trip
# (hot statements run on a raw asyncpg connection: `Database.raw`)
_LOAD = """
SELECT c.*, ct.whatsapp_id AS ct_whatsapp_id, ct.whatsapp_name AS ct_whatsapp_name, ct.name AS ct_name,
       ct.email AS ct_email, ct.phone AS ct_phone, ct.tags AS ct_tags, ct.attributes AS ct_attributes,
       m.id AS m_id, m.created_at AS m_created_at, m.type AS m_type, m.content AS m_content,
       m.whatsapp_message_id AS m_wamid,
       n.phone_number_id AS n_phone_number_id, n.settings AS n_settings, n.access_token_encrypted AS n_token
  FROM conversations c
  JOIN contacts ct ON ct.id = c.contact_id
  LEFT JOIN whatsapp_numbers n ON n.id = c.whatsapp_number_id
  LEFT JOIN LATERAL (
       SELECT id, created_at, type, content, whatsapp_message_id FROM messages
        WHERE conversation_id = c.id AND direction = 'inbound' AND metadata->>'processed' = 'false'
        ORDER BY created_at, id LIMIT 1) m ON true
 WHERE c.id = :c
"""


async def _load(rt: Runtime, conversation_id: uuid.UUID) -> Loaded | None:
    """The conversation's next step: an unprocessed message, else a due timeout, else None."""
    async with rt.db.raw() as conn:
        row = await conn.fetchrow(*bind(_LOAD, {"c": conversation_id}))
    if row is None:
        return None
    message = None
    if row["m_id"] is not None:
        message = {"id": row["m_id"], "created_at": row["m_created_at"], "type": row["m_type"],
                   "content": row["m_content"], "wamid": row["m_wamid"]}
    fv = row["flow_variables"] or {}
    state = None
    if fv.get("state"):
        try:
            state = State.from_json(fv["state"])
        except Exception:  # noqa: BLE001 - a state we cannot read restarts the flow
            log.warning("conversation %s: unreadable state dropped", conversation_id)
    if message is None and (state is None or state.wait is None or state.wait.deadline is None
                            or state.wait.deadline_at > datetime.now(timezone.utc)):
        return None
    contact = {"id": row["contact_id"], "whatsapp_id": row["ct_whatsapp_id"],
               "whatsapp_name": row["ct_whatsapp_name"], "name": row["ct_name"], "email": row["ct_email"],
               "phone": row["ct_phone"], "tags": row["ct_tags"], "attributes": row["ct_attributes"]}
    key = (row["organization_id"], row["whatsapp_number_id"], row["chatbot_id"])
    cached = rt.chatbots.get(key)
    if cached is not None and time.monotonic() - cached[0] < rt.cache_ttl:
        chatbot, flows = cached[1], cached[2]
    else:
        async with rt.db.reading() as s:
            chatbot, flows = await _chatbot_and_flows(s, row)
        rt.chatbots[key] = (time.monotonic(), chatbot, flows)
    return Loaded(row, contact, chatbot, flows, message, state, int(fv.get("rev") or 0))


async def _chatbot_and_flows(s: Any, conv: Any) -> tuple[flow_selection.ChatbotInfo | None, list]:
    chatbot_row = await _chatbot_for(s, conv)
    if chatbot_row is None:
        return None, []
    chatbot = flow_selection.ChatbotInfo(
        id=chatbot_row["id"], welcome_message=chatbot_row["welcome_message"],
        fallback_message=chatbot_row["fallback_message"], away_message=chatbot_row["away_message"],
        auto_handoff_enabled=chatbot_row["auto_handoff_enabled"] is not False,
        handoff_keywords=tuple(chatbot_row["handoff_keywords"] or ()),
        business_hours=chatbot_row["business_hours"] or {}, settings=chatbot_row["settings"] or {})
    rows = (await s.execute(text(
        "SELECT id, name, type, trigger_keywords, whatsapp_number_id, created_at FROM flows "
        "WHERE chatbot_id = :b AND is_active IS NOT FALSE AND EXISTS (SELECT 1 FROM flow_versions v "
        "WHERE v.flow_id = flows.id AND v.version = flows.version AND v.published_at IS NOT NULL)"),
        {"b": chatbot.id})).mappings().all()
    flows = [flow_selection.FlowInfo(r["id"], r["name"], r["type"] or "main",
                                     tuple(r["trigger_keywords"] or ()), r["whatsapp_number_id"],
                                     r["created_at"]) for r in rows]
    return chatbot, flows


async def _chatbot_for(s: Any, conv: Any) -> Any:
    """The conversation's chatbot; else the number's (``settings.chatbot_id``);
    else the organization's active chatbot, preferring one with a flow for this number."""
    cols = ("id, welcome_message, fallback_message, away_message, auto_handoff_enabled, "
            "handoff_keywords, business_hours, settings")
    if conv["chatbot_id"]:
        row = (await s.execute(text(
            f"SELECT {cols} FROM chatbots WHERE id = :id AND deleted_at IS NULL AND is_active IS NOT FALSE"),
            {"id": conv["chatbot_id"]})).mappings().first()
        if row is not None:
            return row
    number_settings = (await s.execute(text(
        "SELECT settings FROM whatsapp_numbers WHERE id = :id"), {"id": conv["whatsapp_number_id"]})).scalar()
    chosen = (number_settings or {}).get("chatbot_id")
    if chosen:
        row = (await s.execute(text(
            f"SELECT {cols} FROM chatbots WHERE id = CAST(:id AS uuid) AND organization_id = :org "
            "AND deleted_at IS NULL AND is_active IS NOT FALSE"),
            {"id": str(chosen), "org": conv["organization_id"]})).mappings().first()
        if row is not None:
            return row
    return (await s.execute(text(f"""
        SELECT {cols} FROM chatbots b
         WHERE b.organization_id = :org AND b.deleted_at IS NULL AND b.is_active IS NOT FALSE
         ORDER BY EXISTS (SELECT 1 FROM flows f WHERE f.chatbot_id = b.id AND f.is_active IS NOT FALSE
                           AND (f.whatsapp_number_id IS NULL OR f.whatsapp_number_id = :number)) DESC,
                  b.is_published DESC NULLS LAST, b.created_at, b.id
         LIMIT 1"""),
        {"org": conv["organization_id"], "number": conv["whatsapp_number_id"]})).mappings().first()


def _inbound(message: Any) -> InboundMessage:
    content = message["content"] or {}
    kind = content.get("kind") or message["type"]
    mtype = {"button_reply": "button", "list_reply": "list"}.get(kind, message["type"] or "text")
    body = content.get("text") if "text" in content else content.get("caption")
    return InboundMessage(type=mtype, text=body, reply_id=content.get("reply_id"), payload=content)


def _scope(loaded: Loaded, inbound: InboundMessage | None, history: list[dict[str, str]]) -> dict[str, Any]:
    conv, contact = loaded.conversation, loaded.contact
    return {
        "contact": {
            "id": str(contact["id"]), "name": contact["name"] or contact["whatsapp_name"],
            "whatsapp_name": contact["whatsapp_name"], "phone": contact["phone"] or contact["whatsapp_id"],
            "whatsapp_id": contact["whatsapp_id"], "email": contact["email"],
            "tags": list(contact["tags"] or []), "attributes": dict(contact["attributes"] or {}),
            **{k: v for k, v in (contact["attributes"] or {}).items() if k not in ("id", "tags")},
        },
        "conversation": {"id": str(conv["id"]), "status": conv["status"], "priority": conv["priority"],
                         "tags": list(conv["tags"] or [])},
        "message": inbound.to_scope() if inbound else {},
        "history": history,
        "language": (loaded.chatbot.settings or {}).get("language") if loaded.chatbot else None,
    }


async def _history(rt: Runtime, conversation_id: uuid.UUID) -> list[dict[str, str]]:
    async with rt.db.reading() as s:
        rows = (await s.execute(text(
            "SELECT direction, content FROM messages WHERE conversation_id = :c "
            "ORDER BY created_at DESC LIMIT :n"), {"c": conversation_id, "n": HISTORY_SIZE})).all()
    out = []
    for direction, content in reversed(rows):
        body = (content or {}).get("text") or (content or {}).get("caption")
        if body:
            out.append({"role": "user" if direction == "inbound" else "assistant", "content": body})
    return out


def _ports(rt: Runtime, contact: CollectingContact) -> tuple[Ports, CollectingMessenger, CollectingHandoff]:
    messenger, handoff = CollectingMessenger(), CollectingHandoff()
    ports = Ports(messenger=messenger, http=rt.http, ai=_ai_client(rt), handoff=handoff,
                  contact=contact, clock=SystemClock())
    return ports, messenger, handoff


def _ai_client(rt: Runtime) -> Any:
    if rt.ai is None:
        rt.ai = LazyAIClient(rt.settings)
    return rt.ai


class LazyAIClient:
    """Builds the provider SDK clients on the first AI call (importing them is slow)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._client: Any = None

    async def complete(self, provider: str, model: str, **kwargs: Any) -> str:
        if self._client is None:
            from engine.adapters.ai import ProviderAIClient

            s = self.settings
            self._client = ProviderAIClient(
                openai_api_key=s.openai_api_key, openai_base_url=s.openai_base_url,
                anthropic_api_key=s.anthropic_api_key, anthropic_base_url=s.anthropic_base_url,
            )
        return await self._client.complete(provider, model, **kwargs)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _fallback(chatbot: flow_selection.ChatbotInfo) -> str | None:
    """The chatbot's fallback text; the built-in one of its language when the row holds
    none, or the database's (Portuguese) default while the chatbot speaks another language."""
    language = (chatbot.settings or {}).get("language")
    text = chatbot.fallback_message
    if text is None or (text == TEXTS[DEFAULT_LANGUAGE]["fallback_message"]
                        and language_of(language) != DEFAULT_LANGUAGE):
        return builtin(language, "fallback_message")
    return text


def _text(value: str | None) -> list[dict[str, Any]]:
    return [{"type": "text", "content": {"text": value}}] if value else []


async def _decide_and_run(rt: Runtime, loaded: Loaded, timeout: bool) -> Outcome:
    conv = loaded.conversation
    contact = CollectingContact(tags=list(loaded.contact["tags"] or []),
                                attributes=dict(loaded.contact["attributes"] or {}))
    outcome = Outcome(contact=contact, chatbot_id=loaded.chatbot.id if loaded.chatbot else None)
    store = ProgramStore(rt, loaded.chatbot.id if loaded.chatbot else None)
    now = datetime.now(timezone.utc)

    if timeout:
        ports, messenger, handoff = _ports(rt, contact)
        result = await Interpreter(ports).on_timeout(loaded.state, store.load, _scope(loaded, None, []))
        return _finish(outcome, result, messenger, handoff, loaded)

    inbound = _inbound(loaded.message)
    if (loaded.message["content"] or {}).get("kind") in ("reaction", "system"):
        # a 👍 on an earlier message, a "changed their number" notice: not an answer to anything
        outcome.keep_state = True
        outcome.status = "ignored"
        return outcome
    waiting = loaded.state is not None and loaded.state.wait is not None
    fv = conv["flow_variables"] or {}
    selection = flow_selection.select(
        bot_active=conv["is_bot_active"] is not False, chatbot=loaded.chatbot, flows=loaded.flows,
        number_id=conv["whatsapp_number_id"], text=inbound.text, waiting=waiting,
        first_message=not fv.get("welcomed"))
    outcome.run_info["selection"] = selection.action
    if selection.action == "agent":
        outcome.keep_state = True
        return outcome
    chatbot = loaded.chatbot
    assert chatbot is not None
    if selection.welcome:
        outcome.messages += _text(chatbot.welcome_message)
        outcome.welcomed = True
    if selection.action == "handoff":
        outcome.messages += _text((chatbot.settings or {}).get("handoff_message"))
        outcome.handoff = {"department": (chatbot.settings or {}).get("handoff_department"),
                           "reason": f"keyword: {selection.keyword}", "priority": None}
        _away(outcome, chatbot, now)
        outcome.status = "handoff"
        return outcome
    if selection.action == "fallback":
        outcome.messages += _text(_fallback(chatbot))
        outcome.keep_state = True
        outcome.status = "fallback"
        return outcome

    ports, messenger, handoff = _ports(rt, contact)
    interp = Interpreter(ports)
    try:
        if selection.action == "resume":
            assert loaded.state is not None
            program = await store.load(loaded.state.flow_ref, loaded.state.program_hash)
        else:
            assert selection.flow is not None
            program = await store.load(str(selection.flow.id), None)
    except LookupError as exc:
        log.warning("conversation %s: %s", conv["id"], exc)
        outcome.messages += _text(_fallback(chatbot))
        outcome.status = "error"
        outcome.run_info["error"] = str(exc)
        return outcome
    history = await _history(rt, conv["id"]) if has_ai(program) else []
    scope = _scope(loaded, inbound, history)
    if selection.action == "resume":
        result = await interp.resume(loaded.state, inbound, store.load, scope)
    else:
        outcome.run_info["flow_id"] = str(selection.flow.id)
        result = await interp.start(program, str(selection.flow.id), scope, store.load)
    return _finish(outcome, result, messenger, handoff, loaded)


def _finish(outcome: Outcome, result: RunResult, messenger: CollectingMessenger,
            handoff: CollectingHandoff, loaded: Loaded) -> Outcome:
    outcome.messages += messenger.messages
    outcome.state = result.state if result.status == "waiting" else None
    outcome.status = result.status
    outcome.wait_deadline = result.wait_deadline
    outcome.flow_id = _flow_uuid(result.state.flow_ref) if result.state is not None else None
    _record_problems(outcome, result, loaded)
    if handoff.request_made is not None:
        req = handoff.request_made
        outcome.handoff = {"department": req.department, "reason": req.reason, "priority": req.priority}
        if loaded.chatbot is not None:
            _away(outcome, loaded.chatbot, datetime.now(timezone.utc))
    return outcome


# Events a flow designer must be able to find: each is a warning log line naming the
# conversation, flow and node, and is kept on the inbound row (metadata.run).
_PROBLEMS = {"error": ("errors", "flow error"),
             "api_called": ("failed_calls", "api_call failed"),
             "ai_called": ("failed_calls", "ai_prompt failed"),
             MESSAGE_ADJUSTED: ("adjusted", "message adjusted to WhatsApp limits")}


def _record_problems(outcome: Outcome, result: RunResult, loaded: Loaded) -> None:
    for event in result.events:
        problem = _PROBLEMS.get(event.type)
        if problem is None or (event.type in ("api_called", "ai_called") and event.get("ok", True)):
            continue
        key, what = problem
        found = outcome.run_info.setdefault(key, [])
        doc = event.to_json()
        if len(found) < 5:
            found.append(doc)
        log.warning("%s: %s", what, _dumps({
            "conversation_id": str(loaded.conversation["id"]), "flow_id": outcome.run_info.get("flow_id"), **doc}))


def _away(outcome: Outcome, chatbot: flow_selection.ChatbotInfo, now: datetime) -> None:
    if chatbot.away_message and not is_open(chatbot.business_hours, now):
        outcome.messages += _text(chatbot.away_message)


def _flow_uuid(ref: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(ref))
    except (TypeError, ValueError):
        return None


async def _step(rt: Runtime, conversation_id: uuid.UUID) -> str:
    """Handle the next inbound message, or the due timeout: ``message`` | ``timeout`` |
    ``idle`` (nothing to do) | ``raced`` (someone else applied it; look again)."""
    loaded = await _load(rt, conversation_id)
    if loaded is None:
        return "idle"
    timeout = loaded.message is None
    try:
        outcome = await _decide_and_run(rt, loaded, timeout)
    except Exception as exc:  # noqa: BLE001 - a poison message must not block the conversation
        log.exception("conversation %s: run failed", conversation_id)
        # the message is marked processed with the error; a crashing timeout drops the wait
        outcome = Outcome(keep_state=not timeout, status="crashed", run_info={"error": repr(exc)[:500]})
    ids = await _commit(rt, loaded, outcome)
    if ids is None:
        return "raced"
    if ids:
        if rt.deliver is not None:  # a worker: send from here, no queue round trip
            conv = loaded.conversation
            hint = None
            if conv["n_phone_number_id"] and loaded.contact["whatsapp_id"]:
                hint = SendHint(conv["n_phone_number_id"], loaded.contact["whatsapp_id"], conv["n_settings"] or {},
                                len(ids))
            rt.deliver(conversation_id, hint)
        else:
            await kick_sender(rt.redis, ids)
    if _reads_receipted(loaded, outcome):
        await _mark_read(rt, loaded)
    if outcome.wait_deadline is not None and outcome.state is not None:
        await rt.redis.zadd(TIMEOUTS_KEY, {str(conversation_id): outcome.wait_deadline.timestamp()})
    if not outcome.more and not outcome.keep_state:
        return "last"  # (a kept state might hold a due timeout: let the reload see it)
    return "timeout" if timeout else "message"


def _reads_receipted(loaded: Loaded, outcome: Outcome) -> bool:
    """A read receipt for this step's message: the number asks for them
    (``settings.mark_as_read``) and the bot handled the message. A message left
    to agents is marked read when an agent reads it, not here; a reaction is
    not a message to read."""
    conv = loaded.conversation
    if loaded.message is None or not loaded.message.get("wamid") or not conv["n_phone_number_id"]:
        return False
    if not (conv["n_settings"] or {}).get("mark_as_read"):
        return False
    return outcome.run_info.get("selection") != "agent" and outcome.status != "ignored"


async def _mark_read(rt: Runtime, loaded: Loaded) -> None:
    conv, wamid = loaded.conversation, loaded.message["wamid"]
    if rt.mark_read is not None:  # a worker: in the background, next to the reply's send
        rt.mark_read(conv["n_phone_number_id"], conv["n_token"], wamid)
        return
    await Sender(rt).mark_read(conv["n_phone_number_id"], conv["n_token"], wamid)


class _Raced(Exception):
    """The step was applied by someone else (or the state moved): roll back."""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


# A deadlock (the webhook locks contact then conversation; a step that changes
# both may take them the other way round) or a serialization failure aborts
# the step's statement as a whole: it is safe to run again, and it must not
# turn the customer's message into a "crashed" run.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
TRANSIENT_RETRIES = 4


async def _commit(rt: Runtime, loaded: Loaded, outcome: Outcome) -> list[uuid.UUID] | None:
    """Apply the step in one transaction; None when it was already applied elsewhere."""
    try:
        for attempt in range(TRANSIENT_RETRIES + 1):
            try:
                return await _apply(rt, loaded, outcome)
            except asyncpg.PostgresError as exc:
                if getattr(exc, "sqlstate", None) not in TRANSIENT_SQLSTATES or attempt == TRANSIENT_RETRIES:
                    raise
                log.info("conversation %s: %s, applying the step again", loaded.conversation["id"], exc.sqlstate)
                await asyncio.sleep(random.uniform(0.005, 0.02) * 2 ** attempt)
        raise AssertionError("unreachable")
    except _Raced:
        return None
    except (SQLAlchemyError, asyncpg.PostgresError, asyncpg.exceptions.DataError) as exc:
        if loaded.message is None:
            raise
        # effects that cannot be written (a bad value from the flow): record the
        # error on the message and move on, rather than retrying it forever
        log.exception("conversation %s: cannot apply the run", conv_id := loaded.conversation["id"])
        async with rt.db.transaction() as s:
            await s.execute(text(
                "UPDATE messages SET metadata = metadata || CAST(:info AS jsonb) "
                "WHERE id = :id AND created_at = :at AND metadata->>'processed' = 'false'"),
                {"info": _dumps({"processed": True, "run": {"status": "crashed", "error": repr(exc)[:500]}}),
                 "id": loaded.message["id"], "at": loaded.message["created_at"]})
        log.debug("conversation %s: message marked processed with the error", conv_id)
        return []


_RACED = "pytake-raced:"

# The first ad referral (``whatsapp_referral``) is written by the webhook only:
# a step that loaded the row before it arrived must not write it away.
def _keep_referral(column: str) -> str:
    return (f"CASE WHEN {column} ? '{REFERRAL_KEY}' THEN jsonb_build_object('{REFERRAL_KEY}', "
            f"{column}->'{REFERRAL_KEY}') ELSE '{{}}'::jsonb END")


async def _apply(rt: Runtime, loaded: Loaded, outcome: Outcome) -> list[uuid.UUID]:
    """The step's effects in ONE statement (atomic on its own: no BEGIN/COMMIT
    round trips): mark the inbound row processed if it still is unprocessed,
    write the conversation if its state revision is the one the run started
    from, the contact changes and the outbox rows. If either guard fails the
    statement raises (a cast of a ``pytake-raced:`` marker), so nothing of it
    is applied, and `_Raced` is raised here."""
    conv = loaded.conversation
    now = datetime.now(timezone.utc)
    rows = outbound_rows(conv["id"], outcome.messages, metadata={"source": "flow"})
    params: dict[str, Any] = {"c": conv["id"], "rev": loaded.rev}
    ctes: list[str] = []
    checks = ["(SELECT count(*) FROM conv) = 1"]
    if loaded.message is not None:
        info = {"processed": True, "processed_at": now.isoformat(), "run": {
            "status": outcome.status, **outcome.run_info, "outbound": len(rows)}}
        ctes.append("marked AS (UPDATE messages SET metadata = metadata || CAST(:info AS jsonb) "
                    "WHERE id = :mid AND created_at = :mat AND metadata->>'processed' = 'false' RETURNING id)")
        params.update(info=_dumps(info), mid=loaded.message["id"], mat=loaded.message["created_at"])
        checks.append("(SELECT count(*) FROM marked) = 1")

    fv = dict(conv["flow_variables"] or {})
    fv["rev"] = loaded.rev + 1
    if outcome.welcomed:
        fv["welcomed"] = True
    assignments = ["updated_at = now()"]
    if not outcome.keep_state:
        fv["state"] = outcome.state.to_json() if outcome.state is not None else None
        if outcome.state is not None:
            fv["vars"] = outcome.state.vars
            fv["wait_deadline"] = outcome.wait_deadline.isoformat() if outcome.wait_deadline else None
        else:
            fv.pop("wait_deadline", None)
        node_id = None
        if outcome.state is not None and outcome.state.wait is not None and outcome.flow_id:
            node_id = await _node_id(rt, outcome.flow_id, outcome.state.wait.node)
        assignments += ["current_flow_id = :flow", "current_node_id = :node"]
        params.update(flow=outcome.flow_id if outcome.state is not None else None, node=node_id)
    # the ad referral the webhook may have stored since the load (api/inbound/ingest.py) is kept
    assignments.append(f"flow_variables = CAST(:fv AS jsonb) || {_keep_referral('flow_variables')}")
    params["fv"] = _dumps(fv)
    if rows:
        assignments.append("message_count = COALESCE(message_count, 0) + :n")
        # last activity: the customer's message, which the webhook wrote, stays it when
        # the bot answers it milliseconds later; a message the bot sends on its own (a
        # timeout) moves it. Left alone, no indexed column changes here, so this update
        # is HOT (no entry in the table's 14 indexes) whenever its page has room.
        if loaded.message is None:
            assignments.append("last_message_at = now()")
        params["n"] = len(rows)
    if outcome.chatbot_id and not conv["chatbot_id"]:
        assignments.append("chatbot_id = :bot")
        params["bot"] = outcome.chatbot_id
    contact = outcome.contact
    if contact is not None and contact.priority:
        assignments.append("priority = :priority")
        params["priority"] = contact.priority
    if contact is not None and contact.closed:
        assignments += ["status = 'closed'", "resolved_at = now()"]
    if outcome.handoff is not None:
        dept = await _department(rt, conv["organization_id"], outcome.handoff.get("department"))
        assignments += ["is_bot_active = false", "status = 'waiting_in_queue'", "entered_queue_at = now()",
                        "handoff_at = now()", "handoff_reason = :reason", "department_id = :dept"]
        params.update(reason=outcome.handoff.get("reason"), dept=dept)
        if outcome.handoff.get("priority"):
            assignments.append("priority = :hpriority")
            params["hpriority"] = outcome.handoff["priority"]
    ctes.append(f"conv AS (UPDATE conversations SET {', '.join(assignments)} WHERE id = :c "
                "AND COALESCE((flow_variables->>'rev')::int, 0) = :rev RETURNING id)")

    if contact is not None and contact.changed:
        ctes.append("contact AS (UPDATE contacts SET tags = :tags, attributes = CAST(:attrs AS jsonb) || "
                    f"{_keep_referral('attributes')}, "
                    "name = COALESCE(:name, name), email = COALESCE(:email, email), updated_at = now() "
                    "WHERE id = :contact_id)")
        params.update(tags=contact.tags, attrs=_dumps(contact.attributes), contact_id=loaded.contact["id"],
                      name=contact.columns.get("name"), email=contact.columns.get("email"))
    if rows:
        ctes.append(
            "outbox AS (INSERT INTO messages (id, conversation_id, direction, sender_type, type, content, status, "
            "metadata, created_at) SELECT id, :c, 'outbound', 'bot', type, content, 'pending', "
            "CAST(:out_meta AS jsonb), created_at FROM unnest(CAST(:out_ids AS uuid[]), CAST(:out_types AS text[]), "
            "CAST(:out_contents AS jsonb[]), CAST(:out_ats AS timestamptz[])) AS o(id, type, content, created_at))")
        params.update(out_ids=[r["id"] for r in rows], out_types=[r["type"] for r in rows],
                      out_contents=[_dumps(r["content"]) for r in rows], out_ats=[r["created_at"] for r in rows],
                      out_meta=_dumps({"source": "flow"}))
    # the statement's snapshot predates its own writes: the row it marks still looks unprocessed
    others = " AND id <> :mid" if loaded.message is not None else ""
    statement = (f"WITH {', '.join(ctes)} SELECT CASE WHEN {' AND '.join(checks)} THEN 1 "
                 f"ELSE CAST('{_RACED}' || (SELECT count(*) FROM conv) AS int) END, "
                 "EXISTS (SELECT 1 FROM messages WHERE conversation_id = :c AND direction = 'inbound' "
                 f"AND metadata->>'processed' = 'false'{others})")
    try:
        async with rt.db.raw() as conn:
            outcome.more = bool((await conn.fetchrow(*bind(statement, params)))[1])
    except (asyncpg.PostgresError, DBAPIError) as exc:
        if _RACED in str(exc):
            raise _Raced() from None
        raise
    return [r["id"] for r in rows]


async def _node_id(rt: Runtime, flow_id: uuid.UUID, canvas_id: str) -> uuid.UUID | None:
    """``nodes.id`` of a canvas node (stable across saves, so cached per process)."""
    key = (flow_id, canvas_id)
    if key not in rt.node_ids:
        async with rt.db.reading() as s:
            rt.node_ids[key] = (await s.execute(text(
                "SELECT id FROM nodes WHERE flow_id = :f AND settings->>'canvas_id' = :n LIMIT 1"),
                {"f": flow_id, "n": canvas_id})).scalar()
    return rt.node_ids[key]


async def _department(rt: Runtime, organization_id: uuid.UUID, ref: str | None) -> uuid.UUID | None:
    if not ref:
        return None
    async with rt.db.reading() as s:
        return await _department_in(s, organization_id, ref)


async def _department_in(s: Any, organization_id: uuid.UUID, ref: str) -> uuid.UUID | None:
    dept_id = _flow_uuid(ref)
    if dept_id is not None:
        found = (await s.execute(text(
            "SELECT id FROM departments WHERE id = :id AND organization_id = :org"),
            {"id": dept_id, "org": organization_id})).scalar()
        if found:
            return found
    return (await s.execute(text(
        "SELECT id FROM departments WHERE organization_id = :org AND lower(name) = lower(:name) LIMIT 1"),
        {"org": organization_id, "name": str(ref)})).scalar()
