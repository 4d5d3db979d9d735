"""One API process holds hundreds of agents' sockets: each gets its ``ready`` and the
events of its queue, none the others'.

The API process's Redis pool used to be redis-py's default, which fails every
command past its 100th connection: a burst of agents connecting at once (a
restarted process's sockets all coming back) got many of its sockets closed
before their ``ready``. The clients here share one aiohttp session without
aiohttp's default cap of 100 connections (a WebSocket keeps its connection for
life: that cap is what stopped `bench/inbox.py` at ~50 sockets per process).
"""

from __future__ import annotations

import asyncio

import aiohttp

from tests.live.conftest import DEADLINE, Client

SOCKETS = 300
OTHER_QUEUE = 10  # of them, agents of another department


async def test_three_hundred_sockets_on_one_process_all_get_ready_and_their_events(world, start_api, publisher):
    org = await world.organization()
    sales, support = await world.department(org), await world.department(org)
    agents = [await world.user(org, "agent", support if i < OTHER_QUEUE else sales) for i in range(SOCKETS)]
    api = await start_api()

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    clients: list[Client] = []
    try:
        async def open_socket(token: str) -> Client:  # all at once: a burst of agents logging in
            ws = await asyncio.wait_for(session.ws_connect(api.ws_url(token), heartbeat=None), DEADLINE)
            client = Client(session, ws)
            clients.append(client)
            return client

        sockets = await asyncio.gather(*(open_socket(agent.token) for agent in agents))
        readies = await asyncio.gather(*(client.ready() for client in sockets))
        assert sorted(r["user_id"] for r in readies) == sorted(str(a.user_id) for a in agents)

        sale = await world.conversation(org, sales)
        helped = await world.conversation(org, support)
        await world.inbound(sale, "quero comprar")
        await world.inbound(helped, "preciso de ajuda")
        await world.inbound(sale, "hoje")
        sellers, helpers = sockets[OTHER_QUEUE:], sockets[:OTHER_QUEUE]
        await asyncio.gather(*(c.wait(lambda c=c: len(c.events(sale)) == 2, "a seller's events") for c in sellers))
        await asyncio.gather(*(c.wait(lambda c=c: c.events(helped), "a helper's event") for c in helpers))
        # one socket's messages come in order: had the support event (or the first sale) reached a
        # seller (a helper), it would be there before the second sale (the support event)
        assert all(len(c.of("event")) == 2 for c in sellers)
        assert all(c.events(sale) == [] and len(c.of("event")) == 1 for c in helpers)
        texts = {tuple(e["event"]["data"]["message"]["content"]["text"] for e in c.events(sale)) for c in sellers}
        assert texts == {("quero comprar", "hoje")}
    finally:
        for client in clients:
            await client.ws.close()
        await session.close()
