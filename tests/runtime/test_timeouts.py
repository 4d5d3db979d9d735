"""A question's reply timeout runs the flow's `timeout` branch, from the maintenance tick."""

from __future__ import annotations

import json

from sqlalchemy import text

from api.workers import maintenance
from api.conversations import TIMEOUTS_KEY
from api.workers.queue import QUEUE


async def test_expired_wait_takes_the_timeout_branch(local, add, flows, query, db, redis):
    await add("lembrete", flows["timeout"])
    result = await local.say("5511900000050", "oi")
    conversation = result.conversations[0]
    assert await redis.zscore(TIMEOUTS_KEY, str(conversation)) is not None
    # let the deadline pass: move it into the past, in the state and in the schedule
    async with db.transaction() as s:
        fv = (await s.execute(text("SELECT flow_variables FROM conversations"))).scalar()
        fv["state"]["w"][3] = "2020-01-01T00:00:00+00:00"
        await s.execute(text("UPDATE conversations SET flow_variables = CAST(:fv AS jsonb)"), {"fv": json.dumps(fv)})
    await redis.zadd(TIMEOUTS_KEY, {str(conversation): 1})
    await redis.delete(QUEUE)
    await maintenance.tick(local.rt)
    tasks = [json.loads(t) for t in await redis.lrange(QUEUE, 0, -1)]
    woken = [t["args"] for t in tasks if t["task_name"] == "pytake.process_conversation"]
    assert [str(conversation)] in woken
    before = (await query("SELECT last_message_at FROM conversations"))[0]["last_message_at"]
    await local.process(conversation)
    texts = [r["content"]["text"] for r in await query(
        "SELECT content FROM messages WHERE direction = 'outbound' ORDER BY created_at")]
    assert texts == ["Ainda aí?", "Encerrando por falta de resposta."]
    # a message the bot sends on its own is activity: the conversation moves up the inbox
    after = (await query("SELECT last_message_at, message_count FROM conversations"))[0]
    assert after["last_message_at"] > before and after["message_count"] == 3


async def test_a_wait_before_its_deadline_is_left_alone(local, add, flows, query):
    await add("lembrete", flows["timeout"])
    result = await local.say("5511900000051", "oi")
    await local.process(result.conversations[0])
    texts = [r["content"]["text"] for r in await query("SELECT content FROM messages WHERE direction = 'outbound'")]
    assert texts == ["Ainda aí?"]
