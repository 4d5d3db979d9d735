"""Only agents who can take a conversation now get one, never past their maximum;
the queue waits otherwise and empties, in order, when someone frees up or comes online."""

from __future__ import annotations

import time

from api.assignment import assign_department, set_status, sweep


async def test_an_agent_never_gets_more_than_their_maximum(world, db, redis):
    dept = await world.department()
    agent = await world.agent(dept, max_open=2)
    held = await world.waiting(dept, ago=100)
    await world.execute("UPDATE conversations SET status = 'open', assigned_to = $2 WHERE id = $1", held, agent)
    queued = [await world.waiting(dept, ago=50 - i) for i in range(3)]
    await assign_department(db, redis, dept)
    assert await world.assignees(queued) == [agent, None, None]


async def test_nobody_available_leaves_the_queue_waiting(world, db, redis):
    closed_hours = {"timezone": "UTC", "days": {"mon": []}}  # days given, none with hours: always closed
    cases = {
        "offline": (await world.department(), {"online": False}),
        "cannot pull": (await world.department(), {"can_pull": False}),
        "viewer": (await world.department(), {"role": "viewer"}),
        "auto-assign off": (await world.department(auto_assign_enabled=False), {}),
        "inactive department": (await world.department(is_active=False), {}),
        "outside business hours": (await world.department(business_hours=closed_hours), {}),
    }
    queued = {}
    for name, (dept, agent_kwargs) in cases.items():
        await world.agent(dept, **agent_kwargs)
        queued[name] = await world.waiting(dept)
    await sweep(db, redis)
    assert {name: (await world.conversation(c))["status"] for name, c in queued.items()} == {
        name: "waiting_in_queue" for name in cases}


async def test_a_closed_conversation_frees_the_agent_for_the_oldest_waiting_one(world, db, redis):
    dept = await world.department()
    agent = await world.agent(dept, max_open=1)
    first = await world.waiting(dept, ago=30)
    await assign_department(db, redis, dept)
    older, newer = await world.waiting(dept, ago=20), await world.waiting(dept, ago=5)
    await assign_department(db, redis, dept)
    assert await world.assignees([older, newer]) == [None, None]
    await world.execute("UPDATE conversations SET status = 'resolved', resolved_at = now() WHERE id = $1", first)
    await assign_department(db, redis, dept)
    assert await world.assignees([older, newer]) == [agent, None]


async def test_an_agent_coming_online_gets_the_backlog_highest_priority_then_oldest(world, db, redis):
    dept = await world.department("priority")
    agent = await world.agent(dept, online=False, max_open=3)
    old_normal = await world.waiting(dept, ago=300)
    new_normal = await world.waiting(dept, ago=100)
    newer_normal = await world.waiting(dept, ago=50)
    urgent = await world.waiting(dept, priority="urgent", ago=10)
    await sweep(db, redis)
    assert (await world.conversation(urgent))["status"] == "waiting_in_queue"
    presence = await set_status(db, redis, agent, world.org, "online")
    assert presence.status == "online"
    assert [a.conversation_id for a in presence.assigned] == [urgent, old_normal, new_normal]
    assert await world.assignees([newer_normal]) == [None]


async def test_an_assignment_records_when_the_conversation_left_the_queue(world, db, redis):
    dept = await world.department()
    agent = await world.agent(dept)
    started = time.monotonic()
    c = await world.waiting(dept, ago=42)
    [done] = await assign_department(db, redis, dept)
    elapsed = time.monotonic() - started  # however slow the machine, the wait is 42 s plus this
    row = await world.conversation(c)
    assert (row["status"], row["assigned_to"], row["is_bot_active"]) == ("assigned", agent, False)
    waited = (row["pulled_from_queue_at"] - row["entered_queue_at"]).total_seconds()
    assert 42 <= waited <= 42 + elapsed + 1 and abs(done.waiting_seconds - waited) < 1


async def test_a_pass_blocked_by_a_held_row_gives_up_and_a_later_pass_assigns(world, db, redis, monkeypatch):
    from api.assignment import engine

    monkeypatch.setattr(engine, "LOCK_TIMEOUT", "200ms")
    dept = await world.department()
    agent = await world.agent(dept)
    c = await world.waiting(dept)
    async with db.raw() as holder:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE", c)  # e.g. a slow route
        assert await assign_department(db, redis, dept) == []
        await tx.rollback()
    assert [a.agent_id for a in await assign_department(db, redis, dept)] == [agent]
