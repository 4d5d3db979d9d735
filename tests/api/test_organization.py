"""GET/PATCH/DELETE /organization: the caller's organization, settings and plan."""

from __future__ import annotations

from sqlalchemy import select

from api.db.models import AuditLog, Organization


async def test_get_returns_the_callers_organization(client, agent):
    response = await client.get("/organization", headers=agent.headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert body["id"] == str(agent.org_id)
    assert body["plan_type"] == "free"
    assert body["max_contacts"] == 1000


async def test_each_caller_sees_only_its_own_organization(client, org_admin, other_org_admin):
    mine = await (await client.get("/organization", headers=org_admin.headers)).get_json()
    theirs = await (await client.get("/organization", headers=other_org_admin.headers)).get_json()
    assert mine["id"] == str(org_admin.org_id)
    assert theirs["id"] == str(other_org_admin.org_id)


async def test_org_admin_renames_the_organization(client, org_admin):
    response = await client.patch("/organization", headers=org_admin.headers,
                                  json={"name": "Renamed Inc"})
    assert response.status_code == 200
    again = await (await client.get("/organization", headers=org_admin.headers)).get_json()
    assert again["name"] == "Renamed Inc"


async def test_settings_are_merged_and_null_removes_a_key(client, org_admin):
    await client.patch("/organization", headers=org_admin.headers,
                       json={"settings": {"timezone": "America/Sao_Paulo", "locale": "pt_BR"}})
    response = await client.patch("/organization", headers=org_admin.headers,
                                  json={"settings": {"locale": None, "theme": "dark"}})
    assert (await response.get_json())["settings"] == {"timezone": "America/Sao_Paulo",
                                                       "theme": "dark"}


async def test_agent_cannot_change_the_organization(client, agent):
    response = await client.patch("/organization", headers=agent.headers, json={"name": "Mine now"})
    assert response.status_code == 403


async def test_plan_fields_are_not_editable_and_the_field_is_named(client, db, org_admin):
    response = await client.patch("/organization", headers=org_admin.headers,
                                  json={"plan_type": "enterprise"})
    assert response.status_code == 422
    assert (await response.get_json())["error"]["field"] == "plan_type"
    async with db.session() as session:
        org = await session.get(Organization, org_admin.org_id)
    assert org.plan_type == "free"


async def test_limits_are_not_editable(client, org_admin):
    response = await client.patch("/organization", headers=org_admin.headers,
                                  json={"max_contacts": 10**9})
    assert response.status_code == 422
    assert (await response.get_json())["error"]["field"] == "max_contacts"


async def test_empty_name_is_422_naming_name(client, org_admin):
    response = await client.patch("/organization", headers=org_admin.headers, json={"name": "  "})
    assert response.status_code == 422
    assert (await response.get_json())["error"]["field"] == "name"


async def test_a_change_is_audited_with_before_and_after(client, db, org_admin):
    await client.patch("/organization", headers=org_admin.headers, json={"name": "New Name"})
    async with db.session() as session:
        entry = await session.scalar(
            select(AuditLog).where(AuditLog.action == "organization.updated"))
    assert entry.user_id == org_admin.user_id
    assert entry.changes["after"]["name"] == "New Name"
    assert entry.changes["before"]["name"] != "New Name"


async def test_org_admin_cannot_delete_the_organization(client, org_admin):
    assert (await client.delete("/organization", headers=org_admin.headers)).status_code == 403


async def test_deleted_organization_locks_its_users_out(client, super_admin, agent):
    assert (await client.delete("/organization", headers=super_admin.headers)).status_code == 204
    assert (await client.get("/organization", headers=agent.headers)).status_code == 401
    login = await client.post("/auth/login", json={"email": agent.email, "password": agent.password})
    assert login.status_code == 401
