"""The role matrix, walked: every permission for every role, on probes and real routes.

`api.auth.permissions.MATRIX` is the single table; these tests check that the
docs say what it says, that every route is guarded, and that each route lets
exactly the roles of its permission through.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from quart import Blueprint

import api.routes as routes_module
from api.app import create_app
from api.auth.permissions import MATRIX, PERMISSIONS, ROLES, allowed, require

from .route_walk import BODY_METHODS, all_routes, candidate_bodies, fill_path, offline_app, request_body_schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"
_APP = offline_app()
ROUTES = all_routes(_APP)
GUARDED = [r for r in ROUTES if r.permission is not None]
SPEC = _APP.extensions["QUART_SCHEMA"].openapi_provider.schema()
COMPONENTS = SPEC.get("components", {}).get("schemas", {})
# super_admin last: it may delete the organization, which ends the other roles' access.
ROLE_ORDER = ("viewer", "agent", "org_admin", "super_admin")


def test_docs_table_is_the_matrix():
    rows = re.findall(r"^\| `(\w+)` \| (.+) \|$", DOC.read_text(), flags=re.M)
    documented = {
        resource: tuple(
            "".join(word[0] for word in cell.split() if word in ("read", "write", "delete"))
            for cell in cells.split(" | ")
        )
        for resource, cells in rows
    }
    assert documented == MATRIX


def test_matrix_covers_the_resources_of_the_contract():
    assert set(MATRIX) == {
        "organization", "users", "whatsapp_numbers", "departments", "agent_greetings",
        "chatbots", "flows", "contacts", "tags", "conversations", "messages", "campaigns",
        "templates", "integrations", "webhooks", "quick_replies", "audit_logs", "platform"}


def test_unknown_permission_names_are_refused_when_routes_are_declared():
    with pytest.raises(ValueError):
        require("contact:write")  # typo: the resource is "contacts"


@pytest.mark.parametrize("route", [r for r in ROUTES if not r.public], ids=lambda r: r.id)
def test_every_non_public_route_requires_a_token(route):
    assert route.authenticated, f"{route.id} has no @require(...)"


def test_routes_use_only_permissions_of_the_matrix():
    assert {r.permission for r in GUARDED} <= set(PERMISSIONS)


# --- every permission x every role, on a probe route ----------------------------


@pytest.fixture
async def probe_client(api_settings, redis):
    """The app plus one probe route per permission: ``GET /_probe/<permission>``."""
    probe = Blueprint("probe", __name__)
    for permission in PERMISSIONS:
        async def view(permission=permission):
            return {"ok": permission}

        view.__name__ = "probe_" + permission.replace(":", "_")
        probe.add_url_rule(f"/_probe/{permission}", view.__name__, require(permission)(view))
    routes_module.BLUEPRINTS.append(probe)
    try:
        application = create_app(api_settings)
    finally:
        routes_module.BLUEPRINTS.remove(probe)
    async with application.test_app():
        yield application.test_client()


@pytest.mark.parametrize("permission", PERMISSIONS)
async def test_each_role_gets_exactly_its_permissions(permission, probe_client, actors):
    outcome = {}
    for role in ROLES:
        response = await probe_client.get(f"/_probe/{permission}", headers=actors[role].headers)
        outcome[role] = response.status_code
    expected = {role: 200 if allowed(role, permission) else 403 for role in ROLES}
    assert outcome == expected


# --- every real route x every role ------------------------------------------------


@pytest.mark.parametrize("route", GUARDED, ids=lambda r: r.id)
async def test_real_route_admits_exactly_the_roles_of_its_permission(route, client, actors):
    path = fill_path(route.rule, {p: uuid.uuid4() for p in route.params})
    outcome = {}
    for role in ROLE_ORDER:
        kwargs: dict = {"headers": actors[role].headers}
        if route.method in BODY_METHODS:  # ids in the body are the caller's own (e.g. user_id)
            kwargs["json"] = candidate_bodies(request_body_schema(SPEC, route), COMPONENTS,
                                              {"user_id": actors[role].user_id})[0]
        response = await client.open(path, method=route.method, **kwargs)
        code = ((await response.get_json(silent=True)) or {}).get("error", {}).get("code")
        # 403 plan_limit_exceeded is the plan speaking, not the role matrix.
        outcome[role] = ("forbidden" if code == "forbidden" else
                         "unauthenticated" if response.status_code == 401 else "admitted")
    expected = {role: "admitted" if allowed(role, route.permission) else "forbidden"
                for role in ROLE_ORDER}
    assert outcome == expected, f"{route.id} ({route.permission})"
