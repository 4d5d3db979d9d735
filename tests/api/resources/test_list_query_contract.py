"""List query strings and bodies mean what /openapi.json says (the schemathesis run checks
random values; these are the edges a person would hit).

- every sort value the document offers is accepted, and several comma-separated too;
- a typed parameter (uuid, choice, sort) sent empty is a 422 naming it, never "no filter";
- a date range whose end is before its start matches nothing (it is not an error);
- dates at the edge of the calendar (an offset past year 1) are read, never a 500;
- a chatbot's temperature is rounded to the two decimals it is stored with;
- ``PATCH /organization`` without a body changes nothing (its body is optional, as documented).
"""

from __future__ import annotations

import pytest


async def _documented(admin_api, path: str) -> dict[str, dict]:  # noqa: ANN001
    _, document = await admin_api.get("/openapi.json")
    return {p["name"]: p["schema"] for p in document["paths"][path]["get"]["parameters"]}


async def test_every_documented_sort_value_is_accepted(seed, admin_api) -> None:
    await seed.conversation()
    params = await _documented(admin_api, "/conversations")
    assert "null" not in str(params["page"]) and params["page"]["maximum"] == 1_000_000
    for value in params["sort"]["enum"]:
        status, page = await admin_api.get(f"/conversations?sort={value}")
        assert status == 200 and page["total"] == 1, (value, page)
    status, _ = await admin_api.get("/conversations?sort=-priority,created_at")
    assert status == 200


@pytest.mark.parametrize("query, field", [
    ("sort=", "sort"), ("contact_id=", "contact_id"), ("status=", "status"), ("status=open,", "status"),
    ("created_at_from=", "created_at_from"), ("page=1000001", "page"),
])
async def test_an_empty_or_out_of_range_typed_value_is_a_422_naming_it(admin_api, query, field) -> None:
    status, body = await admin_api.get(f"/conversations?{query}")
    assert status == 422 and body["error"]["field"] == field, body


async def test_a_reversed_date_range_matches_nothing(seed, admin_api) -> None:
    await seed.conversation()
    status, page = await admin_api.get("/conversations?created_at_from=2999-01-01&created_at_to=2000-01-01")
    assert status == 200 and page["items"] == [] and page["total"] == 0


async def test_dates_at_the_edge_of_the_calendar_are_read(seed, admin_api) -> None:
    await seed.conversation()
    status, page = await admin_api.get("/conversations?created_at_from=0001-01-01T00:00:00%2B05:00"
                                       "&created_at_to=9999-12-31T23:59:59-05:00")
    assert status == 200 and page["total"] == 1, page


async def test_a_temperature_is_rounded_to_two_decimals(admin_api) -> None:
    status, bot = await admin_api.post("/chatbots", {"name": "Rounded", "ai_temperature": 0.4567})
    assert status == 201 and bot["ai_temperature"] == 0.46, bot


async def test_patching_the_organization_without_a_body_changes_nothing(admin_api) -> None:
    _, before = await admin_api.get("/organization")
    status, after = await admin_api.patch("/organization", None)
    assert status == 200 and after["name"] == before["name"], after
