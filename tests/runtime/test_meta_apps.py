"""One Meta app per organization: /webhooks/whatsapp/<app key>, over real HTTP.

Organization A (the seeded one, number PNID) and organization B (number
B_PNID) each have their own app secret and verify token; the deployment's
default app (APP_SECRET) keeps /webhooks/whatsapp.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from api.crypto import encrypt_secret
from pytake.hosting.seed import seed_organization
from api.sandbox import webhooks
from api.whatsapp import apps as meta_apps
from api.whatsapp.apps import APPS, webhook_path
from tests.runtime.conftest import APP_SECRET, PNID, VERIFY_TOKEN

B_PNID = "900800700"
SECRET_A, SECRET_B = "org-a-app-secret", "org-b-app-secret"
TOKEN_A, TOKEN_B = "org-a-verify-token", "org-b-verify-token"


async def give_app(db, settings, organization_id, secret: str | None, token: str | None) -> None:
    async with db.transaction() as s:
        await s.execute(text("UPDATE organizations SET whatsapp_app_secret_encrypted = :secret, "
                             "whatsapp_webhook_verify_token = :token WHERE id = :id"),
                        {"secret": encrypt_secret(settings, secret) if secret else None, "token": token,
                         "id": organization_id})


@pytest.fixture(autouse=True)
def _forget_apps():
    APPS.forget()
    yield
    APPS.forget()


@pytest.fixture
async def org_b(db, settings):
    other = await seed_organization(db, phone_number_id=B_PNID, phone_number="+5511999990009")
    await give_app(db, settings, other.organization_id, SECRET_B, TOKEN_B)
    return other


@pytest.fixture
async def apps(db, settings, seeded, org_b):
    await give_app(db, settings, seeded.organization_id, SECRET_A, TOKEN_A)
    return seeded, org_b


def url(servers, organization_id) -> str:
    return servers.pytake_url + webhook_path(organization_id)


async def post_to(servers, organization_id, secret: str, doc: dict):
    return await webhooks.post_signed(servers.client, url(servers, organization_id), secret, doc)


async def test_a_webhook_signed_by_the_organizations_app_is_stored_and_the_flow_runs(
        servers, apps, add, flows, query):
    org_a, _ = apps
    await add("cadastro", flows["name"])
    a_url = url(servers, org_a.organization_id)
    servers.sandbox.config.apps = {PNID: {"webhook_url": a_url, "app_secret": SECRET_A}}
    servers.sandbox.config.webhook_url = None  # statuses can only come back through A's app
    doc = webhooks.inbound_message(PNID, "5511922223333", webhooks.text_message("oi"))
    response = await post_to(servers, org_a.organization_id, SECRET_A, doc)
    assert response.status_code == 200 and response.json()["stored"] == 1
    await servers.wait_for(lambda: servers.inbox("5511922223333"))
    wamid = servers.inbox("5511922223333")[0]["id"]

    async def read():  # the sandbox posted sent/delivered/read to A's path, signed with A's secret
        found = await query("SELECT status FROM messages WHERE whatsapp_message_id = :w", w=wamid)
        return found and found[0]["status"] == "read"

    await servers.wait_for(read)


async def test_another_apps_secret_or_the_default_secret_is_401_and_nothing_is_stored(servers, apps, query):
    org_a, _ = apps
    doc = webhooks.inbound_message(PNID, "5511944445555", webhooks.text_message("oi"))
    for secret in (SECRET_B, APP_SECRET, ""):
        response = await post_to(servers, org_a.organization_id, secret, doc)
        assert response.status_code == 401, secret
    assert await query("SELECT id FROM messages") == []
    assert await query("SELECT id FROM contacts") == []


async def test_unknown_app_keys_and_apps_without_a_secret_are_401(servers, apps, db, settings, query):
    org_a, _ = apps
    doc = webhooks.inbound_message(PNID, "5511944445555", webhooks.text_message("oi"))
    for key in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = await webhooks.post_signed(servers.client, servers.pytake_url + "/webhooks/whatsapp/" + key,
                                              SECRET_A, doc)
        assert response.status_code == 401, key
    await give_app(db, settings, org_a.organization_id, None, TOKEN_A)
    APPS.forget()
    assert (await post_to(servers, org_a.organization_id, "", doc)).status_code == 401
    assert await query("SELECT id FROM messages") == []


async def test_org_bs_app_cannot_write_into_org_as_numbers(servers, apps, add, flows, query):
    """B signs correctly for its own path, but names A's phone_number_id: skipped, never stored."""
    org_a, org_b = apps
    await add("cadastro", flows["name"])
    # A's outbound message, for the status part below
    await post_to(servers, org_a.organization_id, SECRET_A,
                  webhooks.inbound_message(PNID, "5511966660000", webhooks.text_message("oi")))
    await servers.wait_for(lambda: servers.inbox("5511966660000"))
    a_wamid = servers.inbox("5511966660000")[0]["id"]

    async def settled():  # the sandbox's own status webhooks (default app) reached the message
        found = await query("SELECT status FROM messages WHERE whatsapp_message_id = :w", w=a_wamid)
        return found and found[0]["status"] == "read"

    await servers.wait_for(settled)
    before = await query("SELECT count(*) AS n FROM messages")

    intruder = webhooks.inbound_message(PNID, "5511977778888", webhooks.text_message("sou o B"))
    response = await post_to(servers, org_b.organization_id, SECRET_B, intruder)
    assert response.status_code == 200
    assert response.json()["stored"] == 0 and response.json()["skipped"] == 1
    # a status naming A's number, and one naming B's own number but A's message
    for pnid in (PNID, B_PNID):
        failed = webhooks.status_update(pnid, a_wamid, "failed", "5511966660000",
                                        errors=[{"code": 131026, "title": "intruder"}])
        response = await post_to(servers, org_b.organization_id, SECRET_B, failed)
        assert response.status_code == 200 and response.json()["statuses_matched"] == 0, pnid
    assert await query("SELECT count(*) AS n FROM messages") == before
    assert await query("SELECT id FROM contacts WHERE whatsapp_id = '5511977778888'") == []
    row = (await query("SELECT status, error_message FROM messages WHERE whatsapp_message_id = :w", w=a_wamid))[0]
    assert row["status"] == "read" and row["error_message"] is None


async def test_the_default_path_still_takes_the_deployments_secret(servers, apps, add, flows, query):
    await add("cadastro", flows["name"])
    response = await servers.customer_says("5511988889999", "oi")
    assert response.status_code == 200 and response.json()["stored"] == 1
    assert (await servers.post(webhooks.inbound_message(PNID, "5511988889999", webhooks.text_message("x")),
                               secret=SECRET_A)).status_code == 401


async def test_the_secret_is_cached_and_a_rotated_one_is_picked_up(servers, apps, db, settings, monkeypatch):
    """Steady state: no database read per webhook (the row may change under it);
    a secret rotated by another process is read again on the first failing signature."""
    org_a, _ = apps
    doc = webhooks.inbound_message(PNID, "5511912340000", webhooks.text_message("oi"))
    assert (await post_to(servers, org_a.organization_id, SECRET_A, doc)).status_code == 200
    async with db.transaction() as s:  # unreadable ciphertext: only a database read would notice
        await s.execute(text("UPDATE organizations SET whatsapp_app_secret_encrypted = 'garbage' WHERE id = :id"),
                        {"id": org_a.organization_id})
    again = webhooks.inbound_message(PNID, "5511912340000", webhooks.text_message("de novo"))
    assert (await post_to(servers, org_a.organization_id, SECRET_A, again)).status_code == 200

    await give_app(db, settings, org_a.organization_id, "rotated-secret", TOKEN_A)
    monkeypatch.setattr(meta_apps, "RELOAD_AFTER", 0.0)  # the cached entry counts as old enough
    rotated = webhooks.inbound_message(PNID, "5511912340000", webhooks.text_message("nova"))
    assert (await post_to(servers, org_a.organization_id, "rotated-secret", rotated)).status_code == 200
    assert (await post_to(servers, org_a.organization_id, SECRET_A, rotated)).status_code == 401


async def test_the_verification_handshake_takes_only_that_apps_token(servers, apps):
    org_a, org_b = apps

    async def handshake(path: str, token: str):
        return await servers.client.get(servers.pytake_url + path, params={
            "hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"})

    ok = await handshake(webhook_path(org_a.organization_id), TOKEN_A)
    assert ok.status_code == 200 and ok.text == "1158201444"
    for token in (TOKEN_B, VERIFY_TOKEN, "nope"):
        assert (await handshake(webhook_path(org_a.organization_id), token)).status_code == 403, token
    assert (await handshake(webhook_path(org_b.organization_id), TOKEN_B)).status_code == 200
    assert (await handshake("/webhooks/whatsapp/not-a-uuid", TOKEN_A)).status_code == 403
    assert (await handshake("/webhooks/whatsapp", VERIFY_TOKEN)).status_code == 200
