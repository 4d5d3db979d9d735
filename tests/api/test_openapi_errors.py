"""Error responses in /openapi.json: documented per operation, and true of the real API.

`api.openapi_docs` adds 400/401/403/404/409/413/415/422/429 with the one error
body (`api.errors.ErrorResponse`) and a summary to every operation. These tests
read the served document, then provoke the errors on the real routes and check
each answer is a documented status whose body matches the documented schema.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import jsonschema
import pytest

from api.app import create_app
from api.auth.permissions import allowed
from api.errors import (
    ApiError, Conflict, ErrorResponse, Forbidden, NotFound, PlanLimitExceeded, RateLimited,
    Unauthorized, ValidationFailed,
)
from api.openapi_docs import summary_from_operation_id
from api.web_app import WEB_APP_RULES

from .route_walk import BODY_METHODS, all_routes, fill_path, offline_app, openapi_path

_APP = offline_app()
SPEC = _APP.extensions["QUART_SCHEMA"].openapi_provider.schema()
UNDOCUMENTED = ("/openapi.json", "/docs", "/health", "/ready", "/metrics", "/webhooks/whatsapp", "/webhooks/whatsapp/<app_key>",
                *WEB_APP_RULES)
ROUTES = [r for r in all_routes(_APP) if r.rule not in UNDOCUMENTED]
ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}


def operation(route) -> dict:  # noqa: ANN001
    return SPEC["paths"][openapi_path(route.rule)][route.method.lower()]


def documented(route) -> set[int]:  # noqa: ANN001
    return {int(status) for status in operation(route)["responses"]}


def error_schema_validator() -> jsonschema.Draft202012Validator:
    """A validator of `ErrorResponse` bodies, resolving the document's component refs."""
    document = {"components": SPEC["components"], **ERROR_REF}
    return jsonschema.Draft202012Validator(document)


def assert_error_body(body: dict) -> None:
    error_schema_validator().validate(body)


@pytest.fixture
async def served_spec(client) -> dict:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return await response.get_json()


# --- the document ---------------------------------------------------------------------


async def test_get_conversation_documents_its_errors_and_a_summary(served_spec):
    op = served_spec["paths"]["/conversations/{item_id}"]["get"]
    assert op["summary"] == "Get conversation"
    for status in ("401", "403", "404", "429"):
        assert op["responses"][status]["content"]["application/json"]["schema"] == ERROR_REF, status
        assert op["responses"][status]["description"]
    assert "conversations:read" in op["responses"]["403"]["description"]
    assert "409" not in op["responses"] and "422" not in op["responses"]
    assert op["responses"]["401"]["headers"]["WWW-Authenticate"]
    assert op["responses"]["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert op["parameters"][0]["schema"] == {"type": "string", "format": "uuid"}
    assert served_spec["paths"]["/conversations"]["get"]["summary"] == "List conversations"


async def test_error_schema_is_the_one_error_shape(served_spec):
    schemas = served_spec["components"]["schemas"]
    body = schemas["ErrorResponse"]
    assert body["required"] == ["error"]
    info = schemas["ErrorInfo"]
    assert info["required"] == ["code", "message"]
    assert set(info["properties"]) == {"code", "message", "field", "details"}
    # optional keys are left out of a body, never null
    for key in ("field", "details"):
        assert "anyOf" not in info["properties"][key] and "default" not in info["properties"][key]


def test_operations_document_the_errors_they_can_give():
    expected = {
        ("POST", "/users"): {400, 401, 403, 409, 413, 415, 422, 429},
        ("PATCH", "/tags/<uuid:item_id>"): {400, 401, 403, 404, 409, 413, 415, 422, 429},
        ("DELETE", "/chatbots/<uuid:item_id>"): {401, 403, 404, 429},
        ("GET", "/contacts"): {401, 403, 422, 429},
        ("POST", "/conversations/<uuid:item_id>/close"): {400, 401, 403, 404, 409, 413, 415, 422, 429},
        ("GET", "/auth/me"): {401, 429},
        ("POST", "/auth/login"): {400, 401, 413, 415, 422, 429},
        ("POST", "/auth/signup"): {400, 409, 413, 415, 422, 429},
        ("POST", "/contacts/import"): {401, 403, 413, 422, 429},
    }
    by_id = {(r.method, r.rule): r for r in ROUTES}
    for key, errors in expected.items():
        statuses = documented(by_id[key])
        assert {s for s in statuses if s >= 400} == errors, key


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id)
def test_every_operation_has_a_summary_and_error_bodies_use_the_error_schema(route):
    op = operation(route)
    assert op.get("summary"), route.id
    errors = {int(s): r for s, r in op["responses"].items() if int(s) >= 400}
    assert errors, f"{route.id} documents no error"
    for status, response in errors.items():
        assert response["content"]["application/json"]["schema"] == ERROR_REF, (route.id, status)
    if route.authenticated:
        assert {401, 429} <= set(errors), route.id
    if route.permission is not None:
        assert 403 in errors, route.id
    if route.params:
        assert 404 in errors, route.id
    if route.method in BODY_METHODS and "requestBody" in op:
        assert 422 in errors, route.id


def test_summaries_read_as_phrases():
    assert summary_from_operation_id("list_conversations") == "List conversations"
    assert summary_from_operation_id("update_whatsapp_number") == "Update WhatsApp number"


def test_every_api_error_body_matches_the_documented_schema():
    errors: list[ApiError] = [
        NotFound("conversation"), Conflict("taken", field="name"), Unauthorized(), Forbidden(),
        ValidationFailed("email", "not a valid email address"), PlanLimitExceeded("max_contacts", 5),
        RateLimited(3), ApiError(422, "invalid_canvas", "2 errors", field="canvas",
                                 details=[{"field": "nodes.0", "message": "x", "severity": "error"}]),
    ]
    for error in errors:
        body = error.to_body()
        assert_error_body(body)
        ErrorResponse.model_validate(body)


# --- the real API answers only documented statuses --------------------------------------


@pytest.mark.parametrize("route", [r for r in ROUTES if r.authenticated], ids=lambda r: r.id)
async def test_no_token_is_a_documented_401(route, client):
    path = fill_path(route.rule, {p: uuid.uuid4() for p in route.params})
    response = await client.open(path, method=route.method)
    assert response.status_code == 401
    assert 401 in documented(route)
    assert_error_body(await response.get_json())


@pytest.mark.parametrize("route", [r for r in ROUTES if r.params], ids=lambda r: r.id)
async def test_unknown_ids_are_documented_errors(route, client, org_admin, super_admin):
    path = fill_path(route.rule, {p: uuid.uuid4() for p in route.params})
    # an org_admin, or for the platform's routes (/admin/...) the one role they admit
    caller = org_admin if route.permission is None or allowed("org_admin", route.permission) else super_admin
    kwargs: dict = {"headers": caller.headers}
    if route.method in BODY_METHODS:
        kwargs["json"] = {}
    response = await client.open(path, method=route.method, **kwargs)
    assert response.status_code in documented(route), (route.id, response.status_code)
    if route.method in ("GET", "DELETE"):
        assert response.status_code == 404, route.id
    assert_error_body(await response.get_json())
    not_a_uuid = await client.open(fill_path(route.rule, {p: "nope" for p in route.params}),
                                   method=route.method, **kwargs)
    assert not_a_uuid.status_code == 404


@pytest.mark.parametrize("route", [r for r in ROUTES if r.method in BODY_METHODS], ids=lambda r: r.id)
async def test_malformed_and_oversized_bodies_are_documented_errors(route, client, super_admin):
    path = fill_path(route.rule, {p: uuid.uuid4() for p in route.params})
    headers = {**super_admin.headers, "Content-Type": "application/json"}
    response = await client.open(path, method=route.method, data=b'{"name": ', headers=headers)
    assert response.status_code in documented(route), (route.id, response.status_code)
    assert response.status_code in (400, 404, 422), route.id
    assert_error_body(await response.get_json())
    if route.rule == "/auth/logout":
        return  # a well-formed body would sign the caller out; malformed is covered above
    big = b'{"name": "' + b"x" * 1_100_000 + b'"}'
    response = await client.open(path, method=route.method, data=big, headers=headers)
    assert response.status_code in documented(route), (route.id, response.status_code)


async def test_per_user_rate_limit_is_a_documented_429(api_settings, redis, org_admin):
    app = create_app(replace(api_settings, ratelimit_user_per_minute=1))
    route = next(r for r in ROUTES if (r.method, r.rule) == ("GET", "/conversations/<uuid:item_id>"))
    async with app.test_app():
        client = app.test_client()
        path = f"/conversations/{uuid.uuid4()}"
        statuses = [(await client.get(path, headers=org_admin.headers)).status_code for _ in range(2)]
        response = await client.get(path, headers=org_admin.headers)
    assert statuses[0] == 404 and response.status_code == 429
    assert {404, 429} <= documented(route)
    assert_error_body(await response.get_json())
