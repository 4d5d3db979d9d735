"""POST /agents/me/pull: an agent takes the next waiting conversation of their departments."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.assignment.conftest import World


async def _world(db, org_id) -> World:  # noqa: ANN001
    world = World(db)
    world.org = org_id
    return world


async def _member(world: World, actor, department, can_pull: bool = True) -> None:  # noqa: ANN001
    await world.execute("INSERT INTO user_departments (user_id, department_id, can_pull_from_queue) "
                        "VALUES ($1, $2, $3)", actor.user_id, department, can_pull)


async def _pull(client, actor) -> tuple[int, dict]:  # noqa: ANN001
    response = await client.post("/agents/me/pull", headers=actor.headers)
    return response.status_code, await response.get_json()


async def test_pull_takes_the_highest_priority_then_the_longest_waiting(db, client, org_a, agent) -> None:
    world = await _world(db, org_a)
    dept = await world.department()
    await _member(world, agent, dept)
    old_normal = await world.waiting(dept, ago=600)
    urgent = await world.waiting(dept, priority="urgent", ago=5)
    status, body = await _pull(client, agent)
    assert status == 200, body
    assert body["conversation"]["id"] == str(urgent)
    assert body["conversation"]["assigned_to"] == str(agent.user_id)
    assert body["conversation"]["status"] == "assigned"
    assert (await _pull(client, agent))[1]["conversation"]["id"] == str(old_normal)
    assert (await _pull(client, agent))[1] == {"conversation": None, "departments": [str(dept)]}  # empty now


async def test_pull_only_takes_from_departments_the_agent_may_pull_from(db, client, org_a, agent,
                                                                        make_actor) -> None:
    world = await _world(db, org_a)
    mine, other, no_pull = await world.department(), await world.department(), await world.department()
    await _member(world, agent, mine)
    await _member(world, agent, no_pull, can_pull=False)
    await world.waiting(other, priority="urgent")
    await world.waiting(no_pull, priority="urgent")
    assert (await _pull(client, agent))[1] == {"conversation": None, "departments": [str(mine)]}
    outsider = await make_actor(org_a, "agent")
    await _member(world, outsider, no_pull, can_pull=False)
    assert await _pull(client, outsider) == (200, {"conversation": None, "departments": []})


async def test_many_concurrent_pulls_each_get_a_different_conversation(db, client, org_a, make_actor) -> None:
    world = await _world(db, org_a)
    dept = await world.department()
    agents = [await make_actor(org_a, "agent") for _ in range(6)]
    for a in agents:
        await _member(world, a, dept)
    queued = [await world.waiting(dept, ago=100 - i) for i in range(10)]

    results = await asyncio.gather(*(_pull(client, a) for a in agents for _ in range(4)))  # 24 pulls, 10 waiting
    assert all(status == 200 for status, _ in results)
    got = [(body["conversation"]["id"], body["conversation"]["assigned_to"]) for _, body in results
           if body["conversation"] is not None]
    assert len(got) == 10
    assert Counter(c for c, _ in got).most_common(1)[0][1] == 1  # nobody got one someone else got
    assert sorted(c for c, _ in got) == sorted(str(q) for q in queued)
    assignees = await world.assignees(queued)  # the database agrees with what each pull answered
    assert {str(q): str(a) for q, a in zip(queued, assignees)} == dict(got)
    rows = await world.fetch("SELECT count(*) FROM events WHERE type = 'conversation.assigned' "
                             "AND payload->'assignment'->>'pulled' = 'true'")
    assert rows[0][0] == 10


async def test_pull_from_one_named_department(db, client, org_a, agent) -> None:
    world = await _world(db, org_a)
    first, second = await world.department(), await world.department()
    await _member(world, agent, first)
    await _member(world, agent, second)
    await world.waiting(first, priority="urgent")
    wanted = await world.waiting(second)
    response = await client.post("/agents/me/pull", headers=agent.headers, json={"department_id": str(second)})
    assert (await response.get_json())["conversation"]["id"] == str(wanted)
    foreign = await world.department()
    response = await client.post("/agents/me/pull", headers=agent.headers, json={"department_id": str(foreign)})
    assert response.status_code == 422 and (await response.get_json())["error"]["field"] == "department_id"
