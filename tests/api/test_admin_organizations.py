"""/admin/organizations: the platform operator (super_admin) lists, reads and changes any organization."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from api.db import models as m
from api.services.plan_limits import month_start

from .conftest import create_organization

LIST = "/admin/organizations"


def item(org_id: uuid.UUID) -> str:
    return f"{LIST}/{org_id}"


def digits() -> str:
    return "5511" + str(uuid.uuid4().int)[:9]


async def get_json(client, actor, path: str, status: int = 200) -> dict:  # noqa: ANN001
    response = await client.get(path, headers=actor.headers)
    body = await response.get_json()
    assert response.status_code == status, body
    return body


async def patch(client, actor, org_id: uuid.UUID, body: dict) -> tuple[int, dict]:  # noqa: ANN001
    response = await client.patch(item(org_id), headers=actor.headers, json=body)
    return response.status_code, await response.get_json()


async def set_columns(db, org_id: uuid.UUID, **values) -> None:  # noqa: ANN001
    async with db.transaction() as session:
        await session.execute(update(m.Organization).where(m.Organization.id == org_id).values(**values))


# --- listing ------------------------------------------------------------------------------


async def test_super_admin_lists_the_organizations_of_every_tenant(client, super_admin, other_org_admin):
    body = await get_json(client, super_admin, LIST)
    assert {i["id"] for i in body["items"]} == {str(super_admin.org_id), str(other_org_admin.org_id)}
    assert (body["page"], body["per_page"], body["total"]) == (1, 20, 2)
    assert {"plan_type", "max_contacts", "is_active", "deleted_at"} <= set(body["items"][0])


async def test_list_filters_by_name_or_slug_case_insensitively(client, db, super_admin):
    acme = await create_organization(db, "Acme Foods")
    await create_organization(db, "Globex")
    by_name = await get_json(client, super_admin, f"{LIST}?q=aCmE")
    async with db.session() as session:
        slug = (await session.get(m.Organization, acme)).slug
    by_slug = await get_json(client, super_admin, f"{LIST}?q={slug[-6:].upper()}")
    assert [i["id"] for i in by_name["items"]] == [str(acme)]
    assert [i["id"] for i in by_slug["items"]] == [str(acme)]


async def test_q_matches_percent_and_underscore_literally(client, db, super_admin):
    await create_organization(db, "Globex")
    body = await get_json(client, super_admin, f"{LIST}?q=%25")
    assert body["total"] == 0


async def test_list_filters_by_plan_type_and_is_active(client, db, super_admin, other_org_admin):
    await set_columns(db, other_org_admin.org_id, plan_type="enterprise", is_active=False)
    enterprise = await get_json(client, super_admin, f"{LIST}?plan_type=enterprise")
    inactive = await get_json(client, super_admin, f"{LIST}?is_active=false")
    free = await get_json(client, super_admin, f"{LIST}?plan_type=free&is_active=true")
    assert [i["id"] for i in enterprise["items"]] == [str(other_org_admin.org_id)]
    assert [i["id"] for i in inactive["items"]] == [str(other_org_admin.org_id)]
    assert [i["id"] for i in free["items"]] == [str(super_admin.org_id)]


async def test_list_pages_newest_first(client, db, super_admin):
    for name in ("First", "Second", "Third"):
        await create_organization(db, name)
    first = await get_json(client, super_admin, f"{LIST}?per_page=2")
    second = await get_json(client, super_admin, f"{LIST}?per_page=2&page=2")
    rows = first["items"] + second["items"]
    assert (first["total"], second["total"], len(rows)) == (4, 4, 4)
    assert [r["name"] for r in rows[:3]] == ["Third", "Second", "First"]
    assert rows[3]["id"] == str(super_admin.org_id)


async def test_deleted_organizations_are_listed_only_when_asked(client, db, super_admin, other_org_admin):
    await set_columns(db, other_org_admin.org_id, deleted_at=func.now())
    default = await get_json(client, super_admin, LIST)
    everything = await get_json(client, super_admin, f"{LIST}?include_deleted=true")
    assert str(other_org_admin.org_id) not in {i["id"] for i in default["items"]}
    assert str(other_org_admin.org_id) in {i["id"] for i in everything["items"]}


@pytest.mark.parametrize("query, field", [("plan_type=gold", "plan_type"), ("is_active=maybe", "is_active"),
                                          ("include_deleted=maybe", "include_deleted"),
                                          ("sort=slogan", "sort"), ("owner=me", "owner")])
async def test_bad_list_parameters_are_422_naming_them(client, super_admin, query, field):
    body = await get_json(client, super_admin, f"{LIST}?{query}", status=422)
    assert body["error"]["field"] == field


# --- one organization and its usage ---------------------------------------------------------


async def test_get_shows_plan_limits_and_usage_counts(client, db, super_admin, other_org_admin, make_actor):
    org = other_org_admin.org_id
    await make_actor(org, "agent")
    gone = await make_actor(org, "agent")
    this_month, last_month = month_start() + timedelta(seconds=1), month_start() - timedelta(days=1)
    async with db.transaction() as session:
        await session.execute(update(m.User).where(m.User.id == gone.user_id).values(deleted_at=func.now()))
        contacts = [m.Contact(organization_id=org, whatsapp_id=digits()) for _ in range(3)]
        contacts[2].deleted_at = this_month
        theirs = m.Contact(organization_id=super_admin.org_id, whatsapp_id=digits())
        session.add_all([*contacts, theirs,
                         m.WhatsAppNumber(organization_id=org, phone_number="+" + digits(),
                                          phone_number_id="pn-" + digits()),
                         m.Chatbot(organization_id=org, name="Bot"),
                         m.Department(organization_id=org, name="Sales"),
                         m.Department(organization_id=org, name="Support")])
        await session.flush()
        conversation = m.Conversation(organization_id=org, contact_id=contacts[0].id)
        other = m.Conversation(organization_id=super_admin.org_id, contact_id=theirs.id)
        session.add_all([conversation, other])
        await session.flush()
        for direction, when, where in [("inbound", this_month, conversation), ("inbound", this_month, conversation),
                                       ("outbound", this_month, conversation),
                                       ("outbound", last_month, conversation),
                                       ("outbound", this_month, other)]:
            session.add(m.Message(conversation_id=where.id, direction=direction, content={"text": "hi"},
                                  created_at=when))
    body = await get_json(client, super_admin, item(org))
    assert body["id"] == str(org) and body["plan_type"] == "free" and body["max_contacts"] == 1000
    assert body["usage"] == {"users": 2, "agents": 1, "whatsapp_numbers": 1, "chatbots": 1, "contacts": 2,
                             "departments": 2, "messages_this_month": 3, "outbound_messages_this_month": 1}


async def test_a_deleted_organization_can_still_be_read(client, db, super_admin, other_org_admin):
    await set_columns(db, other_org_admin.org_id, deleted_at=func.now())
    body = await get_json(client, super_admin, item(other_org_admin.org_id))
    assert body["deleted_at"] is not None


async def test_unknown_organization_is_404(client, super_admin):
    await get_json(client, super_admin, item(uuid.uuid4()), status=404)
    status, body = await patch(client, super_admin, uuid.uuid4(), {"max_contacts": 5})
    assert (status, body["error"]["code"]) == (404, "not_found")


# --- changing the plan --------------------------------------------------------------------


async def test_a_new_limit_is_enforced_by_the_normal_api(client, super_admin, other_org_admin):
    created = await client.post("/contacts", headers=other_org_admin.headers, json={"whatsapp_id": digits()})
    assert created.status_code == 201
    status, body = await patch(client, super_admin, other_org_admin.org_id, {"max_contacts": 1})
    assert (status, body["max_contacts"]) == (200, 1)
    refused = await client.post("/contacts", headers=other_org_admin.headers, json={"whatsapp_id": digits()})
    error = (await refused.get_json())["error"]
    assert (refused.status_code, error["code"], error["field"]) == (403, "plan_limit_exceeded", "max_contacts")


async def test_a_limit_below_usage_keeps_existing_rows(client, super_admin, other_org_admin):
    for _ in range(2):
        await client.post("/contacts", headers=other_org_admin.headers, json={"whatsapp_id": digits()})
    status, _ = await patch(client, super_admin, other_org_admin.org_id, {"max_contacts": 1})
    listed = await get_json(client, other_org_admin, "/contacts")
    assert status == 200 and listed["total"] == 2


async def test_null_makes_a_limit_unlimited(client, super_admin, other_org_admin):
    await patch(client, super_admin, other_org_admin.org_id, {"max_contacts": 0})
    status, body = await patch(client, super_admin, other_org_admin.org_id, {"max_contacts": None})
    created = await client.post("/contacts", headers=other_org_admin.headers, json={"whatsapp_id": digits()})
    assert (status, body["max_contacts"], created.status_code) == (200, None, 201)


async def test_plan_type_and_expiry_are_changed(client, super_admin, other_org_admin):
    status, body = await patch(client, super_admin, other_org_admin.org_id,
                               {"plan_type": "professional", "plan_expires_at": "2030-01-31T12:00:00Z"})
    shown = await get_json(client, other_org_admin, "/organization")
    assert status == 200 and body["plan_type"] == "professional"
    assert (shown["plan_type"], shown["plan_expires_at"]) == ("professional", "2030-01-31T12:00:00Z")


async def test_deactivating_signs_the_organizations_users_out(client, super_admin, other_org_admin):
    assert (await client.get("/organization", headers=other_org_admin.headers)).status_code == 200  # cached
    status, body = await patch(client, super_admin, other_org_admin.org_id, {"is_active": False})
    after = await client.get("/organization", headers=other_org_admin.headers)
    login = await client.post("/auth/login", json={"email": other_org_admin.email,
                                                   "password": other_org_admin.password})
    assert (status, body["is_active"]) == (200, False)
    assert after.status_code == 401 and login.status_code == 401
    assert (await client.get("/organization", headers=super_admin.headers)).status_code == 200


async def test_reactivating_lets_the_users_back_in(client, super_admin, other_org_admin):
    await patch(client, super_admin, other_org_admin.org_id, {"is_active": False})
    status, _ = await patch(client, super_admin, other_org_admin.org_id, {"is_active": True})
    assert status == 200
    assert (await client.get("/organization", headers=other_org_admin.headers)).status_code == 200


async def test_super_admin_cannot_deactivate_their_own_organization(client, super_admin):
    status, body = await patch(client, super_admin, super_admin.org_id, {"is_active": False})
    assert (status, body["error"]["code"], body["error"]["field"]) == (409, "conflict", "is_active")


async def test_a_deleted_organization_cannot_be_changed(client, db, super_admin, other_org_admin):
    await set_columns(db, other_org_admin.org_id, deleted_at=func.now())
    status, body = await patch(client, super_admin, other_org_admin.org_id, {"max_contacts": 5})
    assert (status, body["error"]["code"]) == (409, "conflict")


@pytest.mark.parametrize("body, field", [
    ({"max_contacts": -1}, "max_contacts"),
    ({"monthly_message_limit": 1.5}, "monthly_message_limit"),
    ({"max_agents": True}, "max_agents"),
    ({"plan_type": "gold"}, "plan_type"),
    ({"plan_type": None}, "plan_type"),
    ({"is_active": None}, "is_active"),
    ({"max_seats": 10}, "max_seats"),
    ({"name": "Renamed by the platform"}, "name"),
])
async def test_invalid_changes_are_422_naming_the_field(client, db, super_admin, other_org_admin, body, field):
    status, error = await patch(client, super_admin, other_org_admin.org_id, body)
    assert (status, error["error"]["field"]) == (422, field)
    async with db.session() as session:
        org = await session.get(m.Organization, other_org_admin.org_id)
    assert (org.plan_type, org.max_contacts, org.name) == ("free", 1000, "Org B")


# --- audit ----------------------------------------------------------------------------------


async def test_a_change_is_audited_in_the_target_organization(client, db, super_admin, other_org_admin):
    await patch(client, super_admin, other_org_admin.org_id, {"plan_type": "starter", "max_contacts": 5000})
    async with db.session() as session:
        entries = (await session.scalars(
            select(m.AuditLog).where(m.AuditLog.action == "organization.updated_by_platform"))).all()
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.organization_id, entry.user_id, entry.resource_id) == (
        other_org_admin.org_id, super_admin.user_id, other_org_admin.org_id)
    assert (entry.changes["before"]["plan_type"], entry.changes["after"]["plan_type"]) == ("free", "starter")
    assert (entry.changes["before"]["max_contacts"], entry.changes["after"]["max_contacts"]) == (1000, 5000)
    trail = await get_json(client, other_org_admin, "/audit-logs?action=organization.updated_by_platform")
    assert trail["total"] == 1


async def test_a_change_that_changes_nothing_is_not_audited(client, db, super_admin, other_org_admin):
    status, _ = await patch(client, super_admin, other_org_admin.org_id, {"max_contacts": 1000})
    async with db.session() as session:
        entry = await session.scalar(select(m.AuditLog).where(m.AuditLog.resource_id == other_org_admin.org_id))
    assert status == 200 and entry is None


# --- who may call ---------------------------------------------------------------------------

ROUTES = [("GET", LIST), ("GET", "/admin/organizations/{org}"), ("PATCH", "/admin/organizations/{org}")]


@pytest.mark.parametrize("method, path", ROUTES)
@pytest.mark.parametrize("role", ["org_admin", "agent", "viewer"])
async def test_other_roles_are_forbidden(client, actors, other_org_admin, role, method, path):
    response = await client.open(path.format(org=other_org_admin.org_id), method=method,
                                 headers=actors[role].headers, json={"max_contacts": 5})
    assert (response.status_code, (await response.get_json())["error"]["code"]) == (403, "forbidden")


@pytest.mark.parametrize("method, path", ROUTES)
async def test_no_token_is_401(client, other_org_admin, method, path):
    response = await client.open(path.format(org=other_org_admin.org_id), method=method)
    assert response.status_code == 401
