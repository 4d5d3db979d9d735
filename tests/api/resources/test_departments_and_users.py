"""Department agents (user_departments), users (passwords, roles), agent greetings."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from api.auth.passwords import verify_password
from api.db.models import User


async def test_agents_are_added_listed_updated_and_removed(seed, admin_api, agent) -> None:
    dept = await seed.department()
    path = f"/departments/{dept['id']}/agents"
    status, member = await admin_api.post(path, {"user_id": str(agent.user_id), "is_primary": True,
                                                 "max_concurrent_conversations": 8})
    assert status == 201, member
    assert (member["user_id"], member["is_primary"], member["max_concurrent_conversations"]) == (
        str(agent.user_id), True, 8)
    _, listed = await admin_api.get(path)
    assert [m["user_id"] for m in listed["items"]] == [str(agent.user_id)]
    status, updated = await admin_api.patch(f"{path}/{agent.user_id}", {"priority_level": 3})
    assert (status, updated["priority_level"]) == (200, 3)
    assert (await admin_api.delete(f"{path}/{agent.user_id}"))[0] == 204
    assert (await admin_api.get(path))[1]["items"] == []


async def test_adding_an_agent_twice_is_409_naming_user_id(seed, admin_api, agent) -> None:
    dept = await seed.department()
    path = f"/departments/{dept['id']}/agents"
    await admin_api.post(path, {"user_id": str(agent.user_id)})
    status, error = await admin_api.post(path, {"user_id": str(agent.user_id)})
    assert status == 409 and error["error"]["field"] == "user_id"


async def test_a_user_of_another_organization_cannot_join_a_department(seed, admin_api, other_org_admin) -> None:
    dept = await seed.department()
    status, error = await admin_api.post(f"/departments/{dept['id']}/agents",
                                         {"user_id": str(other_org_admin.user_id)})
    assert status == 422 and error["error"]["field"] == "user_id"


async def test_department_agents_of_another_organization_are_404(seed, admin_api, other_api, agent) -> None:
    dept = await seed.department()
    path = f"/departments/{dept['id']}/agents"
    await admin_api.post(path, {"user_id": str(agent.user_id)})
    assert (await other_api.get(path))[0] == 404
    assert (await other_api.patch(f"{path}/{agent.user_id}", {"priority_level": 1}))[0] == 404
    assert (await other_api.delete(f"{path}/{agent.user_id}"))[0] == 404


async def test_department_number_must_belong_to_the_organization(seed, other_seed, admin_api) -> None:
    foreign = await other_seed.whatsapp_number()
    status, error = await admin_api.post("/departments", {"name": "X", "whatsapp_number_id": foreign["id"]})
    assert status == 422 and error["error"]["field"] == "whatsapp_number_id"


async def test_a_department_with_conversations_in_its_queue_is_not_deleted(seed, admin_api) -> None:
    sales, support = await seed.department(name="Vendas"), await seed.department(name="Suporte")
    conversation = await seed.conversation()
    status, queued = await admin_api.post(f"/conversations/{conversation['id']}/transfer",
                                          {"department_id": sales["id"]})
    assert status == 200 and queued["status"] == "waiting_in_queue", queued

    status, error = await admin_api.delete(f"/departments/{sales['id']}")

    assert status == 409, error
    assert "1 conversation is waiting" in error["error"]["message"]
    _, kept = await admin_api.get(f"/conversations/{conversation['id']}")
    assert kept["department_id"] == sales["id"] and kept["status"] == "waiting_in_queue"
    await admin_api.post(f"/conversations/{conversation['id']}/transfer", {"department_id": support["id"]})
    assert (await admin_api.delete(f"/departments/{sales['id']}"))[0] == 204


async def test_created_user_can_log_in_with_the_password_and_it_is_hashed(seed, admin_api, client, db) -> None:
    user = await admin_api.created("/users", {"email": "Nova@Example.com", "password": "s3cret-passw0rd",
                                              "full_name": "Nova", "role": "agent"})
    assert user["email"] == "nova@example.com"
    assert "password" not in user and "password_hash" not in user
    async with db.session() as session:
        row = (await session.execute(select(User).where(User.id == uuid.UUID(user["id"])))).scalar_one()
    assert row.password_hash != "s3cret-passw0rd"
    assert verify_password(row.password_hash, "s3cret-passw0rd")
    response = await client.post("/auth/login", json={"email": "nova@example.com", "password": "s3cret-passw0rd"})
    assert response.status_code == 200


async def test_password_change_replaces_the_hash(seed, admin_api, db) -> None:
    user = await admin_api.created("/users", {"email": "p@example.com", "password": "first-passw0rd",
                                              "full_name": "P"})
    assert (await admin_api.patch(f"/users/{user['id']}", {"password": "second-passw0rd"}))[0] == 200
    async with db.session() as session:
        row = await session.get(User, uuid.UUID(user["id"]))
    assert verify_password(row.password_hash, "second-passw0rd")
    assert not verify_password(row.password_hash, "first-passw0rd")


async def test_super_admin_role_cannot_be_granted(seed, admin_api) -> None:
    status, error = await admin_api.post("/users", {"email": "s@example.com", "password": "s3cret-passw0rd",
                                                    "full_name": "S", "role": "super_admin"})
    assert status == 422 and error["error"]["field"] == "role"


async def test_short_password_is_422_naming_password(seed, admin_api) -> None:
    status, error = await admin_api.post("/users", {"email": "s@example.com", "password": "short",
                                                    "full_name": "S"})
    assert status == 422 and error["error"]["field"] == "password"


async def test_admins_cannot_delete_or_demote_themselves(seed, admin_api, org_admin) -> None:
    me = f"/users/{org_admin.user_id}"
    assert (await admin_api.delete(me))[0] == 409
    status, error = await admin_api.patch(me, {"role": "viewer"})
    assert status == 409 and error["error"]["field"] == "role"
    assert (await admin_api.get(me))[1]["role"] == "org_admin"


async def test_agents_cannot_manage_users(seed, agent_api) -> None:
    status, _ = await agent_api.post("/users", {"email": "x@example.com", "password": "s3cret-passw0rd",
                                                "full_name": "X"})
    assert status == 403


async def test_agent_writes_only_their_own_greeting(seed, agent_api, agent, org_admin) -> None:
    status, own = await agent_api.post("/agent-greetings", {"user_id": str(agent.user_id),
                                                            "message_template": "Oi, sou {{agent_name}}"})
    assert status == 201, own
    status, _ = await agent_api.post("/agent-greetings", {"user_id": str(org_admin.user_id),
                                                          "message_template": "Oi"})
    assert status == 403


async def test_greeting_for_another_organizations_user_is_422(seed, admin_api, other_org_admin) -> None:
    status, error = await admin_api.post("/agent-greetings", {"user_id": str(other_org_admin.user_id),
                                                              "message_template": "Oi"})
    assert status == 422 and error["error"]["field"] == "user_id"
