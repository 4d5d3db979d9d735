"""Credentials in settings are shown only to the roles that may manage the resource.

A WhatsApp number's ``settings.verify_token`` (and ``app_secret``, and any key
named like a secret, at any depth) is returned to ``whatsapp_numbers:write``
holders only; the other roles get the number with those keys removed, in the
list and the single item alike. The same holds for a chatbot's ``settings``
(``chatbots:write``) and the organization's ``settings`` (``organization:write``).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update

from api.auth.permissions import allowed
from api.auth.principal import ROLES
from api.db.models import Organization

SECRETS = ("vt-secret-123", "app-secret-456", "sign-secret-789", "tok-abc", "key-def")
SETTINGS = {
    "verify_token": "vt-secret-123",
    "app_secret": "app-secret-456",
    "webhook": {"url": "https://hooks.example.com/in", "Signing_Secret": "sign-secret-789"},
    "integrations": [{"name": "crm", "access_token": "tok-abc", "api_key": "key-def"}],
    "greeting_language": "pt_BR",
}
PUBLIC = {
    "webhook": {"url": "https://hooks.example.com/in"},
    "integrations": [{"name": "crm"}],
    "greeting_language": "pt_BR",
}


async def create(client, admin, path, body):  # noqa: ANN001
    response = await client.post(path, headers=admin.headers, json=body)
    assert response.status_code == 201, await response.get_json()
    created = await response.get_json()
    assert created["settings"] == SETTINGS  # its managers see what they wrote
    return created["id"]


async def seen_settings(client, actor, path, item_id):  # noqa: ANN001
    """(the settings in the list, in the item; the raw bodies) as ``actor`` sees them."""
    listed = await client.get(path, headers=actor.headers)
    item = await client.get(f"{path}/{item_id}", headers=actor.headers)
    assert listed.status_code == 200 and item.status_code == 200
    in_list = [i for i in (await listed.get_json())["items"] if i["id"] == item_id][0]["settings"]
    raw = (await listed.get_data(as_text=True)) + (await item.get_data(as_text=True))
    return in_list, (await item.get_json())["settings"], raw


RESOURCES = {
    "whatsapp_numbers": ("/whatsapp-numbers", {"phone_number": "+5511999990001",
                                                "phone_number_id": "pnid-credentials-1"}),
    "chatbots": ("/chatbots", {"name": "Support bot"}),
}


@pytest.mark.parametrize("resource", list(RESOURCES))
async def test_settings_credentials_only_for_managers(resource, client, actors, org_admin):
    path, body = RESOURCES[resource]
    item_id = await create(client, org_admin, path, {**body, "settings": SETTINGS})
    for role in ROLES:
        in_list, in_item, raw = await seen_settings(client, actors[role], path, item_id)
        if allowed(role, f"{resource}:write"):
            assert in_list == in_item == SETTINGS, role
        else:
            assert in_list == in_item == PUBLIC, role
            assert not any(secret in raw for secret in SECRETS), role


async def test_organization_settings_credentials_only_for_its_managers(client, db, actors, org_a):
    async with db.transaction() as session:
        await session.execute(update(Organization).where(Organization.id == org_a).values(settings=SETTINGS))
    for role in ROLES:
        response = await client.get("/organization", headers=actors[role].headers)
        assert response.status_code == 200
        body = await response.get_json()
        expected = SETTINGS if allowed(role, "organization:write") else PUBLIC
        assert body["settings"] == expected, role
        if expected is PUBLIC:
            assert not any(secret in json.dumps(body) for secret in SECRETS), role
