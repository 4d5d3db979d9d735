"""chatbots.statistics follows the runs: real steps write the domain events, the
``chatbot_statistics`` consumer folds them into the chatbot's row exactly once."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from api.analytics import update_chatbot_statistics
from api.sandbox import webhooks


async def _statistics(db, chatbot_id):
    async with db.session() as s:
        return (await s.execute(text("SELECT statistics FROM chatbots WHERE id = :b"), {"b": chatbot_id})).scalar()


async def _consumed(db, chatbot_id, executions):
    """Run the consumer until the chatbot shows ``executions`` runs (events become readable
    once every older transaction of the server has ended: api/events/consumer.py)."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        await update_chatbot_statistics(db)
        stats = await _statistics(db, chatbot_id)
        if stats.get("executions", 0) >= executions or asyncio.get_running_loop().time() > deadline:
            return stats
        await asyncio.sleep(0.1)


async def test_runs_completions_handoffs_errors_and_average_time(local, add, flows, db):
    await add("menu", flows["menu"])
    await add("pedido", flows["failing_call"], keywords=["pedido"])
    for wa_id in ("5511900000101", "5511900000102", "5511900000103"):
        await local.say(wa_id, "oi")
    await local.say("5511900000101", webhooks.button_reply("pizza", "Pizza"))  # ends
    await local.say("5511900000102", webhooks.button_reply("human", "Atendente"))  # hands off
    await local.say("5511900000104", "pedido")  # the call fails: a flow error, then the flow ends
    # the last step's events (the order's) come after every earlier one
    stats = await _consumed(db, local.seeded.chatbot_id, 4)
    deadline = asyncio.get_running_loop().time() + 60
    while stats.get("errors", 0) < 1 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
        stats = await _consumed(db, local.seeded.chatbot_id, 4)
    async with db.session() as s:
        durations = [r[0] for r in await s.execute(text(
            "SELECT (payload->>'duration_ms')::bigint FROM events WHERE type = 'flow.completed'"))]
    assert len(durations) == 3
    assert stats["executions"] == 4  # three menus and one order
    assert stats["completions"] == 2  # the pizza and the failed order ended; the handoff is not one
    assert stats["handoffs"] == 1
    assert stats["errors"] == 1
    assert stats["completions_timed"] == 3
    assert stats["completion_ms_total"] == sum(durations)
    assert stats["avg_completion_ms"] == round(sum(durations) / 3)
    assert stats["total_conversations"] == 0  # keys it does not keep are left as they were
    # read once: running the consumer again adds nothing
    await update_chatbot_statistics(db)
    assert await _statistics(db, local.seeded.chatbot_id) == stats
    # later runs are added to what is there
    await local.say("5511900000103", webhooks.button_reply("pizza", "Pizza"))
    deadline = asyncio.get_running_loop().time() + 60
    while stats["completions"] < 3 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
        stats = await _consumed(db, local.seeded.chatbot_id, 4)
    assert (stats["executions"], stats["completions"], stats["completions_timed"]) == (4, 3, 4)
