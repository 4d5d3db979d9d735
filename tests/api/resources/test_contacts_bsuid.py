"""A contact's business-scoped user id (BSUID) through the API: read-only in every
contact, a ``?bsuid=`` filter, and in the contact payload of contact events.

The contacts are made as customers make them: a signed WhatsApp webhook from a
user who hides their phone (only ``from_user_id``) and from one who sends both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from api.sandbox import webhooks
from api.settings import Settings
from pytake.hosting.seed import seed_organization
from tests.runtime.conftest import APP_SECRET, PNID, make_settings
from tests.runtime.conftest import _forget_numbers  # noqa: F401 - autouse: no number cached across tests

HIDDEN = "US.13491208655302741918"  # a user who hides their phone: known by the BSUID alone
WITH_PHONE_BSUID = "US.20000000000000000001"
PHONE = "16505551234"


@pytest.fixture
def api_settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, redis_url, tmp_path)  # with the webhook's app secret


@pytest.fixture
async def http(app) -> AsyncIterator[httpx.AsyncClient]:  # noqa: ANN001
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pytake") as client:
        yield client


@pytest.fixture
async def admin(db, make_actor):  # noqa: ANN001
    seeded = await seed_organization(db, phone_number_id=PNID)
    return await make_actor(seeded.organization_id, "org_admin")


async def customer_says(http: httpx.AsyncClient, wa_id: str, *, user_id: str | None = None) -> None:
    doc = webhooks.inbound_message(PNID, wa_id, webhooks.text_message("oi"), user_id=user_id)
    answer = await webhooks.post_signed(http, "http://pytake/webhooks/whatsapp", APP_SECRET, doc)
    assert answer.status_code == 200 and answer.json()["stored"] == 1, answer.text


async def contact_events(db) -> list[dict[str, Any]]:  # noqa: ANN001
    async with db.session() as s:
        rows = await s.execute(text("SELECT type, payload FROM events WHERE type LIKE 'contact.%' ORDER BY id"))
        return [{"type": r.type, **r.payload["contact"]} for r in rows]


async def test_bsuid_is_in_contacts_and_filters_them(http, admin) -> None:  # noqa: ANN001
    await customer_says(http, HIDDEN)
    await customer_says(http, PHONE, user_id=WITH_PHONE_BSUID)
    created = await http.post("/contacts", headers=admin.headers, json={"whatsapp_id": "5511988887777"})
    assert created.status_code == 201, created.text
    assert created.json()["bsuid"] is None

    listed = (await http.get("/contacts", headers=admin.headers)).json()["items"]
    assert {(c["whatsapp_id"], c["bsuid"]) for c in listed} == {
        (HIDDEN, HIDDEN), (PHONE, WITH_PHONE_BSUID), ("5511988887777", None)}

    found = (await http.get("/contacts", headers=admin.headers, params={"bsuid": WITH_PHONE_BSUID})).json()
    assert [(c["whatsapp_id"], c["bsuid"]) for c in found["items"]] == [(PHONE, WITH_PHONE_BSUID)]
    found = (await http.get("/contacts", headers=admin.headers, params={"bsuid": HIDDEN})).json()
    assert [c["whatsapp_id"] for c in found["items"]] == [HIDDEN]
    one = (await http.get(f"/contacts/{found['items'][0]['id']}", headers=admin.headers)).json()
    assert one["bsuid"] == HIDDEN
    none = (await http.get("/contacts", headers=admin.headers, params={"bsuid": "US.1"})).json()
    assert none["items"] == []


async def test_bsuid_is_read_only(http, admin) -> None:  # noqa: ANN001
    refused = await http.post("/contacts", headers=admin.headers,
                              json={"whatsapp_id": "5511988887777", "bsuid": WITH_PHONE_BSUID})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "bsuid", refused.text
    await customer_says(http, HIDDEN)
    contact = (await http.get("/contacts", headers=admin.headers)).json()["items"][0]
    refused = await http.patch(f"/contacts/{contact['id']}", headers=admin.headers, json={"bsuid": "US.1"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "bsuid", refused.text
    after = (await http.get(f"/contacts/{contact['id']}", headers=admin.headers)).json()
    assert after["bsuid"] == HIDDEN


async def test_contact_events_carry_the_bsuid(http, admin, db) -> None:  # noqa: ANN001
    await customer_says(http, HIDDEN)
    contact = (await http.get("/contacts", headers=admin.headers)).json()["items"][0]
    renamed = await http.patch(f"/contacts/{contact['id']}", headers=admin.headers, json={"name": "Bia"})
    assert renamed.status_code == 200, renamed.text
    created = await http.post("/contacts", headers=admin.headers, json={"whatsapp_id": "5511988887777"})
    assert created.status_code == 201, created.text
    events = await contact_events(db)
    assert [(e["type"], e["whatsapp_id"], e["bsuid"]) for e in events] == [
        ("contact.created", HIDDEN, HIDDEN),  # written by the webhook
        ("contact.updated", HIDDEN, HIDDEN),  # by the API
        ("contact.created", "5511988887777", None)]
