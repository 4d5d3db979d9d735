"""What agents send, through the reply route, as the sandbox (Meta) receives it: reply buttons,
lists, quick replies with their variables; the 24-hour window; Meta's refusal on the message."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from api.db.models import QuickReply
from tests.runtime.conftest import Api, user_headers


@pytest.fixture
async def api(servers) -> Api:
    return Api(servers, await user_headers(servers.db, servers.seeded.organization_id))


async def _conversation(servers, wa_id: str, says: str = "oi") -> str:
    await servers.customer_says(wa_id, says)

    async def found() -> Any:
        async with servers.db.session() as s:
            return (await s.execute(text("SELECT c.id FROM conversations c JOIN contacts k ON k.id = c.contact_id "
                                         "WHERE k.whatsapp_id = :w"), {"w": wa_id})).scalar()
    return str(await servers.wait_for(found))


async def _received(servers, wa_id: str, message: dict[str, Any]) -> dict[str, Any]:
    """What the sandbox got for the reply ``message`` (its row id is the send's callback data)."""
    found = await servers.wait_for(lambda: [m for m in servers.inbox(wa_id) if m["callback_data"] == message["id"]])
    return found[0]["payload"]


async def test_reply_buttons_reach_the_customer_in_metas_interactive_shape(api: Api) -> None:
    wa_id = "5511966660001"
    conversation = await _conversation(api.servers, wa_id)
    sent = await api.ok("POST", f"/conversations/{conversation}/messages", {
        "type": "button", "text": "Confirma o pedido?", "footer": "Loja Napoli",
        "buttons": [{"id": "yes", "title": "Sim"}, {"id": "no", "title": "Não"}]}, status=201)
    payload = await _received(api.servers, wa_id, sent)
    assert payload["interactive"] == {
        "type": "button", "body": {"text": "Confirma o pedido?"}, "footer": {"text": "Loja Napoli"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Sim"}},
                               {"type": "reply", "reply": {"id": "no", "title": "Não"}}]}}


async def test_a_list_reaches_the_customer_in_metas_list_shape(api: Api) -> None:
    wa_id = "5511966660002"
    conversation = await _conversation(api.servers, wa_id)
    sent = await api.ok("POST", f"/conversations/{conversation}/messages", {
        "type": "list", "text": "Escolha o sabor", "button": "Sabores", "section_title": "Pizzas",
        "rows": [{"id": "m", "title": "Margherita", "description": "tomate e manjericão"},
                 {"id": "c", "title": "Calabresa"}]}, status=201)
    payload = await _received(api.servers, wa_id, sent)
    assert payload["interactive"]["type"] == "list"
    assert payload["interactive"]["action"] == {"button": "Sabores", "sections": [{"title": "Pizzas", "rows": [
        {"id": "m", "title": "Margherita", "description": "tomate e manjericão"}, {"id": "c", "title": "Calabresa"}]}]}


@pytest.mark.parametrize("body, field", [
    ({"type": "button", "text": "x", "buttons": [{"id": str(i), "title": f"b{i}"} for i in range(4)]}, "buttons"),
    ({"type": "button", "text": "x", "buttons": [{"id": "a", "title": "t" * 21}]}, "buttons.0.title"),
    ({"type": "button", "text": "x", "buttons": [{"id": "a", "title": "A"}, {"id": "b", "title": "A"}]},
     "buttons.1.title"),
    ({"type": "button", "text": "x" * 1025, "buttons": [{"id": "a", "title": "A"}]}, "text"),
    ({"type": "list", "text": "x", "button": "Ver", "rows": [{"id": str(i), "title": "r"} for i in range(11)]},
     "rows"),
    ({"type": "list", "text": "x", "rows": [{"id": "a", "title": "A"}]}, "button"),
    ({"type": "list", "text": "x", "button": "Ver", "rows": [{"id": "a", "title": "A", "description": "d" * 73}]},
     "rows.0.description"),
])
async def test_interactive_replies_over_whatsapps_limits_are_422_naming_the_field(api: Api, body, field) -> None:
    conversation = await _conversation(api.servers, "5511966660003")
    response = await api.call("POST", f"/conversations/{conversation}/messages", body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


async def test_a_quick_reply_is_expanded_with_the_contacts_name(api: Api) -> None:
    servers = api.servers
    wa_id = "5511966660004"
    conversation = await _conversation(servers, wa_id)
    async with servers.db.transaction() as s:
        await s.execute(text("UPDATE contacts SET name = 'Maria Souza' WHERE whatsapp_id = :w"), {"w": wa_id})
        s.add(QuickReply(organization_id=servers.seeded.organization_id, shortcut="/ola", title="Olá",
                         content="Olá {{contact.first_name}}! Seu pedido {{pedido}} está a caminho."))
    missing = await api.call("POST", f"/conversations/{conversation}/messages",
                             {"type": "quick_reply", "shortcut": "/ola"})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "variables.pedido"
    sent = await api.ok("POST", f"/conversations/{conversation}/messages",
                        {"type": "quick_reply", "shortcut": "ola", "variables": {"pedido": "A-17"}}, status=201)
    assert sent["type"] == "text"
    payload = await _received(servers, wa_id, sent)
    assert payload["text"]["body"] == "Olá Maria! Seu pedido A-17 está a caminho."
    async with servers.db.session() as s:
        assert (await s.execute(text("SELECT usage_count FROM quick_replies WHERE shortcut = '/ola'"))).scalar() == 1
    unknown = await api.call("POST", f"/conversations/{conversation}/messages",
                             {"type": "quick_reply", "shortcut": "/nope"})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "shortcut"


async def test_outside_the_24_hour_window_free_form_is_refused_and_a_template_is_named(api: Api) -> None:
    servers = api.servers
    conversation = await _conversation(servers, "5511966660005")
    async with servers.db.transaction() as s:  # the customer last wrote 25 hours ago
        await s.execute(text("UPDATE messages SET created_at = created_at - interval '25 hours' "
                             "WHERE conversation_id = :c AND direction = 'inbound'"), {"c": conversation})
    for body in ({"text": "ainda aí?"}, {"type": "button", "text": "x", "buttons": [{"id": "a", "title": "A"}]}):
        response = await api.call("POST", f"/conversations/{conversation}/messages", body)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["field"] == "type" and "24-hour" in error["message"] and "template" in error["message"]
    async with servers.db.session() as s:
        agents = (await s.execute(text("SELECT count(*) FROM messages WHERE conversation_id = :c "
                                       "AND sender_type = 'agent'"), {"c": conversation})).scalar()
    assert agents == 0


async def test_a_send_meta_refuses_shows_metas_code_and_text_on_the_message(api: Api) -> None:
    servers = api.servers
    wa_id = "5511966131026"  # the sandbox answers 131026 (undeliverable) for this recipient
    conversation = await _conversation(servers, wa_id)
    sent = await api.ok("POST", f"/conversations/{conversation}/messages", {"text": "olá"}, status=201)

    async def failed() -> Any:
        listed = await api.ok("GET", f"/conversations/{conversation}/messages?direction=outbound&status=failed")
        return [m for m in listed["items"] if m["id"] == sent["id"]]
    message = (await servers.wait_for(failed))[0]
    assert message["error"]["code"] == 131026
    assert message["error"]["message"] == "(#131026) Message undeliverable"
    assert message["error"]["details"] == "Message Undeliverable."
