"""Each department strategy gives waiting conversations to the agents a user would expect."""

from __future__ import annotations

from collections import Counter

from api.assignment import assign_department


async def test_round_robin_takes_turns_and_keeps_the_rotation_between_passes(world, db, redis):
    dept = await world.department("round_robin")
    agents = [await world.agent(dept) for _ in range(3)]
    first = [await world.waiting(dept, ago=60 - i) for i in range(2)]
    await assign_department(db, redis, dept)
    given = await world.assignees(first)
    assert len(set(given)) == 2  # two agents, one each
    later = [await world.waiting(dept) for _ in range(4)]
    await assign_department(db, redis, dept)
    rest = await world.assignees(later)
    # the agent who got nothing in the first pass is next, then the rotation goes on
    assert rest[0] == (set(agents) - set(given)).pop()
    assert rest[1:] == given + [rest[0]]
    assert sorted(Counter(given + rest).values()) == [2, 2, 2]


async def test_load_balance_gives_to_the_agent_with_fewest_open_conversations(world, db, redis):
    dept = await world.department("load_balance")
    busy, idle, some = [await world.agent(dept, max_open=10) for _ in range(3)]
    for agent, held in ((busy, 3), (some, 1)):
        for _ in range(held):
            c = await world.waiting(dept)
            await world.execute("UPDATE conversations SET status = 'assigned', assigned_to = $2 WHERE id = $1",
                                c, agent)
    queued = [await world.waiting(dept, ago=10 - i) for i in range(4)]
    await assign_department(db, redis, dept)
    given = Counter(await world.assignees(queued))
    assert given == {idle: 2, some: 2}  # busy (3 open) gets none; the others end at 2 and 3, busy keeps 3
    assert busy not in given


async def test_priority_serves_urgent_first_and_prefers_higher_priority_agents(world, db, redis):
    dept = await world.department("priority")
    senior = await world.agent(dept, max_open=2, priority_level=5)
    junior = await world.agent(dept, max_open=2, priority_level=0)
    low = await world.waiting(dept, priority="low", ago=300)
    normal = await world.waiting(dept, priority="normal", ago=200)
    urgent = await world.waiting(dept, priority="urgent", ago=10)
    high = await world.waiting(dept, priority="high", ago=20)
    older_normal_peer = await world.waiting(dept, priority="normal", ago=100)
    await assign_department(db, redis, dept)
    assert await world.assignees([urgent, high]) == [senior, senior]
    assert await world.assignees([normal, older_normal_peer]) == [junior, junior]  # then waiting time
    assert (await world.conversation(low))["status"] == "waiting_in_queue"  # nobody has room left


async def test_the_queue_is_served_oldest_first_under_round_robin(world, db, redis):
    dept = await world.department("round_robin")
    await world.agent(dept, max_open=2)
    newest = await world.waiting(dept, priority="urgent", ago=1)
    oldest = await world.waiting(dept, ago=100)
    middle = await world.waiting(dept, ago=50)
    await assign_department(db, redis, dept)
    assert [(await world.conversation(c))["status"] for c in (oldest, middle, newest)] == [
        "assigned", "assigned", "waiting_in_queue"]
