"""A NUL character (U+0000) in a JSON body: PostgreSQL's text and jsonb cannot hold it, so the
API refuses it with a 422 naming the field that carries it, before any row is written (it was a
422 on "body", leaving the client to guess which of its fields)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("body, field", [
    ({"name": "Ana\u0000", "whatsapp_id": "5511900001111"}, "name"),
    ({"whatsapp_id": "5511900001112", "attributes": {"plano": "ouro\u0000"}}, "attributes.plano"),
    ({"whatsapp_id": "5511900001113", "tags": ["vip", "a\u0000b"]}, "tags.1"),
    ({"whatsapp_id": "5511900001114", "attributes": {"chave\u0000": "x"}}, "attributes.chave\u0000"),
])
async def test_a_nul_in_a_body_is_a_422_naming_its_field_and_writes_nothing(client, org_admin, body, field):
    response = await client.post("/contacts", headers=org_admin.headers, json=body)
    assert response.status_code == 422
    error = (await response.get_json())["error"]
    assert error["field"] == field and "NUL" in error["message"], error
    listed = await (await client.get("/contacts", headers=org_admin.headers)).get_json()
    assert body["whatsapp_id"] not in {c["whatsapp_id"] for c in listed["items"]}


async def test_a_body_without_nul_is_taken_as_before(client, org_admin):
    response = await client.post("/contacts", headers=org_admin.headers,
                                 json={"whatsapp_id": "5511900001115", "name": "Ana \\u0000 (escrito)"})
    assert response.status_code == 201, await response.get_data()


@pytest.mark.parametrize("path, body, field", [
    ("/auth/signup", {"organization_name": "Pizza\u0000", "full_name": "Ana", "email": "ana@nul.example",
                      "password": "correct horse battery"}, "organization_name"),
    ("/auth/login", {"email": "ana\u0000@nul.example", "password": "correct horse battery"}, "email"),
    ("/auth/refresh", {"refresh_token": "x\u0000"}, "refresh_token"),
])
async def test_a_nul_in_an_auth_body_is_a_422_naming_its_field(client, path, body, field):
    """The auth routes read their bodies on their own: the NUL reached PostgreSQL, a 422 naming no field."""
    response = await client.post(path, json=body)
    assert response.status_code == 422
    error = (await response.get_json())["error"]
    assert error["field"] == field and "NUL" in error["message"], error



async def test_a_verify_token_holding_nul_is_refused_as_unknown(client):
    """A webhook verification whose token holds NUL: 403 like any unknown token (it was a 422 from
    the database)."""
    response = await client.get("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=%00&hub.challenge=1")
    assert response.status_code == 403
