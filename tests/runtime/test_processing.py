"""Inbound messages are processed in order, one at a time, exactly once."""

from __future__ import annotations

import asyncio

from api import conversations
from api.outbox import conversation_lease


async def outbound_texts(query, conversation_id=None):
    found = await query("SELECT content FROM messages WHERE direction = 'outbound' ORDER BY created_at, id")
    return [r["content"].get("text") for r in found]


async def test_messages_of_one_conversation_stay_in_order_with_two_workers(local, other_worker, add, flows, query):
    await add("eco", flows["echo"])
    conversation = None
    for i in range(1, 7):
        result = await local.receive("5511900000000", f"m{i}")
        conversation = result.conversations[0]
    # both workers are woken for the conversation at once, several times
    await asyncio.gather(*[w.process(conversation) for w in (local, other_worker) * 3])
    # the first message starts the flow (asks), each later one is an answer
    expected = ["Diga algo"] + [t for i in range(2, 7) for t in (f"eco: m{i}", "Diga algo")]
    assert await outbound_texts(query) == expected


async def test_each_inbound_message_is_processed_once(local, add, flows, query):
    await add("eco", flows["echo"])
    result = await local.receive("5511900000001", "oi")
    conversation = result.conversations[0]
    await asyncio.gather(local.process(conversation), local.process(conversation), local.process(conversation))
    assert await outbound_texts(query) == ["Diga algo"]
    processed = await query("SELECT metadata FROM messages WHERE direction = 'inbound'")
    assert processed[0]["metadata"]["processed"] is True


async def test_a_run_whose_lease_expired_cannot_apply_twice(local, add, flows, query):
    await add("eco", flows["echo"])
    result = await local.receive("5511900000002", "oi")
    conversation = result.conversations[0]
    # two workers that both believe they hold the conversation (the lease expired under one)
    loaded = await asyncio.gather(*[conversations.load_step(local.rt, conversation) for _ in range(2)])
    decided = await asyncio.gather(*[conversations.decide(local.rt, step) for step in loaded])
    applied = await asyncio.gather(*[conversations.apply(local.rt, s, d) for s, d in zip(loaded, decided)])
    assert sorted(a is None for a in applied) == [False, True]  # the second one raced
    assert await outbound_texts(query) == ["Diga algo"]


async def test_a_busy_conversation_is_left_to_its_lease_holder(local, add, flows, query, redis):
    await add("eco", flows["echo"])
    result = await local.receive("5511900000003", "oi")
    conversation = result.conversations[0]
    lease = conversation_lease(redis, conversation)
    assert await lease.acquire()
    assert await local.process(conversation) == 0
    assert await outbound_texts(query) == []
    await lease.release()
    assert await local.process(conversation) == 1


async def test_a_message_whose_run_crashes_does_not_block_the_next_one(local, add, flows, query, db):
    from sqlalchemy import text

    await add("eco", flows["echo"])
    good = (await query("SELECT program FROM flow_versions"))[0]["program"]
    async with db.transaction() as s:  # the stored program is unreadable: running the flow raises
        await s.execute(text("UPDATE flow_versions SET program = :p"), {"p": b"not a program"})
    result = await local.say("5511900000004", "primeira")
    async with db.transaction() as s:
        await s.execute(text("UPDATE flow_versions SET program = :p"), {"p": good})
    await local.say("5511900000004", "segunda")
    inbound = await query("SELECT metadata FROM messages WHERE direction = 'inbound' ORDER BY created_at")
    assert [m["metadata"]["run"]["status"] for m in inbound] == ["crashed", "waiting"]
    assert "ProgramFormatError" in inbound[0]["metadata"]["run"]["error"]
    assert await outbound_texts(query) == ["Diga algo"]
    crash = await query("SELECT payload FROM events WHERE type = 'flow.error'")
    assert [e["payload"]["error"]["code"] for e in crash] == ["crashed"]
    assert crash[0]["payload"]["conversation_id"] == str(result.conversations[0])


async def test_a_run_whose_state_moved_meanwhile_applies_nothing(local, add, flows, query, db):
    await add("eco", flows["echo"])
    result = await local.receive("5511900000005", "oi")
    conversation = result.conversations[0]
    loaded = await conversations.load_step(local.rt, conversation)
    decision = await conversations.decide(local.rt, loaded)
    async with db.transaction() as s:  # another worker applied a step of this conversation meanwhile
        from sqlalchemy import text

        await s.execute(text("UPDATE conversations SET flow_variables = jsonb_build_object('rev', 7) WHERE id = :c"),
                        {"c": conversation})
    assert await conversations.apply(local.rt, loaded, decision) is None
    assert await outbound_texts(query) == []
    inbound = await query("SELECT metadata FROM messages WHERE direction = 'inbound'")
    assert inbound[0]["metadata"]["processed"] is False


async def test_a_wake_up_that_bounced_off_the_lease_makes_its_holder_look_again(redis):
    holder = conversation_lease(redis, "c-bounce")
    assert await holder.acquire()
    assert not await conversation_lease(redis, "c-bounce").acquire()  # a task woken meanwhile
    await holder.release()
    assert holder.missed is True


async def test_a_lease_nobody_asked_for_meanwhile_needs_no_second_look(redis):
    holder = conversation_lease(redis, "c-quiet")
    assert await holder.acquire()
    await holder.release()
    assert holder.missed is False


async def test_a_step_aborted_by_a_deadlock_is_applied_again_not_crashed(local, add, flows, query, db):
    """PostgreSQL aborts one of two transactions that wait on each other (40P01):
    the step's single statement runs again rather than failing the message."""
    from sqlalchemy import text

    await add("eco", flows["echo"])
    result = await local.receive("5511900000006", "oi")
    conversation = result.conversations[0]
    async with db.transaction() as s:  # the step's first try meets a deadlock (a sequence is not rolled back)
        await s.execute(text("CREATE SEQUENCE deadlock_once"))
        await s.execute(text("""
            CREATE FUNCTION deadlock_once() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF nextval('deadlock_once') = 1 THEN
                RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01';
              END IF;
              RETURN NEW;
            END $$"""))
        await s.execute(text("CREATE TRIGGER deadlock_once BEFORE UPDATE ON conversations "
                             "FOR EACH ROW EXECUTE FUNCTION deadlock_once()"))
    assert await local.process(conversation) == 1
    assert await outbound_texts(query) == ["Diga algo"]
    inbound = await query("SELECT metadata FROM messages WHERE direction = 'inbound'")
    assert inbound[0]["metadata"]["processed"] is True
    assert inbound[0]["metadata"].get("run", {}).get("status") != "crashed"
    assert (await query("SELECT last_value FROM deadlock_once"))[0]["last_value"] >= 2  # it did fail once


async def test_a_bot_answer_counts_but_keeps_the_customers_message_as_the_last_activity(local, add, flows, query):
    """The inbox orders conversations by their last activity: the customer's
    message is it; the bot's answer milliseconds later does not move it again
    (that update then stays off the indexes, see api/conversations/apply.py)."""
    await add("eco", flows["echo"])
    result = await local.receive("5511900000009", "oi")
    conversation = result.conversations[0]
    inbound = (await query("SELECT created_at FROM messages WHERE direction = 'inbound'"))[0]
    stored = (await query("SELECT last_message_at FROM conversations"))[0]["last_message_at"]
    await local.process(conversation)
    after = (await query("SELECT last_message_at, message_count FROM conversations"))[0]
    assert await outbound_texts(query) == ["Diga algo"]
    assert after["message_count"] == 2
    assert after["last_message_at"] == stored and abs((stored - inbound["created_at"]).total_seconds()) < 5
