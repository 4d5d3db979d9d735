"""PATCH /organization: the organization's own Meta app (secret encrypted, write-only)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from api.crypto import decrypt_secret
from api.whatsapp.apps import APPS
from api.whatsapp.signature import HEADER, sign

SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "meta-verify-token-of-a"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


@pytest.fixture(autouse=True)
def _forget_apps():
    APPS.forget()
    yield
    APPS.forget()


async def _raw_row(db, org_id):
    async with db.session() as s:
        return (await s.execute(text(
            "SELECT whatsapp_app_secret_encrypted AS secret, whatsapp_webhook_verify_token AS token "
            "FROM organizations WHERE id = :id"), {"id": org_id})).mappings().one()


async def _set(client, actor, **fields):
    return await client.patch("/organization", headers=actor.headers, json=fields)


async def test_the_app_secret_is_stored_encrypted_and_never_returned(client, db, api_settings, org_admin, viewer):
    response = await _set(client, org_admin, whatsapp_app_secret=SECRET, whatsapp_webhook_verify_token=TOKEN)
    assert response.status_code == 200
    body = await response.get_json()
    assert body["whatsapp_app_secret_set"] is True and body["whatsapp_webhook_verify_token_set"] is True
    assert body["whatsapp_webhook_path"] == f"/webhooks/whatsapp/{org_admin.org_id}"
    for actor in (org_admin, viewer):
        shown = await (await client.get("/organization", headers=actor.headers)).get_data(as_text=True)
        assert SECRET not in shown and TOKEN not in shown and json.loads(shown)["whatsapp_app_secret_set"]
    assert SECRET not in await response.get_data(as_text=True)

    row = await _raw_row(db, org_admin.org_id)
    assert SECRET not in row["secret"]
    assert decrypt_secret(api_settings, row["secret"]) == SECRET
    async with db.session() as s:
        audit = (await s.execute(text("SELECT changes::text FROM audit_logs WHERE action = 'organization.updated'"))).scalar()
    assert SECRET not in audit and TOKEN not in audit and "whatsapp_app_secret" in audit


async def test_null_removes_the_secret_and_an_absent_field_keeps_it(client, db, org_admin):
    await _set(client, org_admin, whatsapp_app_secret=SECRET)
    body = await (await _set(client, org_admin, name="Renamed")).get_json()
    assert body["whatsapp_app_secret_set"] is True
    body = await (await _set(client, org_admin, whatsapp_app_secret=None)).get_json()
    assert body["whatsapp_app_secret_set"] is False
    assert (await _raw_row(db, org_admin.org_id))["secret"] is None


async def test_only_org_admins_set_the_app_credentials(client, db, agent, viewer):
    for actor in (agent, viewer):
        assert (await _set(client, actor, whatsapp_app_secret=SECRET)).status_code == 403
    assert (await _raw_row(db, agent.org_id))["secret"] is None


@pytest.mark.parametrize("field,value", [("whatsapp_app_secret", ""), ("whatsapp_app_secret", 42),
                                         ("whatsapp_webhook_verify_token", "x" * 256)])
async def test_bad_credentials_are_422_naming_the_field(client, db, org_admin, field, value):
    response = await _set(client, org_admin, **{field: value})
    assert response.status_code == 422
    assert (await response.get_json())["error"]["field"] == field
    assert (await _raw_row(db, org_admin.org_id))["secret"] is None


async def test_webhooks_of_the_app_are_verified_with_the_secret_set_here(client, org_admin, other_org_admin):
    path = f"/webhooks/whatsapp/{org_admin.org_id}"

    async def post(secret: str, to: str = path):
        return await client.post(to, data=BODY, headers={HEADER: sign(secret, BODY),
                                                         "Content-Type": "application/json"})

    assert (await post(SECRET)).status_code == 401  # no app yet
    await _set(client, org_admin, whatsapp_app_secret=SECRET)
    assert (await post(SECRET)).status_code == 200
    await _set(client, other_org_admin, whatsapp_app_secret="secret-of-b")
    assert (await post("secret-of-b")).status_code == 401
    assert (await post(SECRET, f"/webhooks/whatsapp/{other_org_admin.org_id}")).status_code == 401
    await _set(client, org_admin, whatsapp_app_secret="rotated")  # the cache forgets it at once
    assert (await post(SECRET)).status_code == 401
    assert (await post("rotated")).status_code == 200
