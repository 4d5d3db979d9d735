"""Presence: a socket makes its agent online (for automatic assignment), the last
one closing makes them away, a process that dies takes its sockets with it, and
every change of an agent's status reaches all of that agent's sockets."""

from __future__ import annotations

import aiohttp

from api.assignment import assign_department
from api.live import presence
from tests.live.conftest import eventually


async def _online(world, user_id) -> bool:  # noqa: ANN001
    return bool(await world.sql("SELECT is_online FROM users WHERE id = $1", user_id))


async def test_the_first_socket_brings_an_agent_online_and_the_last_one_away(world, start_api, connect, redis):
    org = await world.organization()
    support = await world.department(org)
    agent = await world.user(org, "agent", support)
    api1, api2 = await start_api(), await start_api()
    # one socket after the other: a socket is registered after its handshake, so two opened
    # back to back may register in either order (the one that registers first brings the agent
    # online; the other's ready may read the status before that write lands)
    first = await connect(api1.ws_url(agent.token))
    assert (await first.ready())["status"] == "online"
    second = await connect(api2.ws_url(agent.token))
    assert (await second.ready())["status"] == "online"
    assert await _online(world, agent.user_id)
    assert len(await presence.sockets(redis, agent.user_id)) == 2

    await first.close()
    await eventually(lambda: _count(redis, agent.user_id, 1), "one socket left")
    assert await _online(world, agent.user_id)
    await second.close()
    await eventually(lambda: _count(redis, agent.user_id, 0), "no socket left")
    # the socket leaves Redis before the user row is marked away: wait for both
    await eventually(lambda: _offline(world, agent.user_id), "the agent marked away")


async def _count(redis, user_id, n: int) -> bool:  # noqa: ANN001
    return len(await presence.sockets(redis, user_id)) == n


async def test_an_agent_whose_process_died_is_no_longer_picked(world, start_api, connect, redis, db):
    org = await world.organization()
    support = await world.department(org)
    agent = await world.user(org, "agent", support)
    doomed, survivor = await start_api(), await start_api()
    client = await connect(doomed.ws_url(agent.token))
    await client.ready()
    assert await _online(world, agent.user_id)

    doomed.kill()  # no shutdown handler: its sockets stay in Redis until its heartbeat expires
    # the survivor's heartbeat sweeps the dead process (the workers' maintenance loop does too)
    await eventually(lambda: _count(redis, agent.user_id, 0), "the dead process's socket to be swept")
    await eventually(lambda: _offline(world, agent.user_id), "the agent marked away")

    waiting = await world.conversation(org, support)
    assert await assign_department(db, redis, support) == []
    assert await world.sql("SELECT assigned_to FROM conversations WHERE id = $1", waiting) is None
    assert survivor.process.poll() is None


async def _offline(world, user_id) -> bool:  # noqa: ANN001
    return not await _online(world, user_id)


async def test_the_sweep_leaves_live_processes_alone(world, start_api, connect, redis, db):
    org = await world.organization()
    agent = await world.user(org, "agent")
    api = await start_api()
    client = await connect(api.ws_url(agent.token))
    await client.ready()
    assert await presence.sweep(db, redis) == 0
    assert len(await presence.sockets(redis, agent.user_id)) == 1
    assert await _online(world, agent.user_id)


class _DatabaseDown:
    """A `Database` whose every checkout fails, as PostgreSQL out of reach does."""

    def raw(self):  # noqa: ANN201
        raise ConnectionRefusedError("PostgreSQL is out of reach")


async def test_a_sweep_that_fails_to_mark_away_is_finished_by_the_next_one(world, redis, db):
    """The sweep removes a dead process's sockets, then marks its users away. If the second
    step fails, the users must not stay online for good (their sockets are gone: no later
    sweep would find them): they stay recorded until a sweep has marked them away."""
    org = await world.organization()
    agent = await world.user(org, "agent")
    await world.sql("UPDATE users SET is_online = true WHERE id = $1", agent.user_id)
    await presence.join(redis, "dead-proc", "dead-proc:1", agent.user_id, org)  # no heartbeat: it died

    try:
        await presence.sweep(_DatabaseDown(), redis)
    except ConnectionRefusedError:
        pass
    assert await presence.sockets(redis, agent.user_id) == set()  # its socket is gone already
    assert await _online(world, agent.user_id)

    assert await presence.sweep(db, redis) == 1  # any later sweep: no process is gone now, the user still is
    assert not await _online(world, agent.user_id)
    assert await presence.sweep(db, redis) == 0


def _statuses(client) -> list[str]:  # noqa: ANN001
    return [m["status"] for m in client.of("status")]


async def test_a_status_change_reaches_every_socket_of_the_agent_and_no_one_else(world, start_api, connect):
    org = await world.organization()
    support = await world.department(org)
    agent = await world.user(org, "agent", support)
    admin = await world.user(org, "org_admin")  # sees the whole organization, not others' status
    api1, api2 = await start_api(), await start_api()
    first = await connect(api1.ws_url(agent.token))
    assert (await first.ready())["status"] == "online"
    second = await connect(api2.ws_url(agent.token))
    assert (await second.ready())["status"] == "online"
    watcher = await connect(api2.ws_url(admin.token))
    await watcher.ready()

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {agent.token}"}) as http:
        async def post(status: str) -> None:
            async with http.post(f"{api1.url}/agents/me/status", json={"status": status}) as response:
                assert response.status == 200, await response.text()

        await post("away")  # from the API: both sockets hear of it
        await first.wait(lambda: _statuses(first) == ["away"], "the first socket told the agent is away")
        await second.wait(lambda: _statuses(second) == ["away"], "the second socket told the agent is away")

        await first.send({"type": "status", "status": "online"})  # from one socket: it gets its answer
        await second.wait(lambda: _statuses(second) == ["away", "online"], "the other socket told")
        await post("away")  # published after the first one: each socket has had both when it has this
        await first.wait(lambda: _statuses(first)[-1:] == ["away"] and len(_statuses(first)) >= 3, "the last one")
        await second.wait(lambda: _statuses(second) == ["away", "online", "away"], "the last one")
    # the socket that sent the message got its answer once, not also the announcement
    assert _statuses(first) == ["away", "online", "away"]
    await watcher.roundtrip()
    assert watcher.of("status") == []
    assert not await _online(world, agent.user_id)


async def test_a_viewer_cannot_go_online_or_away_through_the_socket(world, start_api, connect):
    org = await world.organization()
    support = await world.department(org)
    viewer = await world.user(org, "viewer", support)
    api = await start_api()
    socket = await connect(api.ws_url(viewer.token))
    await socket.ready()
    before = await _online(world, viewer.user_id)

    await socket.send({"type": "status", "status": "away" if before else "online"})

    await socket.wait(lambda: socket.of("error"), "the refusal")
    assert socket.of("error")[0]["code"] == "forbidden" and socket.of("error")[0]["field"] == "status"
    assert socket.of("status") == [] and await _online(world, viewer.user_id) == before


async def test_a_socket_whose_ready_said_away_learns_that_the_first_socket_brought_the_agent_online(
        world, start_api, connect, redis, db):
    """Two sockets opening at once on two processes: the one registered second reads the
    status before the first's write lands, and says ``away`` in its ``ready``. Forced here:
    another process's socket is registered first and has not marked the agent online yet."""
    org = await world.organization()
    agent = await world.user(org, "agent")
    await presence.join(redis, "elsewhere", "elsewhere:1", agent.user_id, org)  # registered, not yet online
    api = await start_api()
    late = await connect(api.ws_url(agent.token))
    assert (await late.ready())["status"] == "away"
    assert late.of("status") == []

    await presence.went_online(db, redis, agent.user_id, org, "elsewhere:1")  # the first socket's write lands
    await late.wait(lambda: _statuses(late) == ["online"], "the status as it now is")
    assert await _online(world, agent.user_id)
    await presence.leave(redis, "elsewhere", "elsewhere:1", agent.user_id, org, True)


async def test_an_announcement_redis_refuses_is_logged_and_the_status_change_stands(caplog):
    """The status is written before it is announced: a failed PUBLISH must not fail the
    request or the socket that changed it."""
    import logging
    import uuid

    from api.assignment.presence import Presence
    from api.redis_clients import redis_client
    from tests.live.conftest import free_port

    nobody = redis_client(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        with caplog.at_level(logging.WARNING, logger="pytake.live"):
            await presence.announce(nobody, uuid.uuid4(), uuid.uuid4(), Presence("online", None))
    finally:
        await nobody.aclose()
    assert "could not announce" in caplog.text
