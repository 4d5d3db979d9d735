"""Every route that answers 204 answers it with no body and no Content-Type."""

from __future__ import annotations

import pytest

from .route_walk import all_routes, fill_path, offline_app, openapi_path, seed_row, table_for_param

_APP = offline_app()
SPEC = _APP.extensions["QUART_SCHEMA"].openapi_provider.schema()


def _answers_204(route) -> bool:
    operation = SPEC["paths"].get(openapi_path(route.rule), {}).get(route.method.lower(), {})
    return "204" in {str(status) for status in operation.get("responses", {})}


NO_CONTENT = [r for r in all_routes(_APP) if _answers_204(r)]
# deleting the organization ends every other call of the caller: last
NO_CONTENT.sort(key=lambda r: r.rule == "/organization")


def test_the_walk_finds_the_204_routes():
    assert {"POST /auth/logout", "DELETE /organization", "DELETE /contacts/<uuid:item_id>"} <= {
        r.id for r in NO_CONTENT}


@pytest.mark.parametrize("route", NO_CONTENT, ids=lambda r: r.id)
async def test_a_204_has_no_body_and_no_content_type(route, client, db, super_admin):
    made: dict = {}
    async with db.transaction() as session:
        if route.rule.endswith("/agents/<uuid:user_id>"):  # a membership to remove
            await seed_row(session, "user_departments", super_admin.org_id, made)
        for param in route.params:
            await seed_row(session, table_for_param(route.rule, param), super_admin.org_id, made)
        if "/hooks/" in route.rule:  # a REST hook of that (zapier) integration
            made["webhooks"].integration_id = made["integrations"].id
        values = {p: made[table_for_param(route.rule, p)].id for p in route.params}
    # on the wire: the test client's Response would add its default Content-Type back
    async with client.request(fill_path(route.rule, values), method=route.method,
                              headers=super_admin.headers) as connection:
        await connection.send_complete()
    assert connection.status_code == 204, bytes(connection.response_data)
    assert bytes(connection.response_data) == b""
    assert "Content-Type" not in connection.headers and "Content-Length" not in connection.headers
