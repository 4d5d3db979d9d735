"""Apply: a `Decision` becomes ONE guarded statement, with the domain events of the change.

The statement (atomic on its own: no BEGIN/COMMIT round trips) marks the
inbound row processed if it still is unprocessed, writes the conversation if
its state revision is the one the run started from, the contact changes, the
outbox rows and the step's domain events (api/events: ``flow.started``,
``flow.completed``, ``flow.error``, ``conversation.handoff``,
``conversation.closed``, ``contact.updated``; ordering key the
conversation). If either guard fails the statement raises (a cast of a
``pytake-raced:`` marker), so nothing of it is applied, events included, and
`apply` returns None. A deadlock or serialization failure runs it again; a
value the database refuses marks the message processed with the error
("crashed") rather than retrying it forever.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from api.conversations import load
from api.conversations.decide import Decision
from api.conversations.load import Loaded
from api.db.session import bind
from api.events import EVENTS_JSON_CTE, NewEvent, cte_json_params, event
from api.events.emit import dumps
from api.events.catalogue import contact_updated_payload, conversation_payload, flow_payload, handoff_payload
from api.whatsapp.payloads import REFERRAL_KEY
from api.outbox.enqueue import outbound_rows
from api.outbox.sender import WAITING
from api.runtime_context import Runtime

log = logging.getLogger("pytake.conversations.apply")

# A deadlock (the webhook locks contact then conversation; a step that changes
# both may take them the other way round) or a serialization failure aborts
# the step's statement as a whole: it is safe to run again, and it must not
# turn the customer's message into a "crashed" run.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
TRANSIENT_RETRIES = 4
STARTED_AT = "flow_started_at"  # flow_variables: when the running flow started (flow.completed's duration)


@dataclass(frozen=True, slots=True)
class Applied:
    ids: list[uuid.UUID]  # the outbox rows written (the sender is kicked for them)
    more: bool  # unprocessed inbound rows remain (as of the statement's snapshot)
    rows: list[dict[str, Any]] = field(default_factory=list)  # those rows' values (`outbound_rows`)
    claimed: bool = False  # the first row was claimed by the step's statement (`apply`'s ``claim``)


class _Raced(Exception):
    """The step was applied by someone else (or the state moved): roll back."""


def _dumps(value: Any) -> str:
    """JSON text for a jsonb parameter: orjson (the stdlib for what it refuses), as the
    events' payloads (`api.events.emit.dumps`); jsonb keeps the same value either way."""
    return dumps(value)


async def apply(rt: Runtime, loaded: Loaded, decision: Decision,
                claim: dict[str, Any] | None = None) -> Applied | None:
    """Apply the step in one statement; None when it was already applied elsewhere.
    ``claim``: the sender's claim (``claim_token``, ``claimed_at``, ``sending_attempt``;
    `api.outbox.sender.Reservation`) the statement puts on the first outbound row when
    that row may go now (`_FIRST_MAY_GO`): the sender then sends it without reading and
    claiming it in a statement of its own (``Applied.claimed``)."""
    try:
        for attempt in range(TRANSIENT_RETRIES + 1):
            try:
                return await _write(rt, loaded, decision, claim)
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
        return Applied([], True)


_RACED = "pytake-raced:"


# The first ad referral (``whatsapp_referral``) is written by the webhook only:
# a step that loaded the row before it arrived must not write it away.
def _keep_referral(column: str) -> str:
    return (f"CASE WHEN {column} ? '{REFERRAL_KEY}' THEN jsonb_build_object('{REFERRAL_KEY}', "
            f"{column}->'{REFERRAL_KEY}') ELSE '{{}}'::jsonb END")


QUEUE_FULL = "queue_full"
DEFAULT_QUEUE_FULL_MESSAGE = ("Nossa fila de atendimento está cheia no momento. "
                              "Por favor, tente novamente em alguns minutos.")


async def _unless_queue_full(rt: Runtime, loaded: Loaded, decision: Decision,
                             dept: uuid.UUID | None) -> Decision:
    """A handoff to a department whose queue holds ``max_queue_size`` conversations does not
    happen: the bot keeps the conversation, the handoff's own words ("an agent will be with
    you") are not sent, the customer gets the chatbot's ``settings.queue_full_message`` (or
    `DEFAULT_QUEUE_FULL_MESSAGE`) and the step reports a ``flow.error`` with code ``queue_full``."""
    if decision.handoff is None or dept is None:
        return decision
    limit = await load.queue_is_full(rt, dept, loaded.conversation["id"])
    if limit is None:
        return decision
    settings = (loaded.chatbot.settings if loaded.chatbot is not None else None) or {}
    text_ = str(settings.get("queue_full_message") or DEFAULT_QUEUE_FULL_MESSAGE)
    dropped = set(decision.handoff_messages)
    messages = [m for i, m in enumerate(decision.messages) if i not in dropped]
    messages.append({"type": "text", "content": {"text": text_}})
    department = decision.handoff.get("department")
    error = {"node": None, "code": QUEUE_FULL,
             "message": f"handoff to {department!r} refused: its queue is full ({limit} waiting, max_queue_size)"}
    log.info("conversation %s: %s", loaded.conversation["id"], error["message"])
    return replace(decision, handoff=None, handoff_messages=[], messages=messages,
                   errors=[*decision.errors, error], run_info={**decision.run_info, QUEUE_FULL: True})


# The first outbound row of a step may be claimed by the step's own statement when the
# sender would claim it at once: no older row of the conversation waits to be sent (the
# statement's snapshot: its own rows are not in it), the conversation's number is there and
# active, and the row is a template or the 24-hour window is open. The sender's other
# checks (the access token, the rate limits) were made before the statement.
_FIRST_MAY_GO = f"""first_may_go AS (
  SELECT NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = :c AND {WAITING})
         AND EXISTS (SELECT 1 FROM conversations c JOIN whatsapp_numbers n ON n.id = c.whatsapp_number_id
                      WHERE c.id = :c AND n.deleted_at IS NULL AND n.is_active IS NOT FALSE
                        AND (CAST(:first_type AS text) = 'template' OR c.twenty_four_hour_window_expires_at > now()))
         AS ok
)"""


async def _write(rt: Runtime, loaded: Loaded, decision: Decision, claim: dict[str, Any] | None = None) -> Applied:
    conv = loaded.conversation
    now = datetime.now(timezone.utc)
    dept = None
    if decision.handoff is not None:
        dept = await load.department(rt, conv["organization_id"], decision.handoff.get("department"))
        decision = await _unless_queue_full(rt, loaded, decision, dept)
    rows = outbound_rows(conv["id"], decision.messages, metadata={"source": "flow"})
    params: dict[str, Any] = {"c": conv["id"], "rev": loaded.rev}
    ctes: list[str] = []
    checks = ["(SELECT count(*) FROM conv) = 1"]
    if loaded.message is not None:
        info = {"processed": True, "processed_at": now.isoformat(), "run": {
            "status": decision.status, **decision.run_info, "outbound": len(rows)}}
        ctes.append("marked AS (UPDATE messages SET metadata = metadata || CAST(:info AS jsonb) "
                    "WHERE id = :mid AND created_at = :mat AND metadata->>'processed' = 'false' RETURNING id)")
        params.update(info=_dumps(info), mid=loaded.message["id"], mat=loaded.message["created_at"])
        checks.append("(SELECT count(*) FROM marked) = 1")

    fv = dict(conv["flow_variables"] or {})
    fv["rev"] = loaded.rev + 1
    started_at = now if decision.started else fv.pop(STARTED_AT, None) if decision.completed else None
    if decision.started and not decision.completed:
        fv[STARTED_AT] = now.isoformat()
    if decision.welcomed:
        fv["welcomed"] = True
    assignments = ["updated_at = now()"]
    if not decision.keep_state:
        fv["state"] = decision.state.to_json() if decision.state is not None else None
        if decision.state is not None:
            fv["vars"] = decision.state.vars
            fv["wait_deadline"] = decision.wait_deadline.isoformat() if decision.wait_deadline else None
        else:
            fv.pop("wait_deadline", None)
        node_id = None
        if decision.state is not None and decision.state.wait is not None and decision.flow_id:
            node_id = await load.node_id(rt, decision.flow_id, decision.state.wait.node)
        assignments += ["current_flow_id = :flow", "current_node_id = :node"]
        params.update(flow=decision.flow_id if decision.state is not None else None, node=node_id)
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
    if decision.chatbot_id and not conv["chatbot_id"]:
        assignments.append("chatbot_id = :bot")
        params["bot"] = decision.chatbot_id
    if decision.priority:
        assignments.append("priority = :priority")
        params["priority"] = decision.priority
    if decision.closed:
        assignments += ["status = 'closed'", "resolved_at = now()"]
    if decision.handoff is not None:
        assignments += ["is_bot_active = false", "status = 'waiting_in_queue'", "entered_queue_at = now()",
                        "handoff_at = now()", "handoff_reason = :reason", "department_id = :dept"]
        params.update(reason=decision.handoff.get("reason"), dept=dept)
        if decision.handoff.get("priority"):
            assignments.append("priority = :hpriority")
            params["hpriority"] = decision.handoff["priority"]
    ctes.append(f"conv AS (UPDATE conversations SET {', '.join(assignments)} WHERE id = :c "
                "AND COALESCE((flow_variables->>'rev')::int, 0) = :rev RETURNING id)")

    contact = decision.contact
    if contact is not None:
        ctes.append("contact AS (UPDATE contacts SET tags = :tags, attributes = CAST(:attrs AS jsonb) || "
                    f"{_keep_referral('attributes')}, "
                    "name = COALESCE(:name, name), email = COALESCE(:email, email), updated_at = now() "
                    "WHERE id = :contact_id)")
        params.update(tags=contact["tags"], attrs=_dumps(contact["attributes"]), contact_id=loaded.contact["id"],
                      name=decision.contact_changes.get("name"), email=decision.contact_changes.get("email"))
    claiming = bool(rows) and claim is not None
    if rows:
        meta = "CAST(:out_meta AS jsonb)"
        if claiming:
            ctes.append(_FIRST_MAY_GO)
            meta = (f"CASE WHEN o.n = 1 AND (SELECT ok FROM first_may_go) THEN {meta} || CAST(:claim AS jsonb) "
                    f"ELSE {meta} END")
            params.update(first_type=rows[0]["type"], claim=_dumps(claim))
        ctes.append(
            "outbox AS (INSERT INTO messages (id, conversation_id, direction, sender_type, type, content, status, "
            f"metadata, created_at) SELECT id, :c, 'outbound', 'bot', type, content, 'pending', {meta}, created_at "
            "FROM unnest(CAST(:out_ids AS uuid[]), CAST(:out_types AS text[]), CAST(:out_contents AS jsonb[]), "
            "CAST(:out_ats AS timestamptz[])) WITH ORDINALITY AS o(id, type, content, created_at, n))")
        params.update(out_ids=[r["id"] for r in rows], out_types=[r["type"] for r in rows],
                      out_contents=[_dumps(r["content"]) for r in rows], out_ats=[r["created_at"] for r in rows],
                      out_meta=_dumps({"source": "flow"}))
    events = domain_events(loaded, decision, department_id=dept, started_at=started_at, now=now)
    if events:
        ctes.append(EVENTS_JSON_CTE)
        params.update(cte_json_params(events))
    # the statement's snapshot predates its own writes: the row it marks still looks unprocessed
    others = " AND id <> :mid" if loaded.message is not None else ""
    statement = (f"WITH {', '.join(ctes)} SELECT CASE WHEN {' AND '.join(checks)} THEN 1 "
                 f"ELSE CAST('{_RACED}' || (SELECT count(*) FROM conv) AS int) END, "
                 "EXISTS (SELECT 1 FROM messages WHERE conversation_id = :c AND direction = 'inbound' "
                 f"AND metadata->>'processed' = 'false'{others})"
                 + (", (SELECT ok FROM first_may_go)" if claiming else ""))
    try:
        async with rt.db.raw() as conn:
            answer = await conn.fetchrow(*bind(statement, params))
    except (asyncpg.PostgresError, DBAPIError) as exc:
        if _RACED in str(exc):
            raise _Raced() from None
        raise
    return Applied([r["id"] for r in rows], bool(answer[1]), rows, claiming and bool(answer[2]))


def domain_events(loaded: Loaded, decision: Decision, *, department_id: uuid.UUID | None,
                  started_at: Any, now: datetime) -> list[NewEvent]:
    """The step's domain events (docs/runtime.md "Domain events"), ordered by the conversation."""
    conv = loaded.conversation
    org, key, contact_id = conv["organization_id"], conv["id"], loaded.contact["id"]
    out: list[NewEvent] = []
    flow = decision.flow or {}  # a run that crashed before a flow was chosen: no flow

    base: dict[str, Any] | None = None  # the flow run's part of every flow.* payload, built once

    def flow_event(kind: str, **details: Any) -> None:
        nonlocal base
        if base is None:
            base = flow_payload(flow, conversation_id=key, contact_id=contact_id)
        out.append(event(org, kind, {**base, **details}, key))

    if decision.started:
        flow_event("flow.started")
    if decision.path or decision.ai:  # what the run did, for the log store (api/logstore)
        flow_event("flow.step", path=decision.path, ai=decision.ai)
    if decision.contact is not None:
        contact = {**loaded.contact, **decision.contact}
        for column in ("name", "email"):  # a flow that blanks a column leaves it (COALESCE above)
            if contact.get(column) is None:
                contact[column] = loaded.contact[column]
        out.append(event(org, "contact.updated", contact_updated_payload(contact, decision.contact_changes), key))
    if decision.handoff is not None or decision.closed:
        after = dict(conv)
        if decision.priority:
            after["priority"] = decision.priority
        if decision.closed:
            after["status"] = "closed"
            out.append(event(org, "conversation.closed", {**conversation_payload(after), "closed_by": "flow"}, key))
        if decision.handoff is not None:
            handoff = decision.handoff
            after.update(status="waiting_in_queue", is_bot_active=False, department_id=department_id,
                         priority=handoff.get("priority") or after.get("priority"))
            out.append(event(org, "conversation.handoff", handoff_payload(
                after, department=handoff.get("department"), department_id=department_id,
                reason=handoff.get("reason"), priority=handoff.get("priority")), key))
    for error in decision.errors:
        flow_event("flow.error", node=error.get("node"),
                   error={"code": error.get("code"), "message": error.get("message")})
    if decision.completed:
        duration = None
        if started_at is not None:
            began = started_at if isinstance(started_at, datetime) else datetime.fromisoformat(started_at)
            duration = max(0, round((now - began).total_seconds() * 1000))
        flow_event("flow.completed", outcome=decision.status, duration_ms=duration)
    return out
