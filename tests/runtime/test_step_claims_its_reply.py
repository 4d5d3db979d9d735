"""A worker's step claims its first reply in the step's own statement.

The processor takes the conversation's sender lease and the rate-limit sends before it
writes the step (`Sender.reserve`), so the statement that writes the reply also claims it
when it may go now (`apply`'s ``claim``) and the sender sends it right after the commit:
no read-and-claim statement, one commit fewer, between a customer's message and its
answer. A reply that must wait (an older row of the conversation not sent yet) is not
claimed by the step, and goes after that row."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.outbox import BackgroundDelivery
from api.runtime_context import Runtime
from tests.runtime.conftest import Local

SENDERS_READ = "AS number_gone"  # in the sender's read of a conversation's waiting rows only


class _LoggedDatabase:
    """``db`` whose raw connections log the statements they run."""

    def __init__(self, db: Any) -> None:
        self._db, self.statements = db, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    def raw(self) -> Any:
        @contextlib.asynccontextmanager
        async def connection():
            async with self._db.raw() as conn:
                def log(record: Any) -> None:
                    self.statements.append(" ".join(record.query.split()))
                conn.add_query_logger(log)
                try:
                    yield conn
                finally:
                    await asyncio.sleep(0)  # asyncpg calls its loggers soon after a statement, not at once
                    conn.remove_query_logger(log)
        return connection()


@pytest.fixture
async def worker(db, redis, settings, seeded, local):
    """A worker's runtime (BackgroundDelivery) on a database that logs its statements."""
    from api.whatsapp.graph_client import GraphClient

    async with db.transaction() as s:  # the number's sends never run out here: earlier tests may have used
        # the shared bucket up, and a step granted no send leaves its reply to the sender's read
        await s.execute(text("UPDATE whatsapp_numbers SET settings = COALESCE(settings, '{}'::jsonb) || "
                             "'{\"rate_limit_per_second\": 1000, \"rate_limit_burst\": 1000}'::jsonb WHERE id = :n"),
                        {"n": seeded.number_id})
    logged = _LoggedDatabase(db)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=local.sandbox), base_url="http://sandbox")
    rt = Runtime.build(logged, redis, settings, graph=GraphClient("http://sandbox", "v21.0", client=http),
                       delivery=BackgroundDelivery)
    try:
        yield Local(rt, local.sandbox, logged, seeded), logged
    finally:
        await http.aclose()
        await rt.close()


async def _answered(worker_local: Local, local: Local, wa_id: str, said: str, count: int) -> list[str]:
    """``said`` from ``wa_id``, processed by the worker: the texts the customer has once ``count`` arrived."""
    (conversation,) = (await local.receive(wa_id, said)).conversations
    await worker_local.process(conversation)
    await worker_local.rt.delivery.drain(timeout=30)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while len(local.sandbox.state.inboxes.get(wa_id) or []) < count:
        assert loop.time() < deadline, local.sandbox.state.inboxes.get(wa_id)
        await asyncio.sleep(0.02)
    return _texts(local, wa_id)


def _texts(local: Local, wa_id: str) -> list[str]:
    return [m["payload"].get("text", {}).get("body") for m in local.sandbox.state.inboxes[wa_id]]


async def test_a_steps_replies_go_out_in_order_and_its_first_is_claimed_by_the_steps_statement(
        worker, local, add, flows, query):
    worker_local, logged = worker
    await add("eco", flows["echo"])
    assert await _answered(worker_local, local, "5511900008900", "oi", 1) == ["Diga algo"]
    logged.statements.clear()
    # the echo's step sends two messages: its first claimed by the step, the second by the sender
    assert await _answered(worker_local, local, "5511900008900", "banana", 3) == [
        "Diga algo", "eco: banana", "Diga algo"]
    assert not [s for s in logged.statements if SENDERS_READ in s]  # no read-and-claim of the rows
    rows = await query("SELECT status, metadata FROM messages WHERE direction = 'outbound' ORDER BY created_at")
    assert [r["status"] for r in rows] == ["sent"] * 3
    assert all(r["metadata"]["sending_attempt"] == 1 and r["metadata"]["claim_token"] for r in rows)


async def test_a_reply_behind_an_older_waiting_row_is_not_claimed_by_the_step_and_goes_after_it(
        worker, local, add, flows, query, db):
    worker_local, logged = worker
    await add("promo", flows["promo"])
    (conversation,) = (await local.receive("5511900008901", "oi")).conversations
    async with db.transaction() as s:  # an agent's reply written before the step, not sent yet
        await s.execute(text(
            "INSERT INTO messages (conversation_id, direction, sender_type, type, content, status, created_at) "
            "VALUES (:c, 'outbound', 'agent', 'text', '{\"text\": \"Olá, sou a Ana\"}', 'pending', now() - interval '1 second')"),
            {"c": conversation})
    await worker_local.process(conversation)
    await worker_local.rt.delivery.drain(timeout=30)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while len(local.sandbox.state.inboxes.get("5511900008901") or []) < 2:
        assert loop.time() < deadline, local.sandbox.state.inboxes.get("5511900008901")
        await asyncio.sleep(0.02)
    assert _texts(local, "5511900008901") == [
        "Olá, sou a Ana", "Promoções de hoje!"]
    assert [s for s in logged.statements if SENDERS_READ in s]  # the sender read the waiting rows, in order
    rows = await query("SELECT status, metadata FROM messages WHERE direction = 'outbound' ORDER BY created_at")
    assert [(r["status"], r["metadata"]["sending_attempt"]) for r in rows] == [("sent", 1), ("sent", 1)]


async def test_a_step_someone_else_applied_first_lets_the_sender_lease_go(worker, local, add, flows, query, db,
                                                                          redis, monkeypatch):
    """The lease is taken before the step is written: a step that loses its race (the conversation
    moved meanwhile) must let it go, or the conversation's replies would wait on it forever."""
    from api.conversations import process
    from api.outbox.locks import SENDER_LEASE, lease_key

    worker_local, _ = worker
    await add("promo", flows["promo"])
    (conversation,) = (await local.receive("5511900008902", "oi")).conversations
    real, moved = process.decide, []

    async def decide_then_move(rt, loaded):
        decision = await real(rt, loaded)
        if not moved:  # once: the conversation's state moves while the step runs
            moved.append(True)
            async with db.transaction() as s:
                await s.execute(text("UPDATE conversations SET flow_variables = flow_variables || "
                                     "jsonb_build_object('rev', COALESCE((flow_variables->>'rev')::int, 0) + 1) "
                                     "WHERE id = :c"), {"c": conversation})
        return decision

    monkeypatch.setattr(process, "decide", decide_then_move)
    await worker_local.process(conversation)  # raced once, then applied on the next look
    await worker_local.rt.delivery.drain(timeout=30)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not local.sandbox.state.inboxes.get("5511900008902"):
        assert loop.time() < deadline, "the reply was not sent"
        await asyncio.sleep(0.02)
    assert moved and _texts(local, "5511900008902") == ["Promoções de hoje!"]
    while await redis.exists(lease_key(SENDER_LEASE, conversation)):  # let go once the send is recorded
        assert loop.time() < deadline, "the sender lease is still held"
        await asyncio.sleep(0.02)
