"""Tenant isolation, walked over every route: another organization's ids are 404.

Built from ``app.url_map``, so a route added later is walked automatically.
Organization B gets one real row of every table a route's id points into
(created generically from the models, parents first); organization A's
super_admin — who holds every permission — then calls every route with B's
ids. Each call must answer 404 and reveal none of B's ids.

The platform's routes (``/admin/...``, permissions of a resource in
`api.auth.permissions.CROSS_ORGANIZATION`) are the one exception, by design:
they exist to reach every organization, so a super_admin is *meant* to see
B through them. They are walked apart instead: every role without the
permission is refused (403) whatever ids it sends, and the super_admin's
call does reach B (so the exception is asserted, not assumed).
"""

from __future__ import annotations

import pytest

from api.auth.permissions import ROLES, allowed, is_cross_organization
from api.db import models

from .route_walk import (
    BODY_METHODS,
    all_routes,
    candidate_bodies,
    fill_path,
    offline_app,
    request_body_schema,
    seed_row,
    table_for_param,
)

_APP = offline_app()
ROUTES = [r for r in all_routes(_APP) if not r.public]
PLATFORM_ROUTES = [r for r in ROUTES if is_cross_organization(r.permission)]
TENANT_ROUTES = [r for r in ROUTES if not is_cross_organization(r.permission)]
ID_ROUTES = [r for r in TENANT_ROUTES if r.params]
LIST_ROUTES = [r for r in TENANT_ROUTES if not r.params and r.method == "GET"]
SPEC = _APP.extensions["QUART_SCHEMA"].openapi_provider.schema()
COMPONENTS = SPEC.get("components", {}).get("schemas", {})
ALL_TABLES = sorted({table_for_param(r.rule, p) for r in ROUTES for p in r.params} - {None})


def test_every_id_parameter_maps_to_a_table():
    unmapped = [f"{r.id} <{p}>" for r in ROUTES for p in r.params
                if table_for_param(r.rule, p) is None]
    assert not unmapped, f"teach tests/api/route_walk.py SEGMENT_TABLES about: {unmapped}"


def test_the_walk_covers_routes_with_ids():
    assert len(ID_ROUTES) >= 2  # the walk is not vacuous


def test_only_platform_routes_are_exempt_from_the_404_rule():
    assert PLATFORM_ROUTES  # the exception below is walked, not vacuous
    assert all(r.rule.startswith("/admin/") for r in PLATFORM_ROUTES)
    assert not [r.id for r in TENANT_ROUTES if r.rule.startswith("/admin/")]


@pytest.fixture
async def org_b_rows(db, other_org_admin):
    """One row of every table a route's id points into, all in organization B."""
    made: dict = {}
    async with db.transaction() as session:
        made["users"] = await session.get(models.User, other_org_admin.user_id)
        for table in ALL_TABLES:
            await seed_row(session, table, other_org_admin.org_id, made)
    return made


def _ids_of(rows: dict) -> set[str]:
    return {str(row.id) for row in rows.values() if getattr(row, "id", None) is not None}


@pytest.mark.parametrize("route", ID_ROUTES, ids=lambda r: r.id)
async def test_another_organizations_ids_are_not_found(route, client, super_admin, org_b_rows):
    values = {p: org_b_rows[table_for_param(route.rule, p)].id for p in route.params}
    bodies: list = [None]
    if route.method in BODY_METHODS:
        bodies = candidate_bodies(request_body_schema(SPEC, route), COMPONENTS)
    for body in bodies:  # a body the route accepts, so that only the id can fail it
        kwargs = {"headers": super_admin.headers} | ({"json": body} if body is not None else {})
        response = await client.open(fill_path(route.rule, values), method=route.method, **kwargs)
        if response.status_code != 422:
            break
    text = (await response.get_data()).decode("utf-8", "replace")
    assert response.status_code == 404, f"{route.id} answered {response.status_code}: {text[:300]}"
    leaked = {i for i in _ids_of(org_b_rows) if i in text}
    assert not leaked, f"{route.id} revealed organization B's ids {leaked}"


@pytest.mark.parametrize("route", LIST_ROUTES, ids=lambda r: r.id)
async def test_lists_never_show_another_organizations_rows(route, client, super_admin, org_b_rows):
    response = await client.get(route.rule, headers=super_admin.headers)
    text = (await response.get_data()).decode("utf-8", "replace")
    assert response.status_code < 500
    leaked = {i for i in _ids_of(org_b_rows) if i in text}
    assert not leaked, f"{route.id} listed organization B's ids {leaked}"


def _platform_call(route, org_b_rows) -> tuple[str, dict]:
    path = fill_path(route.rule, {p: org_b_rows[table_for_param(route.rule, p)].id for p in route.params})
    if route.method not in BODY_METHODS:
        return path, {}
    return path, {"json": candidate_bodies(request_body_schema(SPEC, route), COMPONENTS)[0]}


@pytest.mark.parametrize("route", PLATFORM_ROUTES, ids=lambda r: r.id)
async def test_platform_routes_refuse_every_role_without_the_permission(route, client, actors,
                                                                        org_b_rows):
    path, kwargs = _platform_call(route, org_b_rows)
    refused = [role for role in ROLES if not allowed(role, route.permission)]
    assert refused  # at least the organization's own roles
    for role in refused:
        response = await client.open(path, method=route.method, headers=actors[role].headers, **kwargs)
        body = await response.get_json()
        assert (response.status_code, body["error"]["code"]) == (403, "forbidden"), f"{route.id} as {role}"
        leaked = {i for i in _ids_of(org_b_rows) if i in str(body)}
        assert not leaked, f"{route.id} revealed organization B's ids {leaked} to {role}"


@pytest.mark.parametrize("route", PLATFORM_ROUTES, ids=lambda r: r.id)
async def test_platform_routes_do_reach_another_organization(route, client, super_admin, org_b_rows):
    path, kwargs = _platform_call(route, org_b_rows)
    response = await client.open(path, method=route.method, headers=super_admin.headers, **kwargs)
    text = (await response.get_data()).decode("utf-8", "replace")
    assert response.status_code == 200, f"{route.id} answered {response.status_code}: {text[:300]}"
    assert str(org_b_rows["organizations"].id) in text
