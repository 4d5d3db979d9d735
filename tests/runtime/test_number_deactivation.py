"""A WhatsApp number deactivated (``PATCH is_active: false``) or deleted stops sending.

Inbound traffic for such a number is ignored (`api.whatsapp.numbers`) from the change
on, in every API process within about a second (not at the number cache's 30 s expiry);
what goes out must stop too: an agent's reply is refused naming the number, a row already
waiting in the outbox fails with the reason instead of reaching Meta, a campaign on the
number does not start or resume, and one running when the number goes is paused.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from tests.runtime.campaign_helpers import Api, add_contacts, approved_template, prepare_number, user_headers

CUSTOMER = "5511900000001"
CACHE_TTL = 30.0  # api.whatsapp.numbers: what a stale number would last without the generation


@pytest.fixture
async def api(servers) -> Api:
    await prepare_number(servers.db, servers.seeded.number_id, servers.seeded.organization_id)
    return Api(servers.client, servers.pytake_url, await user_headers(servers.db, servers.seeded.organization_id))


async def _conversation(api: Api, servers, add, flows) -> dict[str, Any]:
    """A conversation the customer opened (the echo flow answered them once)."""
    await add("echo", flows["echo"])
    await servers.customer_says(CUSTOMER, "oi")
    await servers.wait_for(lambda: len(servers.inbox(CUSTOMER)) >= 1)
    return (await api.ok("GET", "/conversations"))["items"][0]


@pytest.mark.parametrize("how", ["deactivated", "deleted"])
async def test_an_agent_reply_on_a_number_that_is_gone_is_refused_naming_it(api, servers, add, flows, how):
    conversation = await _conversation(api, servers, add, flows)
    number = f"/whatsapp-numbers/{servers.seeded.number_id}"
    if how == "deactivated":
        await api.ok("PATCH", number, {"is_active": False})
    else:
        await api.ok("DELETE", number, status=204)

    response = await api.call("POST", f"/conversations/{conversation['id']}/messages",
                              {"type": "text", "text": "olá, aqui é a Ana"})

    assert response.status_code == 409, response.text
    assert response.json()["error"]["field"] == "whatsapp_number_id"
    assert how in response.json()["error"]["message"]
    messages = (await api.ok("GET", f"/conversations/{conversation['id']}/messages"))["items"]
    assert not [m for m in messages if m["sender_type"] == "agent"]  # nothing half-written
    assert [m["payload"]["text"]["body"] for m in servers.inbox(CUSTOMER)] == ["Diga algo"]


async def test_a_row_waiting_in_the_outbox_when_its_number_is_deactivated_fails_with_the_reason(local, db):
    from api.outbox import Sender, insert_outbound, outbound_rows

    result = await local.receive(CUSTOMER, "oi")
    async with db.transaction() as s:
        (mid,) = await insert_outbound(s, outbound_rows(result.conversations[0],
                                                       [{"type": "text", "content": {"text": "x"}}]))
        await s.execute(text("UPDATE whatsapp_numbers SET is_active = false WHERE id = :n"),
                        {"n": local.seeded.number_id})

    await Sender(local.rt).deliver_conversation(result.conversations[0])

    assert local.sandbox.state.accepted == []
    async with db.session() as s:
        row = (await s.execute(text("SELECT status, error_message FROM messages WHERE id = :m"),
                               {"m": mid})).mappings().one()
    assert row["status"] == "failed" and "deactivated" in row["error_message"], dict(row)


async def _stored(servers, text_: str) -> int:
    """The customer says ``text_``: how many messages the webhook stored (0: ignored)."""
    response = await servers.customer_says(CUSTOMER, text_)
    assert response.status_code == 200, response.text
    return response.json()["stored"]


async def test_another_process_deactivating_the_number_stops_its_messages_within_a_second(servers, redis):
    from api.whatsapp.numbers import GENERATION_KEY

    assert await _stored(servers, "oi") == 1  # the number is cached in this process now
    started = asyncio.get_running_loop().time()
    # what another API process's PATCH does: its commit, then the generation (never this process's cache)
    async with servers.db.transaction() as s:
        await s.execute(text("UPDATE whatsapp_numbers SET is_active = false WHERE id = :n"),
                        {"n": servers.seeded.number_id})
    await redis.incr(GENERATION_KEY)

    said = iter(range(10_000))

    async def ignored() -> bool:
        return await _stored(servers, f"ainda aí? {next(said)}") == 0

    await servers.wait_for(ignored, timeout=CACHE_TTL / 2)
    assert asyncio.get_running_loop().time() - started < CACHE_TTL
    assert await _stored(servers, "alô") == 0
    async with servers.db.session() as s:
        texts = (await s.execute(text("SELECT content->>'text' FROM messages WHERE direction = 'inbound'"))).scalars()
        assert "alô" not in set(texts)


async def test_a_number_activated_again_takes_messages_at_once(api, servers):
    number = f"/whatsapp-numbers/{servers.seeded.number_id}"
    await api.ok("PATCH", number, {"is_active": False})
    assert await _stored(servers, "oi") == 0  # ignored, and cached as no number

    await api.ok("PATCH", number, {"is_active": True})

    assert await _stored(servers, "oi de novo") == 1


def _templates_sent(servers) -> int:
    return sum(1 for inbox in list(servers.sandbox.inboxes.values()) for m in inbox if m["type"] == "template")


async def test_a_campaign_does_not_start_on_a_deactivated_number_and_a_running_one_pauses(api, servers):
    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 200, prefix="55119", tags=["vip"])
    campaign = await api.ok("POST", "/campaigns", {"name": "Semana", "template_id": template,
                                                   "message_content": {"body": ["10%"]},
                                                   "target_filters": {"tags": ["vip"]}}, status=201)
    number = f"/whatsapp-numbers/{servers.seeded.number_id}"

    await api.ok("PATCH", number, {"is_active": False})
    refused = await api.call("POST", f"/campaigns/{campaign['id']}/start", {})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "whatsapp_number_id" and "deactivated" in refused.json()["error"]["message"]
    assert (await api.ok("GET", f"/campaigns/{campaign['id']}"))["status"] == "draft"
    assert _templates_sent(servers) == 0

    await api.ok("PATCH", number, {"is_active": True})
    async with servers.db.transaction() as s:  # ten a second: the campaign is still sending when the number goes
        await s.execute(text("UPDATE whatsapp_numbers SET settings = settings || '{\"rate_limit_per_second\": 10}' "
                             "WHERE id = :n"), {"n": servers.seeded.number_id})
    await api.ok("POST", f"/campaigns/{campaign['id']}/start", {})
    await servers.wait_for(lambda: _templates_sent(servers))

    await api.ok("PATCH", number, {"is_active": False})

    assert (await api.ok("GET", f"/campaigns/{campaign['id']}"))["status"] == "paused"
    async with servers.db.session() as s:
        claimed = (await s.execute(text("SELECT count(message_id) FROM campaign_recipients WHERE campaign_id = :c"),
                                   {"c": campaign["id"]})).scalar_one()
    assert claimed < 200
    await servers.wait_for(lambda: _templates_sent(servers) == claimed)  # the rows claimed before it went
    refused = await api.call("POST", f"/campaigns/{campaign['id']}/resume", {})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "whatsapp_number_id", refused.text
    assert (await api.ok("GET", f"/campaigns/{campaign['id']}"))["status"] == "paused"
    async with servers.db.session() as s:
        assert (await s.execute(text("SELECT count(message_id) FROM campaign_recipients WHERE campaign_id = :c"),
                                {"c": campaign["id"]})).scalar_one() == claimed
    assert _templates_sent(servers) == claimed
