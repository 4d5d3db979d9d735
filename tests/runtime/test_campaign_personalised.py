"""Per-recipient template parameters end to end through the sandbox: a CSV with columns of its
own, parameters reading the contact and the recipient, each recipient receiving its own values; a
recipient whose parameters cannot be sent failed with the reason (Meta never sees it); the
recipients list (``GET /campaigns/{id}/recipients``)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from api.db.models import Organization
from tests.runtime.campaign_helpers import (
    Api, approved_template, counts, mismatches, prepare_number, user_headers)

WELCOME = {"name": "plan_welcome", "language": "pt_BR", "category": "MARKETING",
           "header_type": "TEXT", "header_content": "Olá {{1}}",
           "body_text": "Seu plano {{1}} vale em {{2}} até domingo.",
           "variables": [{"component": "header", "name": "1", "example": "Ana"},
                         {"name": "1", "example": "gold"}, {"name": "2", "example": "Recife"}]}
CONTENT = {"header": "{{contact.first_name}}",
           "body": ["{{ recipient.plan }} ({{recipient.coupon}})", "{{contact.attributes.city}}"]}
CSV = ("whatsapp_id,name,attributes.city,plan,coupon\n"
       "5593900000001,Ana Souza,Recife,gold,AB-1\n"
       "5593900000002,Bia Lima,Natal,silver,CD-2\n"
       "5593900000003,Caio Reis,Olinda,,EF-3\n")


@pytest.fixture
async def api(servers) -> Api:
    await prepare_number(servers.db, servers.seeded.number_id, servers.seeded.organization_id)
    return Api(servers.client, servers.pytake_url,
               await user_headers(servers.db, servers.seeded.organization_id))


async def _import(api: Api, servers, campaign_id: str, csv: str) -> Any:
    response = await servers.client.post(servers.pytake_url + f"/campaigns/{campaign_id}/recipients/import",
                                         content=csv.encode(), headers={**api.headers, "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    return response.json()


def _template_messages(servers, wa_id: str) -> list[dict]:
    return [m for m in servers.inbox(wa_id) if m["type"] == "template"]


async def test_each_recipient_receives_its_own_parameters(api, servers):
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for, WELCOME)
    campaign = await api.ok("POST", "/campaigns", {"name": "Planos", "template_id": template,
                                                   "message_content": CONTENT, "target_type": "custom"}, status=201)
    cid = campaign["id"]
    report = await _import(api, servers, cid, CSV)
    assert (report["added"], report["rejected"], report["variables"]) == (3, 0, ["plan", "coupon"])

    staged = await api.ok("GET", f"/campaigns/{cid}/recipients")  # a draft lists the imported rows
    assert staged["total"] == 3
    by_phone = {r["phone"]: r for r in staged["items"]}
    assert by_phone["5593900000001"]["variables"] == {"plan": "gold", "coupon": "AB-1"}
    assert by_phone["5593900000003"]["variables"] == {"coupon": "EF-3"}  # an empty cell: no value
    assert by_phone["5593900000002"]["contact_name"] == "Bia Lima"

    started = await api.ok("POST", f"/campaigns/{cid}/start", {})
    assert started["total_recipients"] == 3

    async def settled() -> bool:
        row = await counts(servers.db, cid)
        assert not mismatches(row), mismatches(row)
        return row["status"] == "completed" and row["sent"] == 2 and row["failed"] == 1
    await servers.wait_for(settled, timeout=120)

    for wa_id, first, plan, city in (("5593900000001", "Ana", "gold (AB-1)", "Recife"),
                                     ("5593900000002", "Bia", "silver (CD-2)", "Natal")):
        received = _template_messages(servers, wa_id)
        assert len(received) == 1
        assert received[0]["payload"]["template"]["components"] == [
            {"type": "header", "parameters": [{"type": "text", "text": first}]},
            {"type": "body", "parameters": [{"type": "text", "text": plan}, {"type": "text", "text": city}]}]
    # an empty required parameter never reaches Meta (no 132000 after the fact)
    assert _template_messages(servers, "5593900000003") == []

    failed = await api.ok("GET", f"/campaigns/{cid}/recipients?status=failed")
    assert failed["total"] == 1
    [caio] = failed["items"]
    assert caio["phone"] == "5593900000003" and caio["failed_at"] is not None
    assert "body parameter {{1}} is empty" in caio["error_message"]
    assert "recipient.plan" in caio["error_message"]
    sent = await api.ok("GET", f"/campaigns/{cid}/recipients?status=sent,delivered,read&per_page=1")
    assert sent["total"] == 2 and len(sent["items"]) == 1 and sent["per_page"] == 1
    assert sent["items"][0]["sent_at"] is not None and sent["items"][0]["whatsapp_message_id"]

    # the conversation shows what the customer got, not the expressions
    async with servers.db.session() as s:
        shown = (await s.execute(text(
            "SELECT m.content->>'text', m.content->'shown'->>'header' FROM campaign_recipients r "
            "JOIN messages m ON m.id = r.message_id "
            "JOIN contacts c ON c.id = r.contact_id WHERE r.campaign_id = :c AND c.whatsapp_id = '5593900000001'"),
            {"c": cid})).one()
    assert tuple(shown) == ("Seu plano gold (AB-1) vale em Recife até domingo.", "Olá Ana")


async def test_unknown_expressions_are_refused_naming_the_parameter(api, servers):
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for, WELCOME)
    bad = await api.call("POST", "/campaigns", {"name": "x", "template_id": template, "message_content": {
        "header": "{{contact.first_name}}", "body": ["ok", "{{contact.age}}"]}})
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"]["field"] == "message_content.body[1]"
    assert "contact.age" in bad.json()["error"]["message"]
    draft = await api.ok("POST", "/campaigns", {"name": "x", "template_id": template, "message_content": CONTENT,
                                                "target_type": "all"}, status=201)
    patched = await api.call("PATCH", f"/campaigns/{draft['id']}", {"message_content": {
        "header": "{{recipient.}}", "body": ["a", "b"]}})
    assert patched.status_code == 422 and patched.json()["error"]["field"] == "message_content.header"
    # stored before this check existed (or written behind the API's back): refused at start, nothing written
    async with servers.db.transaction() as s:
        await s.execute(text("UPDATE campaigns SET message_content = CAST(:m AS jsonb) WHERE id = :c"),
                        {"m": '{"header": "x", "body": ["a", "{{agent.name}}"]}', "c": draft["id"]})
    refused = await api.call("POST", f"/campaigns/{draft['id']}/start", {})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "message_content.body[1]"
    assert (await api.ok("GET", f"/campaigns/{draft['id']}"))["status"] == "draft"
    bad_column = await servers.client.post(
        servers.pytake_url + f"/campaigns/{draft['id']}/recipients/import",
        content=b"whatsapp_id,my plan\n5593900000009,x\n", headers={**api.headers, "Content-Type": "text/csv"})
    assert bad_column.status_code == 422 and "my plan" in bad_column.json()["error"]["message"]


async def test_the_recipients_list_is_scoped_filtered_and_paginated(api, servers):
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for, WELCOME)
    campaign = await api.ok("POST", "/campaigns", {"name": "L", "template_id": template, "message_content": CONTENT,
                                                   "target_type": "custom"}, status=201)
    cid = campaign["id"]
    await _import(api, servers, cid, CSV)
    bad = await api.call("GET", f"/campaigns/{cid}/recipients?status=lost")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "status"
    page2 = await api.ok("GET", f"/campaigns/{cid}/recipients?per_page=2&page=2")
    assert page2["total"] == 3 and len(page2["items"]) == 1
    assert (await api.ok("GET", f"/campaigns/{cid}/recipients?status=pending"))["total"] == 3
    assert (await api.ok("GET", f"/campaigns/{cid}/recipients?status=sent"))["total"] == 0

    async with servers.db.transaction() as s:
        other = Organization(name="Other", slug=f"other-{uuid.uuid4().hex[:8]}")
        s.add(other)
        await s.flush()
        other_id = other.id
    outsider = Api(servers.client, servers.pytake_url, await user_headers(servers.db, other_id))
    assert (await outsider.call("GET", f"/campaigns/{cid}/recipients")).status_code == 404

    # a draft cancelled: its staged rows go (no skipped counter on a campaign never sent)
    cancelled = await api.ok("POST", f"/campaigns/{cid}/cancel", {})
    assert cancelled["skipped_count"] == 0
    assert (await api.ok("GET", f"/campaigns/{cid}/recipients"))["total"] == 0
