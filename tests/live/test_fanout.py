"""Events reach the right agents' sockets, whichever API process holds them."""

from __future__ import annotations

import uuid

import aiohttp

from tests.live.conftest import eventually


async def test_an_event_reaches_sockets_on_both_processes_and_only_those_allowed(
        world, start_api, publisher, connect):
    org = await world.organization()
    sales, support = await world.department(org), await world.department(org)
    seller = await world.user(org, "agent", sales)
    helper = await world.user(org, "agent", support)
    admin = await world.user(org, "org_admin")
    other_org = await world.organization()
    stranger = await world.user(other_org, "org_admin")
    api1, api2 = await start_api(), await start_api()

    clients = {
        "seller": await connect(api1.ws_url(seller.token)),
        "helper": await connect(api2.ws_url(helper.token)),
        "admin": await connect(api2.ws_url(admin.token)),
        "stranger": await connect(api1.ws_url(stranger.token)),
    }
    for client in clients.values():
        await client.ready()

    sale = await world.conversation(org, sales)
    await world.inbound(sale, "quero comprar")
    theirs = await world.conversation(other_org, None)
    await world.inbound(theirs, "other org's message")

    for name in ("seller", "admin"):
        got = await clients[name].wait(lambda c=clients[name]: c.events(sale), f"{name} gets the message")
        assert got[0]["event"]["type"] == "message.received"
        assert got[0]["event"]["data"]["message"]["content"] == {"text": "quero comprar"}
    await clients["stranger"].wait(lambda: clients["stranger"].events(theirs), "org B's admin gets org B's event")

    # a later event of a conversation the helper can see: once it arrived, the earlier one would have too
    helped = await world.conversation(org, support)
    await world.inbound(helped, "help")
    await clients["helper"].wait(lambda: clients["helper"].events(helped), "helper gets their queue's message")
    assert clients["helper"].events(sale) == []  # another department's queue
    await clients["admin"].wait(lambda: clients["admin"].events(helped), "the admin sees every department")
    assert clients["stranger"].events(sale) == [] and clients["stranger"].events(helped) == []
    assert clients["admin"].events(theirs) == []


async def test_a_transfer_reaches_the_agent_who_lost_the_conversation(world, start_api, publisher, connect):
    org = await world.organization()
    sales, support = await world.department(org), await world.department(org)
    seller = await world.user(org, "agent", sales)
    helper = await world.user(org, "agent", support)
    admin = await world.user(org, "org_admin")
    api = await start_api()
    conversation = await world.conversation(org, sales, assigned_to=seller.user_id)
    seller_socket = await connect(api.ws_url(seller.token))
    helper_socket = await connect(api.ws_url(helper.token))
    await seller_socket.ready()
    await helper_socket.ready()

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {admin.token}"}) as http:
        async with http.post(f"{api.url}/conversations/{conversation}/transfer",
                             json={"department_id": str(support)}) as response:
            assert response.status == 200, await response.text()

    for socket in (seller_socket, helper_socket):
        got = await socket.wait(lambda s=socket: s.events(conversation), "the transfer")
        assert got[0]["event"]["type"] == "conversation.transferred"
        assert got[0]["event"]["data"]["conversation"]["department_id"] == str(support)
        assert got[0]["event"]["data"]["previous"]["assigned_agent_id"] == str(seller.user_id)

    # the seller no longer sees what happens there; the helper does
    await world.inbound(conversation, "still there?")
    await helper_socket.wait(lambda: len(helper_socket.events(conversation)) == 2, "the next message")
    later = await world.conversation(org, sales)
    await world.inbound(later, "a sales question")
    await seller_socket.wait(lambda: seller_socket.events(later), "the seller's next event")
    assert len(seller_socket.events(conversation)) == 1


async def test_typing_reaches_the_other_agents_and_the_customer(world, start_api, publisher, connect, sandbox):
    org = await world.organization()
    support = await world.department(org)
    typist = await world.user(org, "agent", support)
    colleague = await world.user(org, "agent", support)
    number, phone_number_id = await world.number(org)
    conversation = await world.conversation(org, support, number=number, assigned_to=typist.user_id)
    wamid = await world.inbound(conversation, "oi")
    api1 = await start_api(PYTAKE_GRAPH_API_URL=sandbox.url)
    api2 = await start_api(PYTAKE_GRAPH_API_URL=sandbox.url)
    typing_socket = await connect(api1.ws_url(typist.token))
    colleague_socket = await connect(api2.ws_url(colleague.token))
    await typing_socket.ready()
    await colleague_socket.ready()

    await typing_socket.send({"type": "typing", "conversation_id": str(conversation)})
    got = await colleague_socket.wait(lambda: colleague_socket.of("typing"), "the colleague sees the typing")
    assert got[0]["conversation_id"] == str(conversation)
    assert got[0]["user_id"] == str(typist.user_id)

    async def indicator() -> list:
        return sandbox.state.typing_indicators
    shown = await eventually(indicator, "the customer's typing indicator")
    assert shown[0]["message_id"] == wamid and shown[0]["phone_number_id"] == phone_number_id
    assert wamid in sandbox.state.read_receipts

    await typing_socket.roundtrip()
    assert typing_socket.of("typing") == []  # not echoed to the typist


async def test_typing_in_a_conversation_one_cannot_see_is_refused(world, start_api, connect):
    org = await world.organization()
    sales, support = await world.department(org), await world.department(org)
    seller = await world.user(org, "agent", sales)
    viewer = await world.user(org, "viewer", support)
    elsewhere = await world.conversation(org, support)
    api = await start_api()
    seller_socket = await connect(api.ws_url(seller.token))
    viewer_socket = await connect(api.ws_url(viewer.token))
    await seller_socket.ready()
    await viewer_socket.ready()

    await seller_socket.send({"type": "typing", "conversation_id": str(elsewhere)})
    await viewer_socket.send({"type": "typing", "conversation_id": str(elsewhere)})
    await seller_socket.send({"type": "typing", "conversation_id": "nope"})
    await seller_socket.wait(lambda: len(seller_socket.of("error")) == 2, "two refusals")
    await viewer_socket.wait(lambda: viewer_socket.of("error"), "the viewer's refusal")
    assert [e["code"] for e in seller_socket.of("error")] == ["not_found", "validation_error"]
    assert viewer_socket.of("error")[0]["code"] == "forbidden"
    await viewer_socket.roundtrip()
    assert viewer_socket.of("typing") == []


async def test_the_customers_typing_indicator_is_sent_at_most_once_per_period_per_conversation(redis):
    from api.live.typing_indicator import indicator_due

    first, second = uuid.uuid4(), uuid.uuid4()
    assert await indicator_due(redis, first, 20)
    assert not await indicator_due(redis, first, 20)  # an agent typing on: not again within the period
    assert await indicator_due(redis, second, 20)  # another conversation has its own
    assert 0 < await redis.pttl(f"typing:wa:{{{first}}}") <= 20_000  # the period: once it is over...
    await redis.delete(f"typing:wa:{{{first}}}")
    assert await indicator_due(redis, first, 20)  # ...the indicator may be shown again


async def test_an_agent_moved_to_another_department_is_routed_anew_at_the_next_token_check(
        world, start_api, publisher, connect):
    org = await world.organization()
    sales, support = await world.department(org), await world.department(org)
    agent, colleague = await world.user(org, "agent", sales), await world.user(org, "agent", sales, support)
    # a colleague's (none waiting: the agent coming online is assigned none, and sees them by department only)
    sale = await world.conversation(org, sales, assigned_to=colleague.user_id)
    helped = await world.conversation(org, support, assigned_to=colleague.user_id)
    api = await start_api(PYTAKE_LIVE_RECHECK_SECONDS="0.5")
    socket = await connect(api.ws_url(agent.token))
    await socket.ready()
    await world.inbound(sale, "still in sales")
    await socket.wait(lambda: _texts(socket.events(sale)), "the sales event")

    async with world.db.raw() as conn:
        await conn.execute("DELETE FROM user_departments WHERE user_id = $1", agent.user_id)
        await conn.execute("INSERT INTO user_departments (user_id, department_id) VALUES ($1, $2)",
                           agent.user_id, support)

    async def moved() -> list:  # a support event each look: one gets through once a check re-read the departments
        await world.inbound(helped, "support")
        return _texts(socket.events(helped))
    await eventually(moved, "a support event after the move")
    await world.inbound(sale, "not theirs any more")
    await world.inbound(helped, "last")
    await socket.wait(lambda: _texts(socket.events(helped))[-1:] == ["last"], "the last support event")
    assert _texts(socket.events(sale)) == ["still in sales"]


def _texts(events: list) -> list[str]:
    """The texts of the customers' messages among ``events``."""
    return [e["event"]["data"]["message"]["content"]["text"] for e in events
            if e["event"]["type"] == "message.received"]
