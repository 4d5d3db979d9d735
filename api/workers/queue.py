"""Enqueue runtime tasks with nothing but a Redis client.

Task messages use Taskiq's own wire format (`TaskiqMessage` JSON on the
ListQueueBroker's list), so the API process, `kick_sender` callers and the
workers need not share a broker object. The queue is only a wake-up signal:
PostgreSQL holds the truth (unprocessed inbound rows, pending outbox rows),
and the maintenance sweep re-enqueues anything a lost task left behind.
"""

from __future__ import annotations

import uuid
from typing import Any, Iterable

import orjson
import redis.asyncio as aioredis

QUEUE = "pytake:tasks"
PROCESS_CONVERSATION = "pytake.process_conversation"
SEND_OUTBOX = "pytake.send_outbox"
DELIVER_CONVERSATIONS = "pytake.deliver_conversations"
RUN_MAINTENANCE = "pytake.run_maintenance"


def encode_task(task_name: str, *args: Any) -> bytes:
    """A `TaskiqMessage` as JSON (the same document its ``model_dump_json`` gives,
    without building the pydantic model: this runs once per webhook)."""
    return orjson.dumps({"task_id": uuid.uuid4().hex, "task_name": task_name, "labels": {},
                         "labels_types": {}, "args": list(args), "kwargs": {}})


async def enqueue(redis: aioredis.Redis, task_name: str, *args: Any) -> None:
    await redis.lpush(QUEUE, encode_task(task_name, *args))


async def enqueue_conversations(redis: aioredis.Redis, conversation_ids: Iterable[Any]) -> None:
    """Wake the processor for each conversation (one task each, one round trip)."""
    payloads = [encode_task(PROCESS_CONVERSATION, str(cid)) for cid in dict.fromkeys(conversation_ids)]
    if payloads:
        await redis.lpush(QUEUE, *payloads)
