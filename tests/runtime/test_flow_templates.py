"""Flows that send a template (a `message` node's `template`), for real.

Through the sandbox over HTTP: the template is submitted and approved by the
sandbox's review webhook, a published flow sends it, and the sandbox receives
Meta's documented template object. A template paused after the flow was
published is not sent: the step writes a ``flow.error`` naming the node, and
Meta never answers 132000. With the 24-hour window closed, the template still
goes out and the free-form text after it does not.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from api.outbox import OUTSIDE_WINDOW, Sender
from tests.runtime.conftest import _canvas
from tests.runtime.test_templates import Api, _approved, api  # noqa: F401  (the API fixture)

SHIPPED = {
    "name": "order_shipped", "language": "pt_BR", "category": "UTILITY",
    "header_type": "TEXT", "header_content": "Pedido {{1}}",
    "body_text": "Olá {{1}}, seu pedido {{2}} saiu para entrega.",
    "variables": [{"name": "1", "example": "João"}, {"name": "2", "example": "A-17"},
                  {"component": "header", "name": "1", "example": "A-17"}],
}

FLOW = _canvas(
    [{"id": "start", "type": "start"},
     {"id": "shipped", "type": "message", "data": {"template": {
         "name": "order_shipped", "language": "pt_BR", "header": "A-17",
         "parameters": ["{{contact.name | default(\"cliente\")}}", "A-17"]}}},
     {"id": "after", "type": "message", "data": {"text": "Qualquer dúvida, é só chamar."}},
     {"id": "end", "type": "end"}],
    [("start", "shipped", None), ("shipped", "after", None), ("after", "end", None)])


def _sent(servers, wa_id: str, kind: str) -> list[dict[str, Any]]:
    return [m["payload"] for m in servers.inbox(wa_id) if m["type"] == kind]


async def test_a_flow_sends_an_approved_template_in_metas_wire_format(api: Api, add, query) -> None:  # noqa: F811
    servers = api.servers
    await _approved(api, SHIPPED)
    await add("entrega", FLOW)
    await servers.customer_says("5511977770001", "oi", profile_name="Maria")
    await servers.wait_for(lambda: _sent(servers, "5511977770001", "text"))
    [sent] = _sent(servers, "5511977770001", "template")
    assert sent["to"] == "5511977770001"
    assert sent["template"] == {
        "name": "order_shipped", "language": {"code": "pt_BR"},
        "components": [
            {"type": "header", "parameters": [{"type": "text", "text": "A-17"}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Maria"}, {"type": "text", "text": "A-17"}]},
        ]}
    assert servers.sandbox.rejected == []
    stored = (await query("SELECT content FROM messages WHERE type = 'template'"))[0]["content"]
    assert stored["text"] == "Olá Maria, seu pedido A-17 saiu para entrega."


async def test_a_template_paused_after_publish_is_a_flow_error_not_a_meta_refusal(api: Api, add, query, db) -> None:  # noqa: F811
    servers = api.servers
    await _approved(api, SHIPPED)
    await add("entrega", FLOW)
    async with db.transaction() as s:
        await s.execute(text("UPDATE whatsapp_templates SET meta_status = 'PAUSED'"))
    await servers.customer_says("5511977770002", "oi", profile_name="Maria")
    await servers.wait_for(lambda: _sent(servers, "5511977770002", "text"))  # the run went on
    assert _sent(servers, "5511977770002", "template") == []
    assert servers.sandbox.rejected == []  # Meta never saw it: no 132xxx
    errors = await query("SELECT payload FROM events WHERE type = 'flow.error'")
    assert len(errors) == 1
    assert errors[0]["payload"]["node"] == "shipped"
    assert errors[0]["payload"]["error"]["code"] == "template_unavailable"
    assert "PAUSED" in errors[0]["payload"]["error"]["message"]


async def test_publishing_a_flow_checks_the_template_against_the_organization(api: Api) -> None:  # noqa: F811
    servers = api.servers
    await _approved(api, SHIPPED)
    created = await api.ok("POST", "/flows/lint", {"canvas_data": FLOW})
    assert created["diagnostics"] == []  # no organization named: the shape only
    flow_id = await _flow(api)
    short = _canvas(
        [{"id": "start", "type": "start"},
         {"id": "shipped", "type": "message", "data": {"template": {"name": "order_shipped", "parameters": ["x"]}}},
         {"id": "missing", "type": "message", "data": {"template": {"name": "order_lost"}}},
         {"id": "end", "type": "end"}],
        [("start", "shipped", None), ("shipped", "missing", None), ("missing", "end", None)])
    linted = await api.ok("POST", "/flows/lint", {"canvas_data": short, "flow_id": flow_id})
    codes = {(d["node_id"], d["code"]) for d in linted["diagnostics"]}
    assert codes == {("shipped", "template-parameters"), ("missing", "template-unknown")}


async def _flow(api: Api) -> str:
    from pytake.hosting.seed import add_flow

    return str(await add_flow(api.servers.db, api.servers.seeded, "entrega", FLOW))


async def test_a_flow_template_goes_out_after_the_24_hour_window_and_free_form_does_not(local, add, query, db):
    await _approved_row(db, local.seeded.organization_id)
    await add("entrega", FLOW)
    result = await local.receive("5511977770003", "oi", profile_name="Maria")
    [conversation] = result.conversations
    async with db.transaction() as s:
        await s.execute(text("UPDATE conversations SET twenty_four_hour_window_expires_at = now() - interval '1 hour'"))
    await local.process(conversation)
    await Sender(local.rt).deliver_conversation(conversation)
    rows = await query("SELECT type, status, error_message FROM messages WHERE direction = 'outbound' "
                       "ORDER BY created_at")
    assert [(r["type"], r["status"]) for r in rows] == [("template", "sent"), ("text", "failed")]
    assert rows[1]["error_message"] == OUTSIDE_WINDOW
    assert [m["type"] for m in local.sandbox.state.accepted] == ["template"]


async def _approved_row(db, org) -> None:
    async with db.transaction() as s:
        await s.execute(text(
            "INSERT INTO whatsapp_templates (organization_id, name, language, category, meta_status, header_type, "
            "header_content, body_text) VALUES (:org, 'order_shipped', 'pt_BR', 'UTILITY', 'APPROVED', 'TEXT', "
            "'Pedido {{1}}', 'Olá {{1}}, seu pedido {{2}} saiu para entrega.')"), {"org": org})


async def test_a_parameter_that_renders_empty_is_a_flow_error_and_nothing_is_queued(local, add, query, db):
    await _approved_row(db, local.seeded.organization_id)
    flow = _canvas(
        [{"id": "start", "type": "start"},
         {"id": "shipped", "type": "message", "data": {"template": {
             "name": "order_shipped", "header": "A-17", "parameters": ["{{contact.email}}", "A-17"]}}},
         {"id": "end", "type": "end"}],
        [("start", "shipped", None), ("shipped", "end", None)])
    await add("entrega", flow)
    result = await local.receive("5511977770004", "oi")  # a contact without an email
    await local.process(result.conversations[0])
    assert await query("SELECT id FROM messages WHERE direction = 'outbound'") == []
    [error] = [e["payload"] for e in await query("SELECT payload FROM events WHERE type = 'flow.error'")]
    assert (error["node"], error["error"]["code"]) == ("shipped", "template_parameters")
    assert "body.0" in error["error"]["message"]


VISIT = {"name": "nova_loja", "language": "pt_BR", "category": "MARKETING", "header_type": "LOCATION",
         "body_text": "Abrimos uma loja perto de você!"}
VISIT_FLOW = _canvas(
    [{"id": "start", "type": "start"},
     {"id": "visit", "type": "message", "data": {"template": {
         "name": "nova_loja", "header_location": {
             "latitude": -8.0631, "longitude": -34.8711, "name": "Loja de {{contact.name}}",
             "address": "{{contact.attributes.address | default(\"\")}}"}}}},
     {"id": "end", "type": "end"}],
    [("start", "visit", None), ("visit", "end", None)])


async def test_a_flow_sends_a_location_header_template_with_its_place(api: Api, add) -> None:  # noqa: F811
    """The place comes from the flow (its name rendered for the contact; an address that renders
    empty is left out, as both are optional). Before, a flow could not send such a template at all."""
    servers = api.servers
    await _approved(api, VISIT)
    await add("loja", VISIT_FLOW)
    await servers.customer_says("5511977770009", "oi", profile_name="Maria")
    sent = await servers.wait_for(lambda: _sent(servers, "5511977770009", "template"))
    assert sent[0]["template"] == {
        "name": "nova_loja", "language": {"code": "pt_BR"},
        "components": [{"type": "header", "parameters": [{"type": "location", "location": {
            "latitude": -8.0631, "longitude": -34.8711, "name": "Loja de Maria"}}]}]}
    assert servers.sandbox.rejected == []
