"""A campaign's transitions are domain events (docs/events.md: ``campaign.started``,
``.paused``, ``.resumed``, ``.completed``, ``.cancelled``, keyed by the campaign), written in
the transaction that makes them, so a webhook subscribed to them hears each one: the user's
(start, pause, resume, cancel), the runner's (completed) and PyTake's own pauses, with why."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.runtime.campaign_helpers import Api, add_contacts, approved_template, prepare_number, user_headers


@pytest.fixture
async def api(servers) -> Api:
    await prepare_number(servers.db, servers.seeded.number_id, servers.seeded.organization_id, rate=25)
    return Api(servers.client, servers.pytake_url,
               await user_headers(servers.db, servers.seeded.organization_id))


async def _events(servers, campaign_id: str) -> list[dict[str, Any]]:
    async with servers.db.session() as s:
        rows = (await s.execute(text("SELECT type, payload, organization_id FROM events WHERE ordering_key = :c "
                                     "ORDER BY id"), {"c": campaign_id})).mappings().all()
    return [{"type": r["type"], **r["payload"], "organization_id": str(r["organization_id"])} for r in rows]


async def _started(api: Api, servers, audience: int, prefix: str) -> str:
    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, audience, prefix=prefix, tags=["vip"])
    campaign = await api.ok("POST", "/campaigns", {"name": "Semana", "template_id": template,
                                                   "message_content": {"body": ["10%"]},
                                                   "target_filters": {"tags": ["vip"]}}, status=201)
    await api.ok("POST", f"/campaigns/{campaign['id']}/start", {})
    return campaign["id"]


async def test_a_campaign_sent_to_the_end_says_started_then_completed(api, servers):
    cid = await _started(api, servers, 5, "55319")

    async def completed() -> bool:
        return [e["type"] for e in await _events(servers, cid)][-1:] == ["campaign.completed"]
    await servers.wait_for(completed)
    started, done = await _events(servers, cid)
    assert started["type"] == "campaign.started"
    assert started["organization_id"] == str(servers.seeded.organization_id)
    assert started["campaign"]["id"] == cid and started["campaign"]["status"] == "running"
    assert started["campaign"]["total_recipients"] == 5 and started["reason"] is None
    assert done["campaign"]["status"] == "completed" and done["campaign"]["completed_at"]
    assert done["campaign"]["total_recipients"] == 5


async def test_pause_resume_and_cancel_are_events_in_their_order(api, servers):
    cid = await _started(api, servers, 300, "55318")
    await api.ok("POST", f"/campaigns/{cid}/pause", {})
    await api.ok("POST", f"/campaigns/{cid}/resume", {})
    cancelled = await api.ok("POST", f"/campaigns/{cid}/cancel", {})
    assert (await api.call("POST", f"/campaigns/{cid}/pause", {})).status_code == 409  # no event for a refusal

    events = await _events(servers, cid)
    assert [e["type"] for e in events] == ["campaign.started", "campaign.paused", "campaign.resumed",
                                           "campaign.cancelled"]
    assert [e["campaign"]["status"] for e in events] == ["running", "paused", "running", "cancelled"]
    assert all(e["reason"] is None for e in events)  # a user did each
    assert events[-1]["campaign"]["skipped_count"] == cancelled["skipped_count"] > 0


async def test_a_campaign_paused_by_its_number_going_away_says_why(api, servers):
    cid = await _started(api, servers, 300, "55317")
    await api.ok("PATCH", f"/whatsapp-numbers/{servers.seeded.number_id}", {"is_active": False})

    events = await _events(servers, cid)
    assert [e["type"] for e in events] == ["campaign.started", "campaign.paused"]
    assert events[-1]["campaign"]["status"] == "paused"
    assert events[-1]["reason"] == "the WhatsApp number was deactivated"
    assert (await api.ok("GET", f"/campaigns/{cid}"))["pause_reason"] == "the WhatsApp number was deactivated"

    await api.ok("PATCH", f"/whatsapp-numbers/{servers.seeded.number_id}", {"is_active": True})
    resumed = await api.ok("POST", f"/campaigns/{cid}/resume", {})
    assert (resumed["status"], resumed["pause_reason"]) == ("running", None)  # gone with the resume
    paused = await api.ok("POST", f"/campaigns/{cid}/pause", {})
    assert (paused["status"], paused["pause_reason"]) == ("paused", None)  # a user's pause: the user knows why
    assert (await api.ok("GET", f"/campaigns/{cid}"))["pause_reason"] is None
