"""The webhooks and integrations API as a user sees it: a test event now, dead
letters listed and redelivered, Zapier REST hooks that deliver and then stop,
integrations that cannot deliver yet refused, contact changes as events."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from api.events.webhooks import start
from tests.api.conftest import settings_for
from tests.api.resources.conftest import Api
from tests.events.conftest import receiver, until  # noqa: F401 - the receiver fixture
from tests.events.test_webhook_delivery import verify_signature


@pytest.fixture
def api_settings(database_url, redis_url, tmp_path):
    return settings_for(database_url, redis_url, tmp_path, webhooks_allow_private_networks=True,
                        webhooks_retry_scale=0.002, webhooks_poll_seconds=0.05)


@pytest.fixture
def api(client, org_admin) -> Api:
    return Api(client, org_admin)


@pytest.fixture
async def delivering(db, api_settings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = start(db, api_settings, stop)
    yield
    stop.set()
    await task


async def _hook(api: Api, url: str, **extra: Any) -> dict:
    status, body = await api.post("/webhooks", {"name": "crm", "url": url, "events": ["contact.created"],
                                                "secret": "whsec-test-123", **extra})
    assert status == 201, body
    return body


async def test_the_test_event_is_sent_now_and_its_result_answered(api, receiver):
    hook = await _hook(api, receiver.url)
    status, delivery = await api.post(f"/webhooks/{hook['id']}/test")
    assert status == 200, delivery
    assert delivery["state"] == "delivered" and delivery["status_code"] == 200 and delivery["attempt_number"] == 1
    [got] = receiver.received
    assert got.headers["X-PyTake-Event"] == "webhook.test"
    assert verify_signature("whsec-test-123", got.headers["X-PyTake-Signature"], got.body)
    assert got.json["data"] == {"webhook": {"id": hook["id"]}}


async def test_a_dead_letter_is_listed_and_redelivered(api, receiver, delivering):
    receiver.answer = lambda _r, _b: 500
    hook = await _hook(api, receiver.url, max_retries=1)
    assert (await api.post("/contacts", {"whatsapp_id": "5511999990001", "name": "Ana"}))[0] == 201

    async def dead():
        status, page = await api.get(f"/webhooks/{hook['id']}/deliveries?state=dead")
        assert status == 200
        return page["items"]
    [letter] = await until(dead)
    assert letter["event_type"] == "contact.created" and letter["attempt_number"] == 2
    assert [a["status_code"] for a in letter["attempts"]] == [500, 500]
    receiver.answer = lambda _r, _b: 200
    status, again = await api.post(f"/webhooks/{hook['id']}/deliveries/{letter['id']}/redeliver")
    assert status == 202 and again["state"] == "pending"
    await receiver.wait_for(lambda r: len(r.accepted()) == 1)
    assert receiver.accepted()[0]["data"]["contact"]["name"] == "Ana"


async def test_a_disabled_webhook_says_why_and_patch_re_enables_it(api, receiver, db):
    from sqlalchemy import text
    hook = await _hook(api, receiver.url)
    async with db.transaction() as s:
        await s.execute(text("UPDATE webhooks SET is_active = false, consecutive_failures = 50, "
                             "disabled_reason = 'disabled after 50 consecutive failed deliveries', "
                             "disabled_at = now() WHERE id = :id"), {"id": hook["id"]})
    status, shown = await api.get(f"/webhooks/{hook['id']}")
    assert shown["disabled_reason"].startswith("disabled after 50") and shown["is_active"] is False
    status, error = await api.post(f"/webhooks/{hook['id']}/deliveries/{hook['id']}/redeliver")
    assert status == 409 and error["error"]["field"] == "is_active"
    status, shown = await api.patch(f"/webhooks/{hook['id']}", {"is_active": True})
    assert status == 200 and shown["consecutive_failures"] == 0 and shown["disabled_reason"] is None


async def test_an_unknown_event_type_is_refused(api, receiver):
    status, error = await api.post("/webhooks", {"name": "x", "url": receiver.url, "events": ["message.exploded"]})
    assert status == 422 and "events" in str(error)


@pytest.mark.parametrize("kind", ["shopify", "woocommerce", "hubspot", "salesforce", "google_sheets"])
async def test_integrations_that_cannot_deliver_yet_are_refused(api, kind):
    status, error = await api.post("/integrations", {"type": kind, "name": kind})
    assert status == 422 and error["error"]["field"] == "type" and "not available yet" in error["error"]["message"]
    status, page = await api.get("/integrations")
    assert page["items"] == []


async def test_a_webhook_integration_needs_where_to_deliver_and_then_delivers(api, receiver, delivering):
    status, error = await api.post("/integrations", {"type": "webhook", "name": "crm", "config": {}})
    assert status == 422 and error["error"]["field"].startswith("config.")
    status, made = await api.post("/integrations", {
        "type": "custom_api", "name": "crm", "config": {"url": receiver.url, "events": ["contact.updated"]},
        "credentials": {"secret": "integration-secret"}})
    assert status == 201, made
    status, contact = await api.post("/contacts", {"whatsapp_id": "5511999990002", "name": "Bia"})
    assert (await api.patch(f"/contacts/{contact['id']}", {"tags": ["vip"]}))[0] == 200
    await receiver.wait_for(lambda r: len(r.accepted()) == 1)
    got = receiver.received[0]
    assert got.json["type"] == "contact.updated" and got.json["data"]["contact"]["tags"] == ["vip"]
    assert verify_signature("integration-secret", got.headers["X-PyTake-Signature"], got.body)


async def test_zapier_subscribe_delivers_and_unsubscribe_stops(api, receiver, delivering, db):
    status, zap = await api.post("/integrations", {"type": "zapier", "name": "zap"})
    assert status == 201
    status, hook = await api.post(f"/integrations/{zap['id']}/hooks",
                                  {"target_url": receiver.url, "event": "contact.created"})
    assert status == 201 and hook["event"] == "contact.created"
    await api.post("/contacts", {"whatsapp_id": "5511999990003", "name": "Caio"})
    await receiver.wait_for(lambda r: len(r.accepted()) == 1)
    status, _ = await api.delete(f"/integrations/{zap['id']}/hooks/{hook['id']}")
    assert status == 204
    assert (await api.delete(f"/integrations/{zap['id']}/hooks/{hook['id']}"))[0] == 404
    await api.post("/contacts", {"whatsapp_id": "5511999990004", "name": "Duda"})
    async with db.raw() as conn:  # the dispatcher has read past the second contact's event
        await until(lambda: conn.fetchval("SELECT cursor_id >= (SELECT max(id) FROM events) "
                                          "FROM event_consumers WHERE name = 'webhooks'"))
    assert len(receiver.received) == 1


async def test_another_organization_cannot_test_or_redeliver(api, receiver, client, other_org_admin):
    hook = await _hook(api, receiver.url)
    other = Api(client, other_org_admin)
    assert (await other.post(f"/webhooks/{hook['id']}/test"))[0] == 404
    assert (await other.post(f"/webhooks/{hook['id']}/deliveries/{hook['id']}/redeliver"))[0] == 404
    assert receiver.received == []


@pytest.mark.parametrize("secret", ["s" * 101, 12345678, "short"])
async def test_an_integration_signing_secret_it_cannot_sign_with_is_refused_naming_it(api, secret):
    """A long one failed on the column (a 422 on "body" about varchar(255)); a number was dropped
    and every delivery went out unsigned."""
    status, error = await api.post("/integrations", {
        "type": "webhook", "name": "crm", "config": {"url": "https://crm.example.com/in", "events": ["*"]},
        "credentials": {"secret": secret}})
    assert (status, error["error"]["field"]) == (422, "credentials.secret"), error
    assert "8 to 100 characters" in error["error"]["message"]
    assert (await api.get("/integrations"))[1]["items"] == [] and (await api.get("/webhooks"))[1]["items"] == []
    status, zap = await api.post("/integrations", {"type": "zapier", "name": "zap"})
    status, error = await api.patch(f"/integrations/{zap['id']}", {"credentials": {"secret": secret}})
    assert (status, error["error"]["field"]) == (422, "credentials.secret"), error
    assert (await api.get(f"/integrations/{zap['id']}"))[1]["has_credentials"] is False


async def test_a_zapier_integrations_new_signing_secret_signs_its_hooks(api, receiver, delivering):
    """Rotating the secret used to leave existing hooks signing with the old one."""
    status, zap = await api.post("/integrations", {"type": "zapier", "name": "zap",
                                                   "credentials": {"secret": "old-zapier-secret"}})
    status, hook = await api.post(f"/integrations/{zap['id']}/hooks",
                                  {"target_url": receiver.url, "event": "contact.created"})
    assert status == 201
    status, _ = await api.patch(f"/integrations/{zap['id']}", {"credentials": {"secret": "new-zapier-secret"}})
    assert status == 200
    await api.post("/contacts", {"whatsapp_id": "5511999990005", "name": "Eva"})
    await receiver.wait_for(lambda r: len(r.accepted()) == 1)
    got = receiver.received[0]
    assert verify_signature("new-zapier-secret", got.headers["X-PyTake-Signature"], got.body)
