"""The outbox: outbound `messages` rows with status ``pending``.

Whoever wants a message sent (the flow runtime, an agent reply, a campaign)
inserts a row in its own transaction, commits, then calls `kick_sender` so a
sender worker picks it up at once. A missed kick only delays delivery: the
maintenance sweep finds pending rows nobody kicked.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

import redis.asyncio as aioredis
from sqlalchemy import insert

from api.db.models import Message
from api.workers.queue import HIGH, SEND_OUTBOX, enqueue
from engine.whatsapp_limits import fit

log = logging.getLogger("pytake.runtime.outbox")


async def kick_sender(redis: aioredis.Redis, message_ids: Iterable[Any], *, lane: str = HIGH) -> None:
    """Wake a sender for these (committed) outbound message ids.

    A reply in a live conversation (the processor's, an agent's, a greeting) is
    conversation traffic and rides the high lane: a flood of bulk sends never
    sits in front of it. Bulk sends (campaigns) pass ``lane=LOW``."""
    ids = [str(i) for i in message_ids]
    if ids:
        await enqueue(redis, SEND_OUTBOX, ids, lane=lane)


def outbound_rows(conversation_id: uuid.UUID, messages: list[dict[str, Any]], *,
                  sender_type: str = "bot", sender_id: uuid.UUID | None = None,
                  metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Row values for ``messages`` (``{"type", "content"}`` each), in send order.

    ``created_at`` grows by a microsecond per row: it is the send order of a
    conversation's outbox, even for rows written in one transaction. Every
    message is fitted to WhatsApp's limits first (`fit_messages`).
    """
    messages = fit_messages(conversation_id, messages)
    base = datetime.now(timezone.utc)
    return [{
        "id": uuid.uuid4(),
        "conversation_id": conversation_id,
        "direction": "outbound",
        "sender_type": sender_type,
        "sender_id": sender_id,
        "type": m["type"],
        "content": m["content"],
        "status": "pending",
        "metadata_": dict(metadata or {}),
        "created_at": base + timedelta(microseconds=i),
    } for i, m in enumerate(messages)]


def fit_messages(conversation_id: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` within Meta's limits (engine/whatsapp_limits.py). The flow
    engine fits what it sends already (and reports it as a ``message_adjusted``
    event); this catches every other source (a chatbot's welcome, fallback or
    away text...), logging what it changed."""
    out: list[dict[str, Any]] = []
    for m in messages:
        fitted, adjustments = fit(m["type"], m["content"])
        if adjustments:
            log.warning("message adjusted to WhatsApp limits: %s", json.dumps(
                {"conversation_id": str(conversation_id), "type": m["type"], "adjustments": adjustments},
                ensure_ascii=False))
        if len(fitted) == 1 and fitted[0][1] is m["content"]:
            out.append(m)
        else:
            out.extend({"type": t, "content": c} for t, c in fitted)
    return out


async def insert_outbound(session: Any, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    if rows:
        await session.execute(insert(Message), rows)
    return [r["id"] for r in rows]
