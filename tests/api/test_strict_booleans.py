"""Booleans are JSON booleans: every boolean of every request body and query string.

A body field documented as boolean given ``0``, ``1``, ``"true"`` or
``"false"`` is a 422 naming the field (`api.schemas.common.StrictBool`); a
boolean query parameter is exactly ``true`` or ``false``
(`api.resources.filters.parse_bool`), anything else a 422 naming it.
"""

from __future__ import annotations

import uuid

import pytest

from .route_walk import (
    all_routes, fill_path, offline_app, openapi_path, request_body_schema, seed_row, table_for_param,
)

_APP = offline_app()
SPEC = _APP.extensions["QUART_SCHEMA"].openapi_provider.schema()
COMPONENTS = SPEC["components"]["schemas"]
ROUTES = all_routes(_APP)


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = COMPONENTS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _is_boolean(schema: dict) -> bool:
    options = schema.get("anyOf") or schema.get("oneOf") or [schema]
    return any(_resolve(option).get("type") == "boolean" for option in options)


BODY_BOOLEANS = [
    (route, name)
    for route in ROUTES
    if (schema := request_body_schema(SPEC, route))
    for name, prop in _resolve(schema).get("properties", {}).items()
    if _is_boolean(prop)
]
QUERY_BOOLEANS = [
    (route, parameter["name"])
    for route in ROUTES
    for parameter in SPEC["paths"].get(openapi_path(route.rule), {}).get(route.method.lower(), {})
    .get("parameters", [])
    if parameter.get("in") == "query" and _is_boolean(parameter.get("schema", {}))
]


def test_the_tables_are_not_empty():
    assert len(BODY_BOOLEANS) > 30 and len(QUERY_BOOLEANS) > 15
    assert any(r.id == "PATCH /contacts/<uuid:item_id>" and n == "opt_in" for r, n in BODY_BOOLEANS)
    assert any(r.id == "GET /contacts" and n == "opt_in" for r, n in QUERY_BOOLEANS)


@pytest.mark.parametrize("route,field", BODY_BOOLEANS, ids=lambda v: getattr(v, "id", v))
async def test_a_body_boolean_is_not_coerced(client, super_admin, route, field):
    path = fill_path(route.rule, {p: uuid.uuid4() for p in route.params})
    for value in (0, 1, "true", "false", "yes", 1.0):
        response = await client.open(path, method=route.method, headers=super_admin.headers,
                                     json={field: value})
        body = await response.get_json()
        assert response.status_code == 422, (value, body)
        assert field in {d["field"] for d in body["error"]["details"]}, (value, body)


@pytest.mark.parametrize("route,param", QUERY_BOOLEANS, ids=lambda v: getattr(v, "id", v))
async def test_a_query_boolean_is_true_or_false(client, db, super_admin, route, param):
    made: dict = {}
    async with db.transaction() as session:  # the parent of a sub-list exists (else 404)
        for name in route.params:
            await seed_row(session, table_for_param(route.rule, name), super_admin.org_id, made)
    path = fill_path(route.rule, {p: made[table_for_param(route.rule, p)].id for p in route.params})
    for value in ("1", "0", "yes", "True", "FALSE", "on", ""):  # empty is not a boolean either
        response = await client.get(path, headers=super_admin.headers, query_string={param: value})
        body = await response.get_json()
        assert response.status_code == 422, (value, body)
        assert body["error"]["field"] == param
    for value in ("true", "false"):
        response = await client.get(path, headers=super_admin.headers, query_string={param: value})
        assert response.status_code == 200, (value, await response.get_json())
