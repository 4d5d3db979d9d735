"""A customer's media whose fetch task was lost (a worker killed after taking it, Redis losing
its data, a webhook redelivered after its enqueue failed) is fetched after all: the maintenance
sweep queues the fetch again, once per period, never while a worker is fetching it."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from api.media.inbound import fetch_lock_key
from api.sandbox import webhooks
from api.workers import maintenance
from api.workers.queue import FETCH_MEDIA, LANES, LOW
from tests.runtime.conftest import PNID

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
IMAGE = {"id": "1200000000000001", "mime_type": "image/png", "sha256": "0" * 64}  # as Meta names a file


async def _inbound(db, wa_id: str) -> dict[str, Any]:
    async with db.session() as s:
        row = (await s.execute(text(
            "SELECT m.id, m.metadata FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "JOIN contacts k ON k.id = c.contact_id WHERE k.whatsapp_id = :w AND m.direction = 'inbound'"),
            {"w": wa_id})).mappings().first()
    return dict(row) if row else {}


async def _fetches_queued(redis) -> list[list[str]]:  # noqa: ANN001 - the FETCH_MEDIA tasks on the low lane, taken
    tasks = [json.loads(t) for t in await redis.lrange(LOW, 0, -1)]
    await redis.delete(LOW)
    return [t["args"][0] for t in tasks if t["task_name"] == FETCH_MEDIA]


async def test_a_lost_fetch_is_queued_again_once_per_period_and_not_while_a_worker_fetches(
        webhook, local, redis) -> None:  # noqa: ANN001
    await webhook(webhooks.inbound_message(PNID, "5511955560001", webhooks.media_message("image", IMAGE)))
    message_id = str((await _inbound(local.db, "5511955560001"))["id"])
    assert await _fetches_queued(redis) == [[message_id]]  # the webhook queued it ...
    await redis.delete(*LANES)  # ... and the task is lost (as with a worker killed after taking it)

    await maintenance.sweep(local.rt, timedelta(seconds=60), full=False)  # not waiting long enough yet
    assert await _fetches_queued(redis) == []

    assert await redis.set(fetch_lock_key(message_id), "1")  # a worker is fetching it now
    await maintenance.sweep(local.rt, timedelta(0), full=False)
    assert await _fetches_queued(redis) == []

    await redis.delete(fetch_lock_key(message_id))  # it died without recording anything
    await maintenance.sweep(local.rt, timedelta(0), full=False)
    assert await _fetches_queued(redis) == [[message_id]]
    await maintenance.sweep(local.rt, timedelta(0), full=True)  # once per period, full sweep or not
    assert await _fetches_queued(redis) == []

    async with local.db.transaction() as s:  # fetched (or given up on): nothing more to queue
        await s.execute(text("UPDATE messages SET metadata = metadata || '{\"media\": {\"status\": \"failed\"}}'"))
    await redis.delete(f"maintenance:woken:media:{{{message_id}}}")
    await maintenance.sweep(local.rt, timedelta(0), full=True)
    assert await _fetches_queued(redis) == []


async def test_the_sweep_fetches_an_image_that_was_never_fetched(servers) -> None:  # noqa: ANN001
    from api.workers.tasks import context

    media = servers.sandbox.add_media(PNG, "image/png")
    response = await servers.post(webhooks.inbound_message(PNID, "5511955560002",
                                                           webhooks.media_message("image", media)))
    assert response.status_code == 200, response.text

    async def fetched() -> dict[str, Any]:
        row = await _inbound(servers.db, "5511955560002")
        return row if (row.get("metadata") or {}).get("media") else {}

    row = await servers.wait_for(fetched)
    async with servers.db.transaction() as s:  # as if its fetch task had never run
        await s.execute(text("UPDATE messages SET metadata = metadata - 'media' WHERE id = :id"), {"id": row["id"]})
    await maintenance.sweep(context().runtime, timedelta(0), full=True)
    again = (await servers.wait_for(fetched))["metadata"]["media"]
    assert again["status"] == "stored" and again["sha256"] == media["sha256"] and again["size"] == len(PNG)
