"""The live channel checks its token as HTTP does, at connect and while open."""

from __future__ import annotations

import time

import aiohttp

from api import redis_keys


async def _close_of(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as ws:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.CLOSE, msg
            return msg.data, msg.extra


async def test_a_missing_invalid_or_revoked_token_is_refused_with_4401(world, start_api):
    org = await world.organization()
    agent = await world.user(org, "agent")
    api = await start_api()
    assert await _close_of(api.ws_url(None)) == (4401, "missing_token")
    assert await _close_of(api.ws_url(agent.token[:-4] + "AAAA")) == (4401, "invalid_token")
    forged = await world.user(org, "agent")
    other_key = forged.token.split(".")
    assert await _close_of(api.ws_url(".".join([other_key[0], other_key[1], "x" * 43]))) == (4401, "invalid_token")

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {agent.token}"}) as http:
        async with http.post(f"{api.url}/auth/logout") as response:
            assert response.status == 204
    assert await _close_of(api.ws_url(agent.token)) == (4401, "token_revoked")


async def test_an_inactive_user_is_refused(world, start_api):
    org = await world.organization()
    agent = await world.user(org, "agent")
    await world.sql("UPDATE users SET is_active = false WHERE id = $1", agent.user_id)
    api = await start_api()
    code, reason = await _close_of(api.ws_url(agent.token))
    assert code in (4401, 4403), (code, reason)


async def test_an_open_socket_is_closed_when_the_users_sessions_end(world, start_api, connect, redis):
    org = await world.organization()
    agent = await world.user(org, "agent")
    api = await start_api(PYTAKE_LIVE_RECHECK_SECONDS="0.2")
    client = await connect(api.ws_url(agent.token))
    await client.ready()
    # what a password change, deactivation or role change does (api.auth.sessions)
    await redis_keys.end_sessions(redis, agent.user_id, int(time.time() * 1000), 900)
    await client.wait(lambda: client.closed is not None, "the socket to be closed")
    assert client.ws.close_code == 4401
