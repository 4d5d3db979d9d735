"""Enqueue runtime tasks with nothing but a Redis client.

Task messages use Taskiq's own wire format (`TaskiqMessage` JSON on the
ListQueueBroker's list), so the API process, `kick_sender` callers and the
workers need not share a broker object. The queue is only a wake-up signal:
PostgreSQL holds the truth (unprocessed inbound rows, pending outbox rows),
and the maintenance sweep re-enqueues anything a lost task left behind.

Three lanes (Redis lists), read in priority order by the workers
(`api.workers.tasks.BatchListQueueBroker`): whenever a worker has room for
a task it takes the oldest of the highest non-empty lane, and a tenth of its
concurrency is kept for the high lane, so a flood of bulk sends or status
follow-ups never delays a customer's reply.

- `HIGH` (``pytake:{tasks}``, the queue's historical name ``pytake:tasks`` with
  the hash tag the three lanes share: one script and one ``BRPOP`` read them
  together, so on a Redis Cluster they live in one slot): live conversations,
  processing an inbound message and sending the reply it causes (``kick_sender``
  of a processor's, an agent's or a greeting's message);
- `DEFAULT`: sends nobody named a lane for, and delivery retries;
- `LOW`: bulk work (campaigns, bulk sends, follow-ups of status traffic, maintenance, fetching
  customers' media).

A task's lane is `LANE_OF` its name unless the caller names one.

A worker takes all three lanes, or (``pytake worker --lanes``, `WORKER_LANES`)
only the live ones (high and default: conversations and their replies) or only
the bulk one (low). Live and bulk workers in separate processes let the
operating system schedule a reply's work apart from a campaign's: a round of
a campaign's sends, or a chore's batch, never holds the event loop a
customer's task is waiting for (bench/campaign.py: reply p99 during a
campaign).
"""

from __future__ import annotations

import uuid
from typing import Any, Iterable

import orjson
import redis.asyncio as aioredis

QUEUE = HIGH = "pytake:{tasks}"
DEFAULT = "pytake:{tasks}:default"
LOW = "pytake:{tasks}:low"
LANES = (HIGH, DEFAULT, LOW)  # the order workers read them in
# what a worker takes: `pytake worker --lanes all | live | bulk`
WORKER_LANES = {"all": LANES, "live": (HIGH, DEFAULT), "bulk": (LOW,)}
PROCESS_CONVERSATION = "pytake.process_conversation"
SEND_OUTBOX = "pytake.send_outbox"
DELIVER_CONVERSATIONS = "pytake.deliver_conversations"
RUN_MAINTENANCE = "pytake.run_maintenance"
RUN_CAMPAIGN = "pytake.run_campaign"
FETCH_MEDIA = "pytake.fetch_media"  # customers' media from Meta into the store (api/media/inbound.py)
LANE_OF = {PROCESS_CONVERSATION: HIGH, SEND_OUTBOX: DEFAULT, DELIVER_CONVERSATIONS: DEFAULT, RUN_MAINTENANCE: LOW,
           RUN_CAMPAIGN: LOW, FETCH_MEDIA: LOW}


def encode_task(task_name: str, *args: Any) -> bytes:
    """A `TaskiqMessage` as JSON (the same document its ``model_dump_json`` gives,
    without building the pydantic model: this runs once per webhook)."""
    return orjson.dumps({"task_id": uuid.uuid4().hex, "task_name": task_name, "labels": {},
                         "labels_types": {}, "args": list(args), "kwargs": {}})


async def enqueue(redis: aioredis.Redis, task_name: str, *args: Any, lane: str | None = None) -> None:
    """Queue one task on ``lane`` (default: its name's lane in `LANE_OF`)."""
    await redis.lpush(lane or LANE_OF.get(task_name, DEFAULT), encode_task(task_name, *args))


async def enqueue_conversations(redis: aioredis.Redis, conversation_ids: Iterable[Any]) -> None:
    """Wake the processor for each conversation (one task each, one round trip)."""
    payloads = [encode_task(PROCESS_CONVERSATION, str(cid)) for cid in dict.fromkeys(conversation_ids)]
    if payloads:
        await redis.lpush(HIGH, *payloads)
