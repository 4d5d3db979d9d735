"""A deleted user frees their e-mail: it can be given to a new user, and never logs in again."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from api.db.models import User

PASSWORD = "a long enough password"


def new_email() -> str:
    return f"ana-{uuid.uuid4().hex[:8]}@example.com"


async def login(client, email: str, password: str = PASSWORD):  # noqa: ANN001
    response = await client.post("/auth/login", json={"email": email, "password": password})
    return response.status_code, await response.get_json()


async def test_a_deleted_users_email_can_be_given_to_a_new_user(client, admin_api, seed, db) -> None:
    email = new_email()
    first = await admin_api.created("/users", {"email": email, "password": PASSWORD, "full_name": "Ana"})
    assert (await login(client, email))[0] == 200

    assert (await admin_api.delete(f"/users/{first['id']}"))[0] == 204
    status, error = await login(client, email)
    assert (status, error["error"]["code"]) == (401, "invalid_credentials")

    status, second = await admin_api.post("/users", {"email": email, "password": PASSWORD,
                                                     "full_name": "Ana Nova", "role": "viewer"})
    assert status == 201, second
    assert second["id"] != first["id"] and second["email"] == email

    status, tokens = await login(client, email)
    assert status == 200 and tokens["user"]["id"] == second["id"]
    _, listed = await admin_api.get(f"/users?email={email}")
    assert [u["id"] for u in listed["items"]] == [second["id"]]
    assert (await admin_api.get(f"/users/{first['id']}"))[0] == 404

    async with db.session() as session:
        deleted = await session.get(User, uuid.UUID(first["id"]))
    assert deleted.deleted_at is not None
    assert deleted.email == f"deleted+{first['id']}@invalid"


async def test_the_deleted_users_original_email_stays_in_the_audit_log(admin_api, seed) -> None:
    email = new_email()
    user = await admin_api.created("/users", {"email": email, "password": PASSWORD, "full_name": "Bia"})
    await admin_api.delete(f"/users/{user['id']}")
    status, page = await admin_api.get(f"/audit-logs?action=user.deleted&resource_id={user['id']}")
    assert status == 200 and page["total"] == 1
    assert page["items"][0]["changes"]["before"]["email"] == email


async def test_signup_may_reuse_a_deleted_users_email(client, admin_api, seed) -> None:
    email = new_email()
    user = await admin_api.created("/users", {"email": email, "password": PASSWORD, "full_name": "Cau"})
    await admin_api.delete(f"/users/{user['id']}")
    response = await client.post("/auth/signup", json={
        "organization_name": "Nova Org", "full_name": "Cau", "email": email, "password": PASSWORD})
    assert response.status_code == 201, await response.get_json()
    assert (await response.get_json())["user"]["email"] == email


async def test_a_live_users_email_is_still_a_409(admin_api, seed) -> None:
    email = new_email()
    await admin_api.created("/users", {"email": email, "password": PASSWORD, "full_name": "Duda"})
    status, error = await admin_api.post("/users", {"email": email.upper(), "password": PASSWORD,
                                                    "full_name": "Duda 2"})
    assert status == 409 and error["error"]["field"] == "email"


async def test_a_refused_delete_keeps_the_email(admin_api, org_admin, db) -> None:
    status, _ = await admin_api.delete(f"/users/{org_admin.user_id}")
    assert status == 409
    async with db.session() as session:
        email = (await session.execute(select(User.email).where(User.id == org_admin.user_id))).scalar_one()
    assert email == org_admin.email
