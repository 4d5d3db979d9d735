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
- each message is one step: `load` (the SQL reads, api/conversations/load.py)
  → `decide` (flow selection and the engine, which may call APIs and AI, with
  no transaction open; a `Decision`, api/conversations/decide.py) → `apply`
  (ONE guarded statement that checks that the message is still unprocessed
  and the state unchanged, so a lease that expired under a slow run cannot
  apply twice, then writes the outbox rows, the new state, contact and
  conversation changes, the handoff and the step's domain events, and marks
  the message processed: api/conversations/apply.py). The sender is kicked
  after it; in a worker it sends from this process, and a step that sends
  takes the sender's lease and rate-limit sends before its statement, which
  then claims the first reply itself (`_reserve`).

A question's reply timeout is checked the same way: the maintenance loop
wakes conversations whose wait deadline passed, and the holder of the lease
runs `Interpreter.on_timeout`.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from api import log_context
from api.analytics.path import PathCounter, record_path
from api.conversations import load
from api.conversations.apply import Applied, apply
from api.conversations.decide import Decision, crashed, decide
from api.conversations.load import Loaded, load_step
from api.outbox.enqueue import kick_sender
from api.outbox.locks import conversation_lease, lease_ms
from api.outbox.sender import Reservation, SendHint, Sender
from api.runtime_context import Runtime

log = logging.getLogger("pytake.runtime.processor")

TIMEOUTS_KEY = "runtime:timeouts"


async def process_conversation(rt: Runtime, conversation_id: Any) -> int:
    """Handle every unprocessed inbound message of a conversation; the count handled here.
    Its log lines carry ``conversation_id`` (and ``organization_id`` once loaded: api/log_context.py)."""
    conversation_id = uuid.UUID(str(conversation_id))
    with log_context.bind(conversation_id=conversation_id, organization_id=None):
        return await _process(rt, conversation_id)


async def _process(rt: Runtime, conversation_id: uuid.UUID) -> int:
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
        if not lease.missed or not await load.has_unprocessed(rt, conversation_id):
            return handled


async def _step(rt: Runtime, conversation_id: uuid.UUID) -> str:
    """Handle the next inbound message, or the due timeout: ``message`` | ``timeout`` |
    ``idle`` (nothing to do) | ``raced`` (someone else applied it; look again) |
    ``last`` (handled, and nothing was left to do as the write saw it)."""
    loaded = await load_step(rt, conversation_id)
    if loaded is None:
        return "idle"
    log_context.organization_id.set(loaded.conversation["organization_id"])  # reset by the caller's bind
    try:
        decision = await decide(rt, loaded)
    except Exception as exc:  # noqa: BLE001 - a poison message must not block the conversation
        log.exception("conversation %s: run failed", conversation_id)
        decision = crashed(loaded, exc)
    reserved = await _reserve(rt, loaded, decision)
    try:
        applied = await apply(rt, loaded, decision, reserved.claim if reserved is not None else None)
    except BaseException:
        if reserved is not None:
            await reserved.release()
        raise
    if applied is None or not applied.ids:
        if reserved is not None:
            await reserved.release()
        if applied is None:
            return "raced"
    if decision.path_counts:
        await _count_path(rt, loaded, decision)
    if applied.ids:
        if rt.delivery is not None:  # a worker: send from here, no queue round trip
            _deliver(rt, loaded, applied, reserved)
        else:
            await kick_sender(rt.redis, applied.ids)
    if _reads_receipted(loaded, decision):
        await _mark_read(rt, loaded)
    if decision.wait_deadline is not None and decision.state is not None:
        await rt.redis.zadd(TIMEOUTS_KEY, {str(conversation_id): decision.wait_deadline.timestamp()})
    if not applied.more and not decision.keep_state:
        return "last"  # (a kept state might hold a due timeout: let the reload see it)
    return "timeout" if loaded.message is None else "message"


async def _count_path(rt: Runtime, loaded: Loaded, decision: Decision) -> None:
    """The applied step's path counts (api/analytics); Redis failing costs the counts, not the step."""
    org = loaded.conversation["organization_id"]
    try:
        if rt.settings.redis_url:
            if rt.path_counter is None:
                rt.path_counter = PathCounter(rt.settings.redis_url)
            rt.path_counter.add(org, decision.path_counts)  # type: ignore[arg-type]
        else:
            await record_path(rt.redis, org, decision.path_counts)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001
        log.warning("conversation %s: path counts not recorded", loaded.conversation["id"], exc_info=True)


async def _reserve(rt: Runtime, loaded: Loaded, decision: Decision) -> Reservation | None:
    """In a worker, for a step that sends: the sender's lease and sends, taken before the
    step is written so that its statement claims the first row (`apply`'s ``claim``) and
    the sender sends it right after the commit. None: not a worker, nothing to send, no
    number or recipient, or another sender holds the conversation's lease."""
    conv = loaded.conversation
    if rt.delivery is None or not decision.messages or not conv["n_phone_number_id"] \
            or not loaded.contact["whatsapp_id"]:
        return None
    return await rt.delivery.reserve(conv["id"], SendHint(  # type: ignore[attr-defined]
        conv["n_phone_number_id"], loaded.contact["whatsapp_id"], conv["n_settings"] or {}, len(decision.messages)))


def _deliver(rt: Runtime, loaded: Loaded, applied: Applied, reserved: Reservation | None) -> None:
    """Hand the new outbox rows to the worker's sender: with what `_reserve` took (the step's
    rows as the sender reads them when its statement claimed the first), else a hint that
    saves the sender a round trip."""
    conv = loaded.conversation
    if reserved is not None:
        if applied.claimed:
            reserved.rows = _sender_rows(loaded, applied, reserved)
        rt.delivery.deliver(conv["id"], None, reserved)  # type: ignore[union-attr]
        return
    hint = None
    if conv["n_phone_number_id"] and loaded.contact["whatsapp_id"]:
        hint = SendHint(conv["n_phone_number_id"], loaded.contact["whatsapp_id"], conv["n_settings"] or {},
                        len(applied.ids))
    rt.delivery.deliver(conv["id"], hint)  # type: ignore[union-attr]


def _sender_rows(loaded: Loaded, applied: Applied, reserved: Reservation) -> list[dict[str, Any]]:
    """The step's outbound rows as the sender's read returns them (`api.outbox.sender.pending_rows`),
    the first claimed by the step's statement (its ``claimed_attempt``)."""
    conv, contact = loaded.conversation, loaded.contact
    out = []
    for i, row in enumerate(applied.rows):
        metadata = {**row["metadata_"], **((reserved.claim or {}) if i == 0 else {})}
        out.append({
            "id": row["id"], "created_at": row["created_at"], "type": row["type"], "content": row["content"],
            "metadata": metadata, "conversation_id": conv["id"], "sender_type": "bot",
            "organization_id": conv["organization_id"], "contact_id": contact["id"],
            "window_expires": conv["twenty_four_hour_window_expires_at"], "wa_id": contact["whatsapp_id"],
            "phone_number_id": conv["n_phone_number_id"], "access_token_encrypted": conv["n_token"],
            "number_settings": conv["n_settings"] or {}, "number_gone": None,
            "claimed_attempt": reserved.claim["sending_attempt"] if i == 0 and reserved.claim else None})
    return out


def _reads_receipted(loaded: Loaded, decision: Decision) -> bool:
    """A read receipt for this step's message: the number asks for them
    (``settings.mark_as_read``) and the bot handled the message. A message left
    to agents is marked read when an agent reads it, not here; a reaction is
    not a message to read."""
    conv = loaded.conversation
    if loaded.message is None or not loaded.message.get("wamid") or not conv["n_phone_number_id"]:
        return False
    if not (conv["n_settings"] or {}).get("mark_as_read"):
        return False
    return decision.run_info.get("selection") != "agent" and decision.status != "ignored"


async def _mark_read(rt: Runtime, loaded: Loaded) -> None:
    conv, wamid = loaded.conversation, loaded.message["wamid"]
    if rt.mark_read is not None:  # a worker: in the background, next to the reply's send
        rt.mark_read(conv["n_phone_number_id"], conv["n_token"], wamid)
        return
    await Sender(rt).mark_read(conv["n_phone_number_id"], conv["n_token"], wamid)


