"""Templates end to end through the sandbox: submit → review webhook → send → Meta's wire format.

PyTake and the sandbox run as real HTTP servers (`servers`); the sandbox reviews
a submitted template after a short delay and posts the signed
``message_template_status_update`` webhook to PyTake's webhook route.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.db.models import Organization, WhatsAppNumber
from api.runtime_context import Runtime
from api.sandbox import webhooks
from api.whatsapp.graph_client import GraphClient, PermanentGraphError
from tests.runtime.conftest import PNID, Api, make_settings, user_headers

WABA = "waba-100"

ORDER = {
    "name": "order_shipped", "language": "pt_BR", "category": "UTILITY",
    "header_type": "TEXT", "header_content": "Pedido {{1}}",
    "body_text": "Olá {{1}}, seu pedido {{2}} saiu para entrega.",
    "footer_text": "Loja Napoli",
    "variables": [{"name": "1", "example": "João"}, {"name": "2", "example": "A-17"},
                  {"component": "header", "name": "1", "example": "A-17"}],
    "buttons": [{"type": "QUICK_REPLY", "text": "Parar"},
                {"type": "URL", "text": "Rastrear", "url": "https://loja.example/r/{{1}}",
                 "example": "https://loja.example/r/A-17"},
                {"type": "PHONE_NUMBER", "text": "Ligar", "phone_number": "+5511999990000"}],
}


@pytest.fixture
async def api(servers) -> Api:
    async with servers.db.transaction() as s:
        await s.execute(text("UPDATE whatsapp_numbers SET whatsapp_business_account_id = :w WHERE id = :id"),
                        {"w": WABA, "id": servers.seeded.number_id})
    return Api(servers, await user_headers(servers.db, servers.seeded.organization_id))


async def _template(servers, template_id: str) -> dict[str, Any]:
    async with servers.db.session() as s:
        return dict((await s.execute(text("SELECT * FROM whatsapp_templates WHERE id = :id"),
                                     {"id": template_id})).mappings().one())


async def _approved(api: Api, definition: dict[str, Any]) -> dict[str, Any]:
    created = await api.ok("POST", "/templates", {**definition, "whatsapp_number_id": str(api.servers.seeded.number_id)},
                           status=201)
    submitted = await api.ok("POST", f"/templates/{created['id']}/submit", {})
    assert submitted["meta_status"] == "PENDING" and submitted["meta_template_id"]

    async def approved() -> bool:
        return (await _template(api.servers, created["id"]))["meta_status"] == "APPROVED"
    await api.servers.wait_for(approved)
    return submitted


async def _conversation(servers, wa_id: str) -> str:
    await servers.customer_says(wa_id, "oi")

    async def found() -> Any:
        async with servers.db.session() as s:
            return (await s.execute(text("SELECT c.id FROM conversations c JOIN contacts k ON k.id = c.contact_id "
                                         "WHERE k.whatsapp_id = :w"), {"w": wa_id})).scalar()
    return str(await servers.wait_for(found))


def _templates_in(servers, wa_id: str) -> list[dict[str, Any]]:
    return [m["payload"]["template"] for m in servers.inbox(wa_id) if m["type"] == "template"]


async def test_submit_approve_send_reaches_the_customer_in_metas_wire_format(api: Api) -> None:
    servers = api.servers
    template = await _approved(api, ORDER)
    assert servers.sandbox.templates[WABA][0]["components"][0] == {
        "type": "HEADER", "format": "TEXT", "text": "Pedido {{1}}", "example": {"header_text": ["A-17"]}}
    conversation = await _conversation(servers, "5511988887777")

    missing = await api.call("POST", f"/conversations/{conversation}/messages", {
        "type": "template", "template": {"id": template["id"], "body": ["Maria"], "header": "A-99",
                                         "buttons": [{"index": 1, "text": "A-99"}]}})
    assert missing.status_code == 422, missing.text
    assert missing.json()["error"]["field"] == "template.body[1]"
    no_button = await api.call("POST", f"/conversations/{conversation}/messages", {
        "type": "template", "template": {"id": template["id"], "body": ["Maria", "A-99"], "header": "A-99"}})
    assert no_button.json()["error"]["field"] == "template.buttons[1]"
    for values, field in (({"body": ["Maria\nSilva", "A-99"], "header": "A-99"}, "template.body[0]"),
                          ({"body": ["Maria", "A-99"], "header": "   "}, "template.header")):
        refused = await api.call("POST", f"/conversations/{conversation}/messages", {  # Meta's 132018, after the fact
            "type": "template", "template": {"id": template["id"], **values, "buttons": [{"index": 1, "text": "A"}]}})
        assert refused.status_code == 422 and refused.json()["error"]["field"] == field, refused.text

    sent = await api.ok("POST", f"/conversations/{conversation}/messages", {
        "type": "template", "template": {"id": template["id"], "body": ["Maria", "A-99"], "header": "A-99",
                                         "buttons": [{"index": 1, "text": "A-99"}]}}, status=201)
    assert sent["content"]["text"] == "Olá Maria, seu pedido A-99 saiu para entrega."
    # the rest the customer sees, as sent (the inbox shows it; the template may change later)
    assert sent["content"]["shown"] == {"header": "Pedido A-99", "footer": "Loja Napoli",
                                        "buttons": ["Parar", "Rastrear", "Ligar"]}
    received = await servers.wait_for(lambda: _templates_in(servers, "5511988887777"))
    assert received == [{
        "name": "order_shipped", "language": {"code": "pt_BR"},
        "components": [
            {"type": "header", "parameters": [{"type": "text", "text": "A-99"}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Maria"}, {"type": "text", "text": "A-99"}]},
            {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "A-99"}]},
        ]}]
    assert not [r for r in servers.sandbox.rejected if r.get("payload", {}).get("type") == "template"]

    async def delivered() -> bool:
        async with servers.db.session() as s:
            status = (await s.execute(text("SELECT status FROM messages WHERE id = :id"), {"id": sent["id"]})).scalar()
        return status in ("delivered", "read")
    await servers.wait_for(delivered)


async def test_a_media_header_needs_its_media_and_the_sandbox_refuses_a_wrong_count(api: Api) -> None:
    servers = api.servers
    template = await _approved(api, {"name": "new_menu", "category": "MARKETING", "header_type": "IMAGE",
                                     "header_content": "https://cdn.example/menu.jpg", "body_text": "Cardápio novo!"})
    conversation = await _conversation(servers, "5511977776666")
    response = await api.call("POST", f"/conversations/{conversation}/messages",
                              {"type": "template", "template": {"id": template["id"]}})
    assert response.status_code == 422 and response.json()["error"]["field"] == "template.header_media_url"
    extra = await api.call("POST", f"/conversations/{conversation}/messages", {"type": "template", "template": {
        "id": template["id"], "header_media_url": "https://cdn.example/m.jpg", "body": ["x"]}})
    assert extra.status_code == 422 and extra.json()["error"]["field"] == "template.body[0]"
    # a host that does not parse, a port out of range: a 422, not a 500 (nor Meta's failure later)
    for broken in ("https://[bad/x.jpg", "http://]/x.jpg", "https://cdn.example:99999999/m.jpg"):
        bad = await api.call("POST", f"/conversations/{conversation}/messages", {"type": "template", "template": {
            "id": template["id"], "header_media_url": broken}})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "template.header_media_url", bad.text
    pdf = await api.call("POST", f"/conversations/{conversation}/messages", {"type": "template", "template": {
        "id": template["id"], "header_media_url": "https://cdn.example/menu.pdf"}})  # Meta's 131053, after the fact
    assert pdf.status_code == 422 and pdf.json()["error"]["field"] == "template.header_media_url", pdf.text
    assert ".pdf" in pdf.json()["error"]["message"]
    sent = await api.ok("POST", f"/conversations/{conversation}/messages", {"type": "template", "template": {
        "id": template["id"], "header_media_url": "https://cdn.example/m.jpg"}}, status=201)
    assert sent["content"]["shown"]["header_media"] == {"type": "image", "link": "https://cdn.example/m.jpg"}
    received = await servers.wait_for(lambda: _templates_in(servers, "5511977776666"))
    assert received[0]["components"] == [
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://cdn.example/m.jpg"}}]}]

    # what the check spares us: Meta (the sandbox) refuses a template send whose count is wrong
    graph = GraphClient(servers.sandbox_url, "v27.0", client=httpx.AsyncClient())
    with pytest.raises(PermanentGraphError) as refused:
        await graph.send_template(PNID, "token", "5511977776666", "new_menu", "pt_BR", parameters=["x"])
    assert refused.value.code == 132000
    await graph._client.aclose()


async def test_rejected_by_review_with_the_reason_and_never_sent(api: Api) -> None:
    servers = api.servers
    created = await api.ok("POST", "/templates", {"name": "promo_reject_me", "category": "MARKETING",
                                                  "body_text": "Promo!",
                                                  "whatsapp_number_id": str(servers.seeded.number_id)}, status=201)
    await api.ok("POST", f"/templates/{created['id']}/submit", {})
    row = await servers.wait_for(lambda: _rejected(servers, created["id"]))
    assert row["rejection_reason"] == "INVALID_FORMAT"
    again = await api.call("POST", f"/templates/{created['id']}/submit", {})
    assert again.status_code == 409
    conversation = await _conversation(servers, "5511966665555")
    response = await api.call("POST", f"/conversations/{conversation}/messages",
                              {"type": "template", "template": {"id": created["id"]}})
    assert response.status_code == 422 and response.json()["error"]["field"] == "template.id"
    assert "REJECTED" in response.json()["error"]["message"]


async def _rejected(servers, template_id: str) -> dict[str, Any] | None:
    row = await _template(servers, template_id)
    return row if row["meta_status"] == "REJECTED" else None


@pytest.mark.parametrize("change, field", [
    ({"body_text": "Oi {{1}}", "variables": []}, "variables"),
    ({"body_text": "Oi {{2}}", "variables": [{"name": "2", "example": "x"}]}, "body_text"),
    ({"header_type": "IMAGE"}, "header_content"),
    ({"header_type": "TEXT", "header_content": "Oi {{1}}"}, "variables"),
    ({"buttons": [{"type": "URL", "text": "Ver", "url": "https://x.example/{{1}}"}]}, "buttons[0].example"),
    ({"buttons": [{"type": "PHONE_NUMBER", "text": "Ligar", "phone_number": "abc"}]}, "buttons[0].phone_number"),
    ({"buttons": [{"type": "QUICK_REPLY", "text": "x" * 26}]}, "buttons[0].text"),
    # quick replies and the other buttons are two groups, each in one piece
    ({"buttons": [{"type": "QUICK_REPLY", "text": "Sim"}, {"type": "PHONE_NUMBER", "text": "Ligar",
                                                          "phone_number": "+5511999990000"},
                  {"type": "QUICK_REPLY", "text": "Não"}]}, "buttons[2].type"),
    ({"buttons": [{"type": "URL", "text": "Ver", "url": "https://x.example/a"}, {"type": "QUICK_REPLY", "text": "Sim"},
                  {"type": "URL", "text": "Loja", "url": "https://x.example/b"}]}, "buttons[2].type"),
    ({"category": None}, "category"),
    ({"whatsapp_number_id": None}, "whatsapp_number_id"),
    ({"body_text": "   "}, "body_text"),
    ({"footer_text": "Até {{1}}"}, "footer_text"),
    ({"header_type": "IMAGE", "header_content": "https://cdn.example/menu.pdf"}, "header_content"),
    ({"header_type": "VIDEO", "header_content": "https://cdn.example/promo.jpg"}, "header_content"),
    # what would reach Meta broken (and raised a 500 before): a host that does not parse, a port out of
    # range, a button type that is not text, a phone in other digits than 0-9, an example that is no text
    ({"header_type": "IMAGE", "header_content": "https://[bad/x.jpg"}, "header_content"),
    ({"header_type": "IMAGE", "header_content": "https://a.example:99999999/x.jpg"}, "header_content"),
    ({"buttons": [{"type": ["URL"], "text": "Ver"}]}, "buttons[0].type"),
    ({"buttons": [{"type": {"a": 1}, "text": "Ver"}]}, "buttons[0].type"),
    ({"buttons": [{"type": "URL", "text": "Ver", "url": "https://[bad/x"}]}, "buttons[0].url"),
    ({"buttons": [{"type": "PHONE_NUMBER", "text": "Ligar", "phone_number": "+٥٥١١٩٩٩٩٩٠٠٠٠"}]},
     "buttons[0].phone_number"),
    ({"body_text": "Oi {{1}}, tudo bem", "variables": [{"name": "1", "example": {"x": 1}}]}, "variables[0].example"),
    # a LOCATION header's place is each send's, and Meta takes one in UTILITY and MARKETING templates only
    ({"header_type": "LOCATION", "header_content": "Rua 1"}, "header_content"),
    ({"header_type": "LOCATION", "category": "AUTHENTICATION"}, "header_type"),
    # where Meta refuses a body's variables to stand: at its end (punctuation after it counts),
    # at its start, side by side
    ({"body_text": "Seu pedido saiu, {{1}}.", "variables": [{"name": "1", "example": "Ana"}]}, "body_text"),
    ({"body_text": "{{1}}, seu pedido saiu", "variables": [{"name": "1", "example": "Ana"}]}, "body_text"),
    ({"body_text": "Oi {{1}} {{2}}, seu pedido saiu", "variables": [{"name": "1", "example": "Ana"},
                                                                     {"name": "2", "example": "Lima"}]}, "body_text"),
])
async def test_what_meta_would_refuse_is_a_422_before_any_call(api: Api, change: dict, field: str) -> None:
    servers = api.servers
    definition = {"name": "check_me", "category": "UTILITY", "body_text": "Oi",
                  "whatsapp_number_id": str(servers.seeded.number_id), **change}
    created = await api.ok("POST", "/templates", {k: v for k, v in definition.items() if v is not None}, status=201)
    response = await api.call("POST", f"/templates/{created['id']}/submit", {})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert servers.sandbox.templates.get(WABA, []) == []
    assert (await _template(servers, created["id"]))["meta_template_id"] is None


async def test_paused_disabled_and_quality_webhooks_update_only_that_wabas_rows(api: Api) -> None:
    servers = api.servers
    template = await _approved(api, {"name": "reminder", "category": "UTILITY", "body_text": "Lembrete"})
    # another organization, another WABA, a template of the same name and language
    async with servers.db.transaction() as s:
        other = Organization(name="Other", slug=f"other-{uuid.uuid4().hex[:8]}")
        s.add(other)
        await s.flush()
        number = WhatsAppNumber(organization_id=other.id, phone_number="+5511900000001", phone_number_id="999001",
                                whatsapp_business_account_id="waba-other")
        s.add(number)
        await s.flush()
        await s.execute(text("INSERT INTO whatsapp_templates (organization_id, whatsapp_number_id, name, language, "
                             "body_text, meta_status, meta_template_id) VALUES (:o, :n, 'reminder', 'pt_BR', 'x', "
                             "'APPROVED', :tid)"), {"o": other.id, "n": number.id, "tid": template["meta_template_id"]})

    response = await servers.client.post(servers.sandbox_url + "/_sandbox/templates/event", json={
        "id": template["meta_template_id"], "event": "PAUSED", "reason": "LOW_QUALITY", "quality": "RED"})
    assert response.status_code == 200

    async def paused() -> dict | None:
        row = await _template(servers, template["id"])
        return row if row["meta_status"] == "PAUSED" and row["quality_score"].get("score") == "RED" else None
    row = await servers.wait_for(paused)
    assert row["rejection_reason"] == "LOW_QUALITY" and row["quality_score"]["previous"] == "UNKNOWN"
    async with servers.db.session() as s:
        theirs = (await s.execute(text("SELECT meta_status FROM whatsapp_templates WHERE organization_id = :o"),
                                  {"o": other.id})).scalar()
    assert theirs == "APPROVED"

    await servers.client.post(servers.sandbox_url + "/_sandbox/templates/event",
                              json={"id": template["meta_template_id"], "event": "DISABLED"})
    await servers.wait_for(lambda: _status_is(servers, template["id"], "DISABLED"))

    # a template PyTake does not know, on a known and an unknown WABA: 200, a log line, nothing changed
    for waba in (WABA, "waba-nobody"):
        unknown = {"object": "whatsapp_business_account", "entry": [{"id": waba, "time": 1, "changes": [{
            "field": "message_template_status_update", "value": {
                "event": "APPROVED", "message_template_id": 424242, "message_template_name": "ghost",
                "message_template_language": "en_US", "reason": "NONE"}}]}]}
        answer = await webhooks.post_signed(servers.client, servers.pytake_url + "/webhooks/whatsapp",
                                            "test-app-secret", unknown)
        assert answer.status_code == 200, answer.text
    assert (await _template(servers, template["id"]))["meta_status"] == "DISABLED"


async def _status_is(servers, template_id: str, status: str) -> bool:
    return (await _template(servers, template_id))["meta_status"] == status


def _meta_template(i: int) -> dict[str, Any]:
    return {"id": str(900000 + i), "name": f"bulk_{i:03d}", "language": "pt_BR", "category": "MARKETING",
            "status": ["APPROVED", "REJECTED", "IN_APPEAL"][i % 3],
            "components": [{"type": "BODY", "text": "Oi {{1}}", "example": {"body_text": [["Ana"]]}},
                           {"type": "FOOTER", "text": "rodapé"}],
            "quality_score": {"score": "GREEN"}}


async def test_sync_pages_through_every_template_and_drops_the_ones_meta_deleted(api: Api) -> None:
    servers = api.servers
    servers.sandbox.templates[WABA] = [_meta_template(i) for i in range(130)]  # two pages of 100
    answer = await api.ok("POST", "/templates/sync", {})
    assert answer == {"numbers": 1, "templates": 130}
    async with servers.db.session() as s:
        rows = (await s.execute(text("SELECT name, meta_status, variables, footer_text FROM whatsapp_templates "
                                     "WHERE organization_id = :o ORDER BY name"),
                                {"o": servers.seeded.organization_id})).mappings().all()
    assert len(rows) == 130
    assert [r["meta_status"] for r in rows[:3]] == ["APPROVED", "REJECTED", "PENDING"]
    assert rows[0]["variables"] == [{"component": "body", "name": "1", "example": "Ana"}]
    assert rows[0]["footer_text"] == "rodapé"

    servers.sandbox.templates[WABA] = servers.sandbox.templates[WABA][1:]
    servers.sandbox.templates[WABA][0]["status"] = "PAUSED"
    await api.ok("POST", "/templates/sync", {"whatsapp_number_id": str(servers.seeded.number_id)})
    async with servers.db.session() as s:
        names = dict((await s.execute(text("SELECT name, meta_status FROM whatsapp_templates WHERE organization_id = :o"),
                                      {"o": servers.seeded.organization_id})).all())
    assert "bulk_000" not in names and names["bulk_001"] == "PAUSED" and len(names) == 129


async def test_the_maintenance_loop_syncs_every_six_hours(api: Api, redis, database_url, redis_url, tmp_path) -> None:
    from api.workers import maintenance

    servers = api.servers
    servers.sandbox.templates[WABA] = [_meta_template(i) for i in range(3)]
    settings = make_settings(database_url, redis_url, tmp_path, PYTAKE_GRAPH_API_URL=servers.sandbox_url)
    rt = Runtime.build(servers.db, redis, settings)
    try:
        await maintenance.tick(rt)

        async def synced() -> bool:
            async with servers.db.session() as s:
                return (await s.execute(text("SELECT count(*) FROM whatsapp_templates"))).scalar() == 3
        await servers.wait_for(synced)
        assert 0 < await redis.pttl("maintenance:template-sync") <= 6 * 3600 * 1000
    finally:
        await rt.close()


async def test_delete_removes_the_template_at_meta_then_the_row(api: Api) -> None:
    servers = api.servers
    template = await _approved(api, {"name": "bye_bye", "category": "UTILITY", "body_text": "Tchau"})
    await api.ok("DELETE", f"/templates/{template['id']}", status=204)
    assert [t["name"] for t in servers.sandbox.templates[WABA]] == []
    assert (await api.call("GET", f"/templates/{template['id']}")).status_code == 404
    # a row Meta no longer has: Meta's refusal is a 422, and the row stays
    created = await api.ok("POST", "/templates", {"name": "ghost", "body_text": "x", "category": "UTILITY",
                                                  "whatsapp_number_id": str(servers.seeded.number_id)}, status=201)
    async with servers.db.transaction() as s:
        await s.execute(text("UPDATE whatsapp_templates SET meta_template_id = '1' WHERE id = :id"),
                        {"id": created["id"]})
    refused = await api.call("DELETE", f"/templates/{created['id']}")
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "meta"
    assert (await api.call("GET", f"/templates/{created['id']}")).status_code == 200


async def test_a_submitted_templates_content_cannot_be_patched_away_from_metas(api: Api) -> None:
    template = await _approved(api, {"name": "fixed_text", "category": "UTILITY", "body_text": "Olá"})
    response = await api.call("PATCH", f"/templates/{template['id']}", {"body_text": "Outro texto"})
    assert response.status_code == 409 and response.json()["error"]["field"] == "body_text"
    assert (await api.ok("PATCH", f"/templates/{template['id']}", {"is_active": False}))["is_active"] is False
    assert (await _template(api.servers, template["id"]))["body_text"] == "Olá"


@pytest.mark.parametrize("body, refused", [
    ("Oi {{1}}", "end"), ("Seu plano vale em {{1}}!", "end"), ("{{1}} chegou", "start"),
    ("Oi {{1}} {{2}}, tudo bem?", "side by side"),
    ("Oi {{1}}, tudo bem?", None), ("Oi {{1}} e {{2}}, tudo bem?", None), ("Oi {{1}} 😊", None), ("Oi", None),
])
def test_the_sandbox_refuses_a_body_whose_variables_meta_refuses(body: str, refused: str | None) -> None:
    from api.sandbox.templates import check_definition

    examples = [["x"] * body.count("{{")]
    problem = check_definition({"name": "t", "language": "pt_BR", "category": "UTILITY", "components": [
        {"type": "BODY", "text": body, **({"example": {"body_text": examples}} if "{{" in body else {})}]})
    assert (problem is None) if refused is None else (refused in (problem or "")), problem


@pytest.mark.parametrize("kinds, refused", [
    (["QUICK_REPLY", "URL", "QUICK_REPLY"], True), (["URL", "QUICK_REPLY", "PHONE_NUMBER"], True),
    (["QUICK_REPLY", "QUICK_REPLY", "URL", "PHONE_NUMBER"], False), (["URL", "PHONE_NUMBER", "QUICK_REPLY"], False),
    (["QUICK_REPLY"], False), ([], False),
])
def test_the_sandbox_refuses_buttons_out_of_their_two_groups(kinds: list[str], refused: bool) -> None:
    from api.sandbox.templates import check_definition

    buttons = [{"type": kind, "text": f"b{i}", **({"url": "https://x.example"} if kind == "URL" else {}),
                **({"phone_number": "+5511999990000"} if kind == "PHONE_NUMBER" else {})}
               for i, kind in enumerate(kinds)]
    problem = check_definition({"name": "t", "language": "pt_BR", "category": "MARKETING", "components": [
        {"type": "BODY", "text": "Oi"}, *([{"type": "BUTTONS", "buttons": buttons}] if buttons else [])]})
    assert (problem is not None and "Invalid buttons combination" in problem) if refused else problem is None, problem


async def test_copy_code_and_authentication_templates_are_sent_with_their_codes(api: Api) -> None:
    """Templates made in Meta's Business Manager and synced: a coupon's COPY_CODE button and an
    authentication template's OTP button each take a parameter, or Meta answers 132000. The
    coupon is a 422 naming the button when missing or longer than WhatsApp's 15 characters; the
    OTP button takes the body's code unless given its own. Both reach Meta as its API documents."""
    servers = api.servers
    servers.sandbox.templates[WABA] = [
        {"id": "900001", "name": "coupon_week", "language": "pt_BR", "status": "APPROVED", "category": "MARKETING",
         "components": [{"type": "BODY", "text": "Seu cupom da semana!"},
                        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Parar"},
                                                        {"type": "COPY_CODE", "example": "SEMANA10"}]}]},
        {"id": "900002", "name": "login_code", "language": "pt_BR", "status": "APPROVED", "category": "AUTHENTICATION",
         "components": [{"type": "BODY", "text": "*{{1}}* é seu código de verificação.",
                         "example": {"body_text": [["123456"]]}},
                        {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copiar"}]}]},
    ]
    await api.ok("POST", "/templates/sync", {})
    async with servers.db.session() as s:
        ids = dict((await s.execute(text("SELECT name, id FROM whatsapp_templates WHERE organization_id = :o"),
                                    {"o": servers.seeded.organization_id})).all())
    conversation = await _conversation(servers, "5511966665555")

    async def send(template: str, **values: Any) -> Any:
        return await api.call("POST", f"/conversations/{conversation}/messages",
                              {"type": "template", "template": {"id": str(ids[template]), **values}})

    for values, message in (({}, "coupon code of copy-code button 1 is missing"),
                            ({"buttons": [{"index": 1, "text": "SEMANA10-EXTRA-LONGO"}]}, "at most 15")):
        refused = await send("coupon_week", **values)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "template.buttons[1]" and message in refused.json()["error"]["message"]
    assert (await send("coupon_week", buttons=[{"index": 1, "text": "SEMANA10"}])).status_code == 201
    assert (await send("login_code", body=["482913"])).status_code == 201

    received = await servers.wait_for(lambda: len(_templates_in(servers, "5511966665555")) == 2
                                      and _templates_in(servers, "5511966665555"))
    assert received[0]["components"] == [{"type": "button", "sub_type": "copy_code", "index": "1",
                                          "parameters": [{"type": "coupon_code", "coupon_code": "SEMANA10"}]}]
    assert received[1]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "482913"}]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "482913"}]}]
    assert not [r for r in servers.sandbox.rejected if r.get("payload", {}).get("type") == "template"]


async def test_a_location_header_template_is_synced_and_sent_with_its_place(api: Api) -> None:
    """Meta's fifth header format: a synced template keeps its LOCATION header (it was stored with
    none, and every send went out without it: Meta's 132000); a send needs ``header_location``."""
    servers = api.servers
    servers.sandbox.templates[WABA] = [
        {"id": "900003", "name": "visit_us", "language": "pt_BR", "status": "APPROVED", "category": "UTILITY",
         "components": [{"type": "HEADER", "format": "LOCATION"}, {"type": "BODY", "text": "Estamos aqui!"}]}]
    await api.ok("POST", "/templates/sync", {})
    async with servers.db.session() as s:
        template_id, header = (await s.execute(text(
            "SELECT id, header_type FROM whatsapp_templates WHERE organization_id = :o AND name = 'visit_us'"),
            {"o": servers.seeded.organization_id})).one()
    assert header == "LOCATION"
    conversation = await _conversation(servers, "5511955554444")
    missing = await api.call("POST", f"/conversations/{conversation}/messages",
                             {"type": "template", "template": {"id": str(template_id)}})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "template.header_location", missing.text
    place = {"latitude": -8.0631, "longitude": -34.8711, "name": "Loja Recife", "address": "Rua do Bom Jesus, 1"}
    sent = await api.ok("POST", f"/conversations/{conversation}/messages", {
        "type": "template", "template": {"id": str(template_id), "header_location": place}}, status=201)
    assert sent["content"]["shown"] == {"header_location": place}
    received = await servers.wait_for(lambda: _templates_in(servers, "5511955554444"))
    assert received[0]["components"] == [{"type": "header", "parameters": [{"type": "location", "location": place}]}]
    assert not [r for r in servers.sandbox.rejected if r.get("payload", {}).get("type") == "template"]


async def test_a_location_header_template_is_submitted_approved_and_sent_with_its_place(api: Api) -> None:
    """Created here (it could only come from a sync): Meta gets the header as ``format: LOCATION``
    with no example, and each send gives the place."""
    servers = api.servers
    template = await _approved(api, {"name": "nova_loja", "category": "MARKETING", "header_type": "LOCATION",
                                     "body_text": "Abrimos uma loja perto de você!"})
    at_meta = next(t for t in servers.sandbox.templates[WABA] if t["name"] == "nova_loja")
    assert at_meta["components"][0] == {"type": "HEADER", "format": "LOCATION"}
    conversation = await _conversation(servers, "5511955553333")
    missing = await api.call("POST", f"/conversations/{conversation}/messages",
                             {"type": "template", "template": {"id": template["id"]}})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "template.header_location"
    place = {"latitude": -23.5614, "longitude": -46.6559, "address": "Av. Paulista, 1000"}
    await api.ok("POST", f"/conversations/{conversation}/messages", {
        "type": "template", "template": {"id": template["id"], "header_location": place}}, status=201)
    received = await servers.wait_for(lambda: _templates_in(servers, "5511955553333"))
    assert received[0]["components"] == [{"type": "header", "parameters": [{"type": "location", "location": place}]}]


@pytest.mark.parametrize("category, refused", [("UTILITY", False), ("MARKETING", False), ("AUTHENTICATION", True)])
def test_the_sandbox_takes_a_location_header_where_meta_does(category: str, refused: bool) -> None:
    from api.sandbox.templates import check_definition
    doc = {"name": "x", "language": "pt_BR", "category": category,
           "components": [{"type": "HEADER", "format": "LOCATION"}, {"type": "BODY", "text": "Oi"}]}
    assert (check_definition(doc) is not None) == refused
    doc["components"][0]["format"] = "MAP"
    assert check_definition(doc) is not None


async def test_a_template_edited_or_submitted_again_while_at_metas_review_call(api: Api, monkeypatch) -> None:
    """Held at Meta's create call: an edit and a second submit wait for the first submit, then are
    refused (409), so the row keeps what Meta reviews and Meta is called once. Before, the submit read
    the row unlocked: the edit went through (the row said one body, Meta held another, and every
    send of it then raised a 500), and a second submit called Meta again."""
    import asyncio

    from api.templates import lifecycle

    servers = api.servers
    created = await api.ok("POST", "/templates", {**ORDER, "whatsapp_number_id": str(servers.seeded.number_id)},
                           status=201)
    at_meta, go_on, real = asyncio.Event(), asyncio.Event(), lifecycle.template_api

    def held_api(*args: Any, **kw: Any) -> Any:
        graph = real(*args, **kw)
        create = graph.create

        async def held_create(*a: Any, **k: Any) -> Any:
            at_meta.set()
            await go_on.wait()
            return await create(*a, **k)
        graph.create = held_create
        return graph

    monkeypatch.setattr(lifecycle, "template_api", held_api)
    submitting = asyncio.create_task(api.call("POST", f"/templates/{created['id']}/submit", {}))
    await servers.wait_for(lambda: at_meta.is_set() or submitting.done())
    assert not submitting.done(), submitting.result().text
    editing = asyncio.create_task(api.call("PATCH", f"/templates/{created['id']}",
                                           {"body_text": "Oi {{1}}, seu pedido {{2}} chegou."}))
    again = asyncio.create_task(api.call("POST", f"/templates/{created['id']}/submit", {}))

    async def both_wait() -> bool:
        async with servers.db.session() as s:
            return (await s.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"))).scalar() >= 2
    await servers.wait_for(lambda: editing.done() or again.done() or both_wait())
    assert not editing.done() and not again.done()
    # a campaign naming the template (its foreign key's KEY SHARE on the row) does not wait for Meta
    drafted = await api.call("POST", "/campaigns", {"name": "Durante", "template_id": created["id"],
                                                    "message_content": {"body": ["a", "b"]}})
    assert drafted.status_code == 201, drafted.text
    assert not submitting.done()
    go_on.set()
    assert (await submitting).status_code == 200
    edited, second = await editing, await again
    assert edited.status_code == 409 and edited.json()["error"]["field"] == "body_text", edited.text
    assert second.status_code == 409 and second.json()["error"]["field"] == "meta_template_id", second.text
    row = await _template(servers, created["id"])
    assert row["body_text"] == ORDER["body_text"] and row["sync_error"] is None
    at_meta_rows = [t for t in servers.sandbox.templates[WABA] if t["name"] == ORDER["name"]]
    assert len(at_meta_rows) == 1
    assert at_meta_rows[0]["components"][1]["text"] == ORDER["body_text"]
