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


async def _raw_receiver(head: bytes) -> asyncio.AbstractServer:
    """A receiver answering 200 with these header lines, as bytes (what aiohttp's server would not send)."""
    async def answer(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + head + b"Connection: close\r\n\r\nok")
        await writer.drain()
        writer.close()
    return await asyncio.start_server(answer, "127.0.0.1", 0)


async def _logged_attempts(db, org, delivery_settings, hooks: list[uuid.UUID]) -> list[list[dict]]:
    """One conversation.closed delivered to ``hooks``: each one's logged attempts."""
    feeder = LogFeeder(db, PostgresLogStore(db))
    stop = asyncio.Event()
    loop = start(db, delivery_settings, stop, observe=feeder.webhook_attempts.extend)
    try:
        conv = uuid.uuid4()
        await write_events(db, org, ("conversation.closed", {"conversation": {"id": str(conv)}}, conv))

        async def logged():
            await feeder.run_once()
            found = [await feeder.store.webhook_logs(WebhookQuery(org, hook)) for hook in hooks]
            return all(found) and found
        return await until(logged)
    finally:
        stop.set()
        await loop


async def test_an_answer_header_that_is_not_utf8_is_logged_with_the_other_attempts(db, org, delivery_settings,
                                                                                   make_webhook, receiver):
    """A receiver's header with a Latin-1 byte ("café") reached the store as a lone surrogate:
    the whole batch, other webhooks' attempts included, failed and was retried forever."""
    server = await _raw_receiver(b"X-Shop: caf\xe9\r\n")
    try:
        odd = await make_webhook(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook",
                                 ["conversation.closed"])
        fine = await make_webhook(receiver.url, ["conversation.closed"])
        odd_logs, fine_logs = await _logged_attempts(db, org, delivery_settings, [odd, fine])
    finally:
        server.close()
    assert odd_logs[0]["success"] is True and fine_logs[0]["success"] is True
    assert {k.lower(): v for k, v in odd_logs[0]["response_headers"].items()}["x-shop"] == "caf\ufffd"


async def test_an_answer_with_huge_headers_is_logged_in_a_bounded_row(db, org, delivery_settings, make_webhook):
    """aiohttp takes about 128 headers of 8 KB: each attempt's log row held a megabyte of them."""
    server = await _raw_receiver(b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 8000) for i in range(100)))
    try:
        hook = await make_webhook(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook",
                                  ["conversation.closed"])
        [[logged]] = await _logged_attempts(db, org, delivery_settings, [hook])
    finally:
        server.close()
    headers = logged["response_headers"]
    assert logged["success"] is True and len(headers) == 32
    assert max(len(v) for v in headers.values()) == 1024
