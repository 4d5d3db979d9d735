"""Every outbound webhook attempt reaches the log store's webhook_logs: the delivery loop
tells its observer (a worker's `LogFeeder` buffer) the attempts it recorded, and the
feeder writes them in batches."""

from __future__ import annotations

import asyncio
import uuid

from api.events.webhooks import start
from api.logstore import LogFeeder, WebhookQuery
from api.logstore.postgres import PostgresLogStore
from tests.events.conftest import until, write_events


async def test_each_attempt_of_a_delivery_is_logged_with_its_answer(db, org, delivery_settings, make_webhook,
                                                                    receiver):
    receiver.answer = lambda r, _b: 503 if len(r.received) < 2 else 200
    hook = await make_webhook(receiver.url, ["conversation.closed"])
    feeder = LogFeeder(db, PostgresLogStore(db))
    stop = asyncio.Event()
    loop = start(db, delivery_settings, stop, observe=feeder.webhook_attempts.extend)
    try:
        conv = uuid.uuid4()
        await write_events(db, org, ("conversation.closed", {"conversation": {"id": str(conv)}}, conv))

        async def logged():
            await feeder.run_once()
            logs = await feeder.store.webhook_logs(WebhookQuery(org, hook))
            return len(logs) == 3 and logs
        logs = await until(logged)
    finally:
        stop.set()
        await loop
    assert [(r["attempt_number"], r["status_code"], r["success"]) for r in reversed(logs)] == \
        [(1, 503, False), (2, 503, False), (3, 200, True)]
    first = logs[-1]
    assert first["error_message"] == "HTTP 503" and first["response_body"].startswith("receiver says no")
    assert first["url"] == receiver.url and first["method"] == "POST" and first["event_type"] == "conversation.closed"
    assert first["payload"]["type"] == "conversation.closed" and first["headers"]["X-PyTake-Event"] == \
        "conversation.closed"
    assert "content-type" in {k.lower() for k in first["response_headers"]}
    assert len({r["delivery_id"] for r in logs}) == 1
