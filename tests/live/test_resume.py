"""Reconnecting with ``?after=<cursor>`` replays what was missed, then goes on live:
no gap and no duplicate at the seam."""

from __future__ import annotations

import asyncio

import aiohttp

from api.events.consumer import backlog
from api.live import CONSUMER
from tests.live.conftest import eventually


async def _published(db) -> bool:  # noqa: ANN001
    return await backlog(db, CONSUMER) == 0


def _text(message: dict) -> str:
    return message["event"]["data"]["message"]["content"]["text"]


def _texts(messages: list[dict]) -> int:
    return sum(1 for m in messages if m["event"]["type"] == "message.received")


def _cursor(client) -> str:  # noqa: ANN001
    """The last cursor the client was given (an event's, else the ready message's)."""
    events = client.events()
    return events[-1]["cursor"] if events else client.of("ready")[-1]["cursor"]


async def test_reconnecting_replays_the_missed_events_of_ones_own_scope_then_goes_live(
        world, start_api, publisher, connect):
    org = await world.organization()
    sales, support = await world.department(org), await world.department(org)
    seller = await world.user(org, "agent", sales)
    api = await start_api()
    mine, other = await world.conversation(org, sales), await world.conversation(org, support)

    first = await connect(api.ws_url(seller.token))
    await first.ready()
    await world.inbound(mine, "one")
    await first.wait(lambda: first.events(mine), "the first message")
    cursor = _cursor(first)
    await first.close()

    await world.inbound(mine, "two")
    await world.inbound(other, "not for sales")
    await world.inbound(mine, "three")
    await eventually(lambda: _published(world.db), "the live consumer to publish them")  # then they are replayed

    second = await connect(api.ws_url(seller.token, after=cursor))
    ready = await second.ready()
    assert [_text(m) for m in second.events()] == ["two", "three"]
    assert ready["replayed"] == 2 and ready["cursor"] == second.events()[-1]["cursor"]
    await world.inbound(mine, "four")
    await second.wait(lambda: len(second.events()) == 3, "the live message after the replay")
    assert [_text(m) for m in second.events()] == ["two", "three", "four"]


async def test_resuming_while_events_keep_coming_loses_and_repeats_nothing(world, start_api, publisher, connect):
    org = await world.organization()
    support = await world.department(org)
    agent = await world.user(org, "agent", support)
    api1, api2 = await start_api(), await start_api()
    conversations = [await world.conversation(org, support) for _ in range(3)]
    total = 150
    received: list[dict] = []

    client = await connect(api1.ws_url(agent.token))
    await client.ready()
    written = asyncio.Event()

    async def write() -> None:
        for n in range(total):
            await world.inbound(conversations[n % 3], str(n))
            await asyncio.sleep(0)
        written.set()

    writer = asyncio.create_task(write())
    for hop, api in enumerate((api2, api1, api2)):  # drop the socket mid-stream, resume on another process
        await client.wait(lambda c=client, h=hop: len(c.events()) > 5 * (h + 1) or written.is_set(),
                          "some events before dropping")
        received += client.events()
        cursor = _cursor(client)
        await client.close()
        client = await connect(api.ws_url(agent.token, after=cursor))
        await client.ready()
    await writer
    await client.wait(lambda: _texts(received + client.events()) >= total, "every event")
    await client.roundtrip()
    received += client.events()

    received = [m for m in received if m["event"]["type"] == "message.received"]  # (coming online assigned them)
    texts = [_text(m) for m in received]
    assert sorted(texts, key=int) == [str(n) for n in range(total)]  # each once
    for conversation in conversations:  # and in order within a conversation
        mine = [int(_text(m)) for m in received if m["event"]["data"]["message"]["conversation_id"]
                == str(conversation)]
        assert mine == sorted(mine)
    cursors = [m["cursor"] for m in received]
    assert len(set(cursors)) == len(cursors)


async def test_a_malformed_cursor_is_refused_with_4400(world, start_api):
    org = await world.organization()
    agent = await world.user(org, "agent")
    api = await start_api()
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(api.ws_url(agent.token, after="yesterday")) as ws:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.CLOSE
            assert (msg.data, msg.extra) == (4400, "invalid_after")


async def test_a_process_that_loses_its_pub_sub_connection_sends_its_sockets_to_resume(
        world, start_api, publisher, connect, redis):
    from api.live.hub import pubsub_client_name
    from api.live.presence import PROCS, user_key

    org = await world.organization()
    support = await world.department(org)
    agent = await world.user(org, "agent", support)
    api = await start_api()
    conversation = await world.conversation(org, support)
    client = await connect(api.ws_url(agent.token))
    await client.ready()
    cursor = client.of("ready")[0]["cursor"]

    # this API's process: the one holding the agent's socket (another test's process may
    # still be registered in PROCS until its heartbeat expires and a sweep removes it)
    (socket_id,) = [s.decode() for s in await redis.smembers(user_key(agent.user_id))]
    process_id = socket_id.rsplit(":", 1)[0]
    assert process_id in {p.decode() for p in await redis.smembers(PROCS)}
    name = pubsub_client_name(process_id)
    connections = [c for c in await redis.client_list() if c.get("name") == name]
    assert connections, "the process's pub/sub connection carries its name"
    await redis.execute_command("CLIENT", "KILL", "ID", connections[0]["id"])
    await world.inbound(conversation, "while the connection was down")

    await client.wait(lambda: client.closed is not None, "the socket to be closed")
    assert client.ws.close_code == 1012
    resumed = await connect(api.ws_url(agent.token, after=cursor))
    await resumed.wait(lambda: [m for m in resumed.events(conversation) if m["event"]["type"] == "message.received"],
                       "the message, replayed or live")
