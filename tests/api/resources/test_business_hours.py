"""A chatbot's or a department's ``business_hours`` are checked when written.

The runtime reads them at every handoff and assignment pass; a shape it cannot read
(Portuguese day names, "9h", a timezone with a space) left the chatbot sending its away
message at every hour and the department never auto-assigning. Each is a 422 naming the
field, and nothing is written (api/schemas/business_hours.py)."""

from __future__ import annotations

import pytest

GOOD = {"timezone": "America/Sao_Paulo",
        "days": {"mon": [["09:00", "18:00"]], "Tuesday": [{"start": "09:00", "end": "12:00"}, ["13:00", "24:00"]],
                 "fri": [["22:00", "02:00"]], "sat": [], "sun": []}}

BAD = [
    ({"timezone": "Sao Paulo"}, "business_hours.timezone"),
    ({"days": {"segunda": [["09:00", "18:00"]]}}, "business_hours.days.segunda"),
    ({"days": {"mon": [["9h", "18h"]]}}, "business_hours.days.mon"),
    ({"days": {"mon": [["09:00", "25:00"]]}}, "business_hours.days.mon"),
    ({"days": {"mon": [["09:00"]]}}, "business_hours.days.mon"),
    ({"days": {"mon": "09:00-18:00"}}, "business_hours.days.mon"),
    ({"days": {"mon": [], "monday": [["09:00", "18:00"]]}}, "business_hours.days"),
    ({"dias": {"mon": [["09:00", "18:00"]]}}, "business_hours.dias"),
    ({"enabled": "no"}, "business_hours.enabled"),
]
RESOURCES = {"chatbots": {"name": "Atendimento"}, "departments": {"name": "Vendas"}}


@pytest.mark.parametrize("resource", list(RESOURCES))
@pytest.mark.parametrize(("hours", "field"), BAD, ids=[f for _, f in BAD])
async def test_business_hours_the_runtime_cannot_read_are_refused_naming_the_field(
        admin_api, resource, hours, field) -> None:
    status, body = await admin_api.post(f"/{resource}", {**RESOURCES[resource], "business_hours": hours})
    assert status == 422, body
    assert body["error"]["field"] == field, body
    row = await admin_api.created(f"/{resource}", {**RESOURCES[resource], "business_hours": GOOD})
    status, body = await admin_api.patch(f"/{resource}/{row['id']}", {"business_hours": hours})
    assert status == 422, body
    assert body["error"]["field"] == field, body
    _, kept = await admin_api.get(f"/{resource}/{row['id']}")
    assert kept["business_hours"] == GOOD


@pytest.mark.parametrize("resource", list(RESOURCES))
async def test_readable_business_hours_are_stored_as_given(admin_api, resource) -> None:
    row = await admin_api.created(f"/{resource}", {**RESOURCES[resource], "business_hours": GOOD})
    assert row["business_hours"] == GOOD
    status, body = await admin_api.patch(f"/{resource}/{row['id']}", {"business_hours": {}})
    assert status == 200 and body["business_hours"] == {}, body
