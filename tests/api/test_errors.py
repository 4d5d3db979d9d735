"""Every error has the one JSON shape; bad input is 4xx naming the field, never 500."""

from __future__ import annotations

import pytest
from quart import Blueprint

from api.app import create_app


def assert_error_shape(body: dict, code: str) -> None:
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


async def test_unknown_route_is_404_json(client):
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    assert response.content_type == "application/json"
    assert_error_shape(await response.get_json(), "not_found")


async def test_wrong_method_is_405_json(client):
    response = await client.delete("/auth/login")
    assert response.status_code == 405
    assert_error_shape(await response.get_json(), "method_not_allowed")
    assert "POST" in response.headers["Allow"]


async def test_missing_field_is_422_naming_it(client):
    response = await client.post("/auth/login", json={"email": "a@b.co"})
    assert response.status_code == 422
    body = await response.get_json()
    assert_error_shape(body, "validation_error")
    assert body["error"]["field"] == "password"
    assert body["error"]["details"][0]["field"] == "password"


async def test_several_bad_fields_are_all_listed(client):
    response = await client.post("/auth/signup", json={"email": "not-an-email", "password": "x"})
    body = await response.get_json()
    fields = {d["field"] for d in body["error"]["details"]}
    assert {"email", "password", "organization_name", "full_name"} <= fields
    assert "field" not in body["error"]


async def test_wrong_type_is_422_naming_the_field(client, org_admin):
    response = await client.patch("/organization", headers=org_admin.headers,
                                  json={"settings": "not an object"})
    assert response.status_code == 422
    assert (await response.get_json())["error"]["field"] == "settings"


async def test_malformed_json_is_400(client):
    response = await client.post("/auth/login", data=b'{"email": "a@b.co", "password": ',
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert_error_shape(await response.get_json(), "malformed_json")


async def test_body_that_is_not_an_object_is_422(client):
    response = await client.post("/auth/login", json=["a", "b"])
    assert response.status_code == 422
    assert_error_shape(await response.get_json(), "validation_error")


async def test_forbidden_has_the_error_shape(client, viewer):
    response = await client.patch("/organization", headers=viewer.headers, json={"name": "x"})
    assert response.status_code == 403
    assert_error_shape(await response.get_json(), "forbidden")


async def test_unauthenticated_has_the_error_shape(client):
    response = await client.get("/organization", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert response.status_code == 401
    assert_error_shape(await response.get_json(), "unauthorized")


@pytest.fixture
async def crashing_app(api_settings, redis):
    """An app with one extra route that fails with an unexpected exception."""
    import api.routes as routes

    boom = Blueprint("boom", __name__)

    @boom.get("/boom")
    async def explode():
        raise RuntimeError("database password is hunter2")

    routes.BLUEPRINTS.append(boom)
    try:
        application = create_app(api_settings)
    finally:
        routes.BLUEPRINTS.remove(boom)
    async with application.test_app():
        yield application


async def test_unexpected_error_is_500_with_a_generic_message(crashing_app, caplog):
    response = await crashing_app.test_client().get("/boom")
    assert response.status_code == 500
    body = await response.get_json()
    assert_error_shape(body, "internal_error")
    assert "hunter2" not in body["error"]["message"]
    assert any("hunter2" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_health_reports_database_and_redis(client):
    response = await client.get("/health")
    assert response.status_code == 200
    body = await response.get_json()
    assert {k: body[k] for k in ("status", "database", "redis")} == {"status": "ok", "database": "ok", "redis": "ok"}
    assert body["logs"]["events_waiting"] >= 0  # the log store's backlog (docs/logs.md)


async def test_a_repeated_query_parameter_is_422_naming_it(client, org_admin):
    response = await client.get("/contacts?sort=name&sort=created_at", headers=org_admin.headers)
    assert response.status_code == 422
    assert (await response.get_json())["error"]["field"] == "sort"
