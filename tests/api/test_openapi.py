"""/openapi.json is a valid OpenAPI 3.1 document describing every route."""

from __future__ import annotations

import pytest
import schemathesis

from api.web_app import WEB_APP_RULES

from .route_walk import all_routes, offline_app, openapi_path

_APP = offline_app()
# Hidden on purpose: the document itself, liveness, and Meta's webhook callback
# (signed by Meta, documented in docs/runtime.md, not part of the public API),
# and the web app's pages and files.
UNDOCUMENTED = ("/openapi.json", "/docs", "/health", "/ready", "/metrics", "/webhooks/whatsapp", "/webhooks/whatsapp/<app_key>",
                *WEB_APP_RULES)
ROUTES = [r for r in all_routes(_APP) if r.rule not in UNDOCUMENTED]


_SPEC: dict = {}


@pytest.fixture
async def spec() -> dict:
    """The document as /openapi.json serves it, built once per run: building it walks every
    route's schemas (about a second), and ~400 tests below only read it. Fetched from the app
    with its services not started (the route needs no database or Redis), so that a reader
    does not cost a test database, a Redis flush and an app start each;
    `test_a_started_app_serves_the_same_document` checks that the running app serves it."""
    if not _SPEC:
        response = await _APP.test_client().get("/openapi.json")
        assert response.status_code == 200
        _SPEC.update(await response.get_json())
    return _SPEC


async def test_a_started_app_serves_the_same_document(client, spec):
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert await response.get_json() == spec


async def test_openapi_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(spec).validate()  # raises on an invalid document


async def test_docs_page_is_served(client):
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "/openapi.json" in (await response.get_data(as_text=True))


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id)
async def test_every_route_is_documented_with_its_responses(route, spec):
    operation = spec["paths"].get(openapi_path(route.rule), {}).get(route.method.lower())
    assert operation is not None, f"{route.id} is missing from /openapi.json"
    assert operation.get("operationId")
    assert operation["responses"], f"{route.id} documents no response"


@pytest.mark.parametrize("route", [r for r in ROUTES if r.authenticated], ids=lambda r: r.id)
async def test_authenticated_routes_declare_bearer_security(route, spec):
    operation = spec["paths"][openapi_path(route.rule)][route.method.lower()]
    assert {"bearer": []} in operation.get("security", [])


async def test_bearer_scheme_is_declared(spec):
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


async def test_operation_ids_are_unique(spec):
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
