"""Campaigns probed as a customer's developer would (docs/campaigns.md): what the API refuses
names the campaign's own field and writes nothing; a template Meta stops (PAUSED, DISABLED)
pauses the campaigns sending it, with the reason; a template a campaign still sends cannot be
deleted; an empty audience, a time in the past and a cancelled draft are what a user expects."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.runtime.campaign_helpers import (
    PROMO, Api, add_contacts, approved_template, counts, mismatches, prepare_number, user_headers)


@pytest.fixture
async def api(servers) -> Api:
    await prepare_number(servers.db, servers.seeded.number_id, servers.seeded.organization_id)
    return Api(servers.client, servers.pytake_url,
               await user_headers(servers.db, servers.seeded.organization_id))


async def _campaign(api: Api, template_id: str, **extra: Any) -> str:
    body = {"name": "Semana", "template_id": template_id, "message_content": {"body": ["10%"]},
            "target_filters": {"tags": ["vip"]}, **extra}
    return (await api.ok("POST", "/campaigns", body, status=201))["id"]


async def _refused(api: Api, servers, campaign_id: str, body: dict | None = None) -> tuple[int, str | None, str]:
    """A start refused: its status, field and message; the campaign is still a draft, with no recipient."""
    response = await api.call("POST", f"/campaigns/{campaign_id}/start", body or {})
    assert (await api.ok("GET", f"/campaigns/{campaign_id}"))["status"] == "draft", response.text
    assert (await counts(servers.db, campaign_id))["recipients"] == 0
    error = response.json()["error"]
    return response.status_code, error.get("field"), error["message"]


async def _events(servers, campaign_id: str) -> list[dict[str, Any]]:
    async with servers.db.session() as s:
        rows = (await s.execute(text("SELECT type, payload FROM events WHERE ordering_key = :c ORDER BY id"),
                                {"c": campaign_id})).mappings().all()
    return [{"type": r["type"], **r["payload"]} for r in rows]


async def test_a_template_meta_pauses_pauses_the_campaigns_sending_it_with_the_reason(api, servers):
    """Meta pauses a template (low quality) while a campaign sends it: the campaign is paused with
    the reason instead of sending every remaining recipient into 132015; it resumes once Meta
    approves the template again."""
    from api.campaigns import start
    from api.campaigns.schedule import tick
    from api.workers.tasks import context

    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 5, prefix="55719", tags=["vip"])
    cid = await _campaign(api, template)
    async with servers.db.transaction() as s:  # running, no runner woken yet
        await start(s, cid, org)
    meta_id = (await api.ok("GET", f"/templates/{template}"))["meta_template_id"]

    async def meta_says(event: str) -> None:
        response = await servers.client.post(servers.sandbox_url + "/_sandbox/templates/event",
                                             json={"id": meta_id, "event": event, "reason": "LOW_QUALITY"})
        assert response.status_code == 200, response.text

        async def applied() -> bool:
            return (await api.ok("GET", f"/templates/{template}"))["meta_status"] == event
        await servers.wait_for(applied)

    await meta_says("PAUSED")
    await tick(context().runtime)  # the maintenance loop's campaign chore (every 2 s)

    row = await counts(servers.db, cid)
    assert row["status"] == "paused", row
    assert (row["sent"], row["failed"], row["pending"]) == (0, 0, 5)  # nothing sent into Meta's refusal
    paused = (await _events(servers, cid))[-1]
    assert paused["type"] == "campaign.paused"
    why = "template_id: template 'promo_week' is PAUSED: only APPROVED, active templates can be sent"
    assert paused["reason"] == why
    assert (await api.ok("GET", f"/campaigns/{cid}"))["pause_reason"] == why  # the user sees why, not just "paused"
    listed = (await api.ok("GET", "/campaigns?status=paused"))["items"]
    assert [(c["id"], c["pause_reason"]) for c in listed] == [(cid, why)]

    refused = await api.call("POST", f"/campaigns/{cid}/resume", {})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "template_id", refused.text
    still = await api.ok("GET", f"/campaigns/{cid}")
    assert (still["status"], still["pause_reason"]) == ("paused", why)  # a refused resume changes nothing

    await meta_says("APPROVED")
    resumed = await api.ok("POST", f"/campaigns/{cid}/resume", {})
    assert (resumed["status"], resumed["pause_reason"]) == ("running", None)

    async def all_sent() -> bool:
        return (await counts(servers.db, cid))["sent"] == 5
    await servers.wait_for(all_sent)


async def test_a_template_a_campaign_still_sends_cannot_be_deleted(api, servers):
    """Deleted, the template would leave a scheduled campaign paused with no template, and a
    campaign past its draft cannot be edited: the delete is refused (Meta keeps the template)
    until the campaign is cancelled."""
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, servers.seeded.organization_id, 2, prefix="55729", tags=["vip"])
    cid = await _campaign(api, template, name="Natal")
    await api.ok("POST", f"/campaigns/{cid}/start", {"scheduled_at": "2099-12-24T18:00:00"})

    refused = await api.call("DELETE", f"/templates/{template}")
    assert refused.status_code == 409, refused.text
    assert "'Natal'" in refused.json()["error"]["message"]
    assert (await api.ok("GET", f"/templates/{template}"))["meta_status"] == "APPROVED"
    assert [t["name"] for ts in servers.sandbox.templates.values() for t in ts] == ["promo_week"]  # still at Meta
    assert (await api.ok("GET", f"/campaigns/{cid}"))["template_id"] == template

    await api.ok("POST", f"/campaigns/{cid}/cancel", {})
    await api.ok("DELETE", f"/templates/{template}", status=204)
    assert not [t for ts in servers.sandbox.templates.values() for t in ts]


async def test_a_campaign_started_while_its_template_is_deleted_waits_then_names_no_template(
        api, servers, monkeypatch):
    """A draft's start during the template's delete (held at Meta's call here): before, the delete's
    check had passed in a transaction of its own, the start found the template still there and
    ran, and the delete then set its template_id to NULL: a running campaign with no template. Now
    the start waits for the delete, then is refused on template_id, and nothing is written."""
    import asyncio

    from api.templates import lifecycle

    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, servers.seeded.organization_id, 2, prefix="55739", tags=["vip"])
    cid = await _campaign(api, template, name="Relâmpago")
    at_meta, go_on, real = asyncio.Event(), asyncio.Event(), lifecycle.delete_at_meta

    async def held_at_meta(*args: Any, **kw: Any) -> Any:
        at_meta.set()
        await go_on.wait()
        return await real(*args, **kw)

    monkeypatch.setattr(lifecycle, "delete_at_meta", held_at_meta)
    deleting = asyncio.create_task(api.call("DELETE", f"/templates/{template}"))
    await servers.wait_for(lambda: at_meta.is_set() or deleting.done())
    assert not deleting.done(), deleting.result().text
    starting = asyncio.create_task(api.call("POST", f"/campaigns/{cid}/start", {}))

    async def start_waits_for_a_lock() -> bool:
        async with servers.db.session() as s:
            return bool((await s.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"))).scalar())
    await servers.wait_for(lambda: starting.done() or start_waits_for_a_lock())
    assert not starting.done(), starting.result().text  # it did not run past the delete
    go_on.set()

    assert (await deleting).status_code == 204
    started = await starting
    assert started.status_code == 422 and started.json()["error"]["field"] == "template_id", started.text
    campaign = await api.ok("GET", f"/campaigns/{cid}")
    assert (campaign["status"], campaign["template_id"]) == ("draft", None)
    assert (await counts(servers.db, cid))["recipients"] == 0
    assert not [t for ts in servers.sandbox.templates.values() for t in ts]


async def test_start_refusals_name_the_campaigns_own_field(api, servers):
    """The template (not approved, another number's) is ``template_id``; a parameter is
    ``message_content.body[0]`` (as create and edit say it), also one WhatsApp refuses (a
    line break, only spaces: error 132018 for every recipient before); nothing is written."""
    number = str(servers.seeded.number_id)
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, servers.seeded.organization_id, 2, prefix="55739", tags=["vip"])
    pending = await api.ok("POST", "/templates", {**PROMO, "name": "not_sent_yet", "whatsapp_number_id": number},
                           status=201)
    async with servers.db.transaction() as s:
        other_number = (await s.execute(text(
            "INSERT INTO whatsapp_numbers (organization_id, phone_number, phone_number_id, display_name) "
            "VALUES (:o, '+5511900000077', 'pnid-other-number', 'Outro') RETURNING id"),
            {"o": servers.seeded.organization_id})).scalar()

    status, field, message = await _refused(api, servers, await _campaign(api, pending["id"]))
    assert (status, field) == (422, "template_id") and "PENDING" in message
    status, field, message = await _refused(api, servers, await _campaign(api, template, whatsapp_number_id=str(other_number)))
    assert (status, field) == (422, "template_id") and "another WhatsApp number" in message
    for body, why in (([10], "string"), (["a\nb"], "line break"), (["   "], "empty")):
        status, field, message = await _refused(api, servers, await _campaign(api, template, message_content={"body": body}))
        assert (status, field) == (422, "message_content.body[0]") and why in message, (body, message)


async def test_an_empty_audience_is_refused_and_a_due_one_is_paused_with_the_reason(api, servers):
    """Started, it would complete at once having sent nothing, and count in the month's campaigns."""
    from datetime import datetime, timedelta, timezone

    from api.campaigns.schedule import start_due
    from api.workers.tasks import context

    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 2, prefix="55749", tags=["vip"], opt_in=False)  # opted out: not in it
    nobody = await _campaign(api, template)
    status, field, message = await _refused(api, servers, nobody)
    assert (status, field) == (422, "target_filters") and "audience is empty" in message

    later = await _campaign(api, template)
    scheduled = await api.ok("POST", f"/campaigns/{later}/start", {"scheduled_at": "2099-01-01T09:00:00"})
    assert scheduled["status"] == "scheduled"
    async with servers.db.transaction() as s:  # time passes
        await s.execute(text("UPDATE campaigns SET scheduled_at = :t WHERE id = :c"),
                        {"t": datetime.now(timezone.utc) - timedelta(minutes=1), "c": later})
    assert await start_due(context().runtime) == []
    row = await counts(servers.db, later)
    assert (row["status"], row["recipients"]) == ("paused", 0)
    assert (await _events(servers, later))[-1]["reason"].startswith("target_filters: the audience is empty")
    assert (await api.ok("GET", f"/campaigns/{later}"))["pause_reason"].startswith("target_filters: the audience is empty")
    cancelled = await api.ok("POST", f"/campaigns/{later}/cancel", {})
    assert (cancelled["status"], cancelled["pause_reason"]) == ("cancelled", None)


async def test_a_scheduled_at_in_the_past_is_refused_not_started_now(api, servers):
    """A typo'd year (2025 for 2026) sent the campaign to its whole audience at once."""
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, servers.seeded.organization_id, 2, prefix="55759", tags=["vip"])
    cid = await _campaign(api, template)
    status, field, message = await _refused(api, servers, cid, {"scheduled_at": "2020-01-01T10:00:00"})
    assert (status, field) == (422, "scheduled_at") and "in the past" in message
    assert not [m for m in servers.sandbox.accepted if m["to"].startswith("55759")]


async def test_a_campaign_cancelled_before_it_ran_is_not_one_of_the_months(api, servers):
    """``monthly_campaign_limit`` counts campaigns started: a draft cancelled sent nothing."""
    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 2, prefix="55769", tags=["vip"])
    async with servers.db.transaction() as s:
        await s.execute(text("UPDATE organizations SET monthly_campaign_limit = 1 WHERE id = :o"), {"o": org})
    draft = await _campaign(api, template)
    assert (await api.ok("POST", f"/campaigns/{draft}/cancel", {}))["status"] == "cancelled"
    scheduled = await _campaign(api, template)
    await api.ok("POST", f"/campaigns/{scheduled}/start", {"scheduled_at": "2099-01-01T09:00:00"})
    await api.ok("POST", f"/campaigns/{scheduled}/cancel", {})

    started = await _campaign(api, template)
    assert (await api.ok("POST", f"/campaigns/{started}/start", {}))["status"] == "running"
    one_more = await api.call("POST", f"/campaigns/{await _campaign(api, template)}/start", {})
    assert one_more.status_code == 403 and one_more.json()["error"]["field"] == "monthly_campaign_limit"


async def test_a_refused_transition_says_what_was_asked(api, servers):
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    cid = await _campaign(api, template)
    resume = await api.call("POST", f"/campaigns/{cid}/resume", {})
    assert resume.status_code == 409
    assert resume.json()["error"]["message"] == "a draft campaign cannot be resumed (allowed from: paused)"


async def test_a_recipients_csv_writing_one_number_several_ways_reaches_one_contact(api, servers):
    """"+55 11 90000-0006" is the 5511900000006 Meta's webhooks know: one contact, the CSV's second
    spelling a duplicate row, and a customer who opted out stays out however the CSV writes them."""
    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    async with servers.db.transaction() as s:  # said PARAR: the contact its messages arrived for
        await s.execute(text("INSERT INTO contacts (organization_id, whatsapp_id, opt_in) "
                             "VALUES (:o, '5511988887777', false)"), {"o": org})
    cid = await _campaign(api, template, target_type="custom", target_filters={})
    csv = ("whatsapp_id,name\n5511900000005,Ana\n+5511900000005,Ana de novo\n+55 11 90000-0006,Bia\n"
           "55 (11) 90000.0007,Caio\n+55 11 98888-7777,Dora\n")
    response = await servers.client.post(servers.pytake_url + f"/campaigns/{cid}/recipients/import",
                                         content=csv.encode(), headers={**api.headers, "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["added"], report["rejected"]) == (4, 1), report
    assert report["errors"] == [{"row": 3, "field": "whatsapp_id", "message": "duplicate of row 2"}]

    assert (await api.ok("POST", f"/campaigns/{cid}/start", {}))["total_recipients"] == 3
    page = await api.ok("GET", f"/campaigns/{cid}/recipients")
    assert sorted(r["phone"] for r in page["items"]) == ["5511900000005", "5511900000006", "5511900000007"]
    async with servers.db.session() as s:
        written = (await s.execute(text("SELECT whatsapp_id FROM contacts WHERE organization_id = :o "
                                        "AND whatsapp_id LIKE '+%'"), {"o": org})).scalars().all()
    assert written == []


async def test_a_recipients_csv_does_not_opt_a_customer_back_in(api, servers):
    """A CRM export saying opt_in "yes" for everyone: the customer who said PARAR is not sent the
    campaign, and the report says why; opt_in "no" still opts a contact out."""
    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    async with servers.db.transaction() as s:
        await s.execute(text("INSERT INTO contacts (organization_id, whatsapp_id, opt_in, opt_out_date) "
                             "VALUES (:o, '5511977776666', false, now())"), {"o": org})
    cid = await _campaign(api, template, target_type="custom", target_filters={})
    csv = "whatsapp_id,opt_in\n5511977776666,sim\n5511977775555,sim\n5511977774444,não\n"
    response = await servers.client.post(servers.pytake_url + f"/campaigns/{cid}/recipients/import",
                                         content=csv.encode(), headers={**api.headers, "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["added"], report["rejected"]) == (2, 1), report
    assert report["errors"][0]["row"] == 2 and report["errors"][0]["field"] == "opt_in"

    assert (await api.ok("POST", f"/campaigns/{cid}/start", {}))["total_recipients"] == 1
    async with servers.db.session() as s:
        opted = dict((await s.execute(text("SELECT whatsapp_id, opt_in FROM contacts WHERE organization_id = :o "
                                           "AND whatsapp_id LIKE '551197777%'"), {"o": org})).all())
    assert opted == {"5511977776666": False, "5511977775555": True, "5511977774444": False}


@pytest.mark.parametrize("local, utc", [
    ("2027-03-14T02:30:00", "2027-03-14T07:30:00+00:00"),  # skipped by the DST change: read as 03:30 EDT
    ("2027-11-07T01:30:00", "2027-11-07T05:30:00+00:00"),  # repeated: its first occurrence (EDT)
    ("2027-07-01T09:00:00", "2027-07-01T13:00:00+00:00"),
])
def test_a_local_scheduled_at_across_a_dst_change_is_the_documented_instant(local: str, utc: str):
    from datetime import datetime, timezone

    from api.campaigns import local_time
    from api.db.models import Organization

    org = Organization(settings={"timezone": "America/New_York"})
    assert local_time(datetime.fromisoformat(local), org).astimezone(timezone.utc).isoformat() == utc


async def test_a_campaign_paused_when_due_sends_to_its_audience_when_resumed(api, servers):
    """Due while over the month's messages, it is paused before its audience was built; resumed
    once the plan allows it, it is sent to that audience (it completed at once, sending nothing)."""
    from datetime import datetime, timedelta, timezone

    from api.campaigns.schedule import start_due
    from api.workers.tasks import context

    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 3, prefix="55779", tags=["vip"])
    cid = await _campaign(api, template)
    await api.ok("POST", f"/campaigns/{cid}/start", {"scheduled_at": "2099-01-01T09:00:00"})
    async with servers.db.transaction() as s:  # the month's messages run out, and its time comes
        await s.execute(text("UPDATE organizations SET monthly_message_limit = 1 WHERE id = :o"), {"o": org})
        await s.execute(text("UPDATE campaigns SET scheduled_at = :t WHERE id = :c"),
                        {"t": datetime.now(timezone.utc) - timedelta(minutes=1), "c": cid})
    assert await start_due(context().runtime) == []
    paused = await api.ok("GET", f"/campaigns/{cid}")
    assert paused["status"] == "paused" and paused["pause_reason"].startswith("monthly_message_limit"), paused
    assert (await _events(servers, cid))[-1]["reason"] == paused["pause_reason"]

    async with servers.db.transaction() as s:  # the plan is upgraded
        await s.execute(text("UPDATE organizations SET monthly_message_limit = 1000 WHERE id = :o"), {"o": org})
    resumed = await api.ok("POST", f"/campaigns/{cid}/resume", {})
    assert (resumed["status"], resumed["total_recipients"], resumed["pause_reason"]) == ("running", 3, None)

    async def all_sent() -> bool:
        row = await counts(servers.db, cid)
        return row["status"] == "completed" and row["sent"] == 3
    await servers.wait_for(all_sent)


async def test_a_campaign_scheduled_for_a_later_month_counts_in_that_month_only(api, servers):
    """``monthly_campaign_limit`` 1: a campaign scheduled for a later month leaves this month's
    campaign free, and takes that month's."""
    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 2, prefix="55779", tags=["vip"])
    async with servers.db.transaction() as s:
        await s.execute(text("UPDATE organizations SET monthly_campaign_limit = 1 WHERE id = :o"), {"o": org})
    later = await _campaign(api, template)
    await api.ok("POST", f"/campaigns/{later}/start", {"scheduled_at": "2099-01-10T09:00:00"})

    now = await _campaign(api, template)
    assert (await api.ok("POST", f"/campaigns/{now}/start", {}))["status"] == "running"
    same_month = await api.call("POST", f"/campaigns/{await _campaign(api, template)}/start",
                                {"scheduled_at": "2099-01-20T09:00:00"})
    assert same_month.status_code == 403 and same_month.json()["error"]["field"] == "monthly_campaign_limit"
    next_month = await _campaign(api, template)
    assert (await api.ok("POST", f"/campaigns/{next_month}/start",
                         {"scheduled_at": "2099-02-01T09:00:00"}))["status"] == "scheduled"


async def test_meta_refusing_the_template_on_a_send_pauses_the_campaign_at_once(api, servers):
    """Meta answers 132015 (paused) before its status webhook for the template arrives: the
    runner pauses the campaign at the first refusal instead of failing every recipient it
    claims until the chore looks; the others stay pending. The template shows PAUSED, so a
    resume is refused until Meta approves it again (each resume failed another round); then a
    resume sends them."""
    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await prepare_number(servers.db, servers.seeded.number_id, org, rate=10)  # one send a round
    await add_contacts(servers.db, org, 6, prefix="55789", tags=["vip"])
    fault = await servers.client.post(servers.sandbox_url + "/_sandbox/faults", json={"code": 132015, "count": 1000})
    assert fault.status_code == 200, fault.text
    cid = await _campaign(api, template)
    assert (await api.ok("POST", f"/campaigns/{cid}/start", {}))["status"] == "running"

    async def paused() -> bool:
        return (await counts(servers.db, cid))["status"] == "paused"
    await servers.wait_for(paused)
    row = await counts(servers.db, cid)
    assert row["sent"] == 0 and 1 <= row["failed"] <= 2 and row["pending"] >= 4, row
    event = (await _events(servers, cid))[-1]
    assert event["type"] == "campaign.paused", event
    assert event["reason"] == "template_id: Meta refused the template: Template is paused due to low quality (error 132015)"
    shown = (await api.ok("GET", f"/campaigns/{cid}"))["pause_reason"]
    assert shown == event["reason"] and shown.startswith("template_id: Meta refused the template"), shown

    shown = await api.ok("GET", f"/templates/{template}")
    assert (shown["meta_status"], shown["rejection_reason"]) == (
        "PAUSED", "Template is paused due to low quality (error 132015, on a send)"), shown
    early = await api.call("POST", f"/campaigns/{cid}/resume", {})
    assert early.status_code == 422 and early.json()["error"]["field"] == "template_id", early.text
    assert (await counts(servers.db, cid))["failed"] == row["failed"]

    servers.sandbox.faults.clear()  # Meta takes the template again, and says so
    meta_id = shown["meta_template_id"]
    approved = await servers.client.post(servers.sandbox_url + "/_sandbox/templates/event",
                                         json={"id": meta_id, "event": "APPROVED"})
    assert approved.status_code == 200, approved.text

    async def approved_again() -> bool:
        return (await api.ok("GET", f"/templates/{template}"))["meta_status"] == "APPROVED"
    await servers.wait_for(approved_again)
    resumed = await api.ok("POST", f"/campaigns/{cid}/resume", {})
    assert (resumed["status"], resumed["pause_reason"]) == ("running", None)

    async def rest_sent() -> bool:
        return (await counts(servers.db, cid))["sent"] == 6 - row["failed"]
    await servers.wait_for(rest_sent)


async def test_a_due_campaign_whose_template_meta_paused_meanwhile_is_paused_not_started(api, servers):
    """Scheduled, then Meta pauses its template: when due it is paused with the reason; it never
    starts (no campaign.started, no audience, not one of the month's campaigns)."""
    from datetime import datetime, timedelta, timezone

    from api.campaigns.schedule import start_due
    from api.workers.tasks import context

    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 2, prefix="55799", tags=["vip"])
    cid = await _campaign(api, template)
    await api.ok("POST", f"/campaigns/{cid}/start", {"scheduled_at": "2099-01-01T09:00:00"})
    meta_id = (await api.ok("GET", f"/templates/{template}"))["meta_template_id"]
    response = await servers.client.post(servers.sandbox_url + "/_sandbox/templates/event",
                                         json={"id": meta_id, "event": "PAUSED", "reason": "LOW_QUALITY"})
    assert response.status_code == 200, response.text

    async def paused_at_meta() -> bool:
        return (await api.ok("GET", f"/templates/{template}"))["meta_status"] == "PAUSED"
    await servers.wait_for(paused_at_meta)
    async with servers.db.transaction() as s:  # time passes
        await s.execute(text("UPDATE campaigns SET scheduled_at = :t WHERE id = :c"),
                        {"t": datetime.now(timezone.utc) - timedelta(minutes=1), "c": cid})
    assert await start_due(context().runtime) == []

    row = await counts(servers.db, cid)
    assert (row["status"], row["recipients"]) == ("paused", 0), row
    shown = await api.ok("GET", f"/campaigns/{cid}")
    assert shown["started_at"] is None and shown["pause_reason"].startswith("template_id: "), shown
    assert "campaign.started" not in [e["type"] for e in await _events(servers, cid)]


async def test_all_contacts_with_imported_recipients_is_still_every_contact(api, servers):
    """docs/campaigns.md: the criteria are ANDed, then ``contact_ids`` are added; "all" with no
    criterion is every contact. A recipients import (for its per-recipient variables) narrowed
    such a campaign to the file's contacts."""
    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 3, prefix="55809", tags=[])
    cid = await _campaign(api, template, target_type="all", target_filters={})
    csv = "whatsapp_id,name\n5580900000001,Ana\n"
    response = await servers.client.post(servers.pytake_url + f"/campaigns/{cid}/recipients/import",
                                         content=csv.encode(), headers={**api.headers, "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    async with servers.db.session() as s:
        everyone = (await s.execute(text(
            "SELECT count(*) FROM contacts WHERE organization_id = :o AND deleted_at IS NULL "
            "AND opt_in IS NOT FALSE AND is_blocked IS NOT TRUE"), {"o": org})).scalar_one()
    assert everyone >= 4
    started = await api.ok("POST", f"/campaigns/{cid}/start", {})
    assert started["total_recipients"] == everyone, started


async def _messages_used(servers) -> int:
    from api.services.plan_limits import USAGE

    async with servers.db.session() as s:
        return (await s.execute(USAGE["monthly_message_limit"](servers.seeded.organization_id))).scalar_one()


async def test_two_campaigns_together_fit_the_months_messages(api, servers):
    """``monthly_message_limit``: a campaign's unsent recipients are the month's messages already
    promised; a second campaign that fits only beside the first's sent messages is refused (two of
    8 each started under a limit of 10, and 16 were sent), and fits once the first is cancelled."""
    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 8, prefix="55789", tags=["first"])
    await add_contacts(servers.db, org, 8, prefix="55799", tags=["second"])
    first = await _campaign(api, template, target_filters={"tags": ["first"]})
    second = await _campaign(api, template, target_filters={"tags": ["second"]})
    async with servers.db.transaction() as s:
        await s.execute(text("UPDATE organizations SET monthly_message_limit = :n WHERE id = :o"),
                        {"o": org, "n": await _messages_used(servers) + 10})
        from api.campaigns import pause, start
        await start(s, first, org)  # running, then paused: its 8 are still to be sent
        await pause(s, first, org)

    status, field, _ = await _refused(api, servers, second)
    assert (status, field) == (403, "monthly_message_limit")
    await api.ok("POST", f"/campaigns/{first}/cancel", {})
    assert (await api.ok("POST", f"/campaigns/{second}/start", {}))["total_recipients"] == 8


def _later_this_month() -> str:
    """The last second of this (UTC) month: later than now, in the month now counts in."""
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    next_month = (now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=32)).replace(day=1)
    return (next_month - timedelta(seconds=1)).isoformat()


async def test_a_scheduled_campaign_started_early_is_counted_once(api, servers):
    """``monthly_campaign_limit`` 1 and one campaign scheduled for later this month: starting it
    now is still the month's one campaign (it counted itself, and was refused)."""
    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 2, prefix="55809", tags=["vip"])
    async with servers.db.transaction() as s:
        await s.execute(text("UPDATE organizations SET monthly_campaign_limit = 1 WHERE id = :o"), {"o": org})
    cid = await _campaign(api, template)
    assert (await api.ok("POST", f"/campaigns/{cid}/start", {"scheduled_at": _later_this_month()}))[
        "status"] == "scheduled"
    assert (await api.ok("POST", f"/campaigns/{cid}/start", {}))["status"] == "running"
    another = await api.call("POST", f"/campaigns/{await _campaign(api, template)}/start", {})
    assert another.status_code == 403 and another.json()["error"]["field"] == "monthly_campaign_limit"


async def test_a_campaign_first_run_in_a_later_month_is_one_of_that_months(api, servers):
    """``monthly_campaign_limit`` 1: a campaign counted in the month it was due in, paused then and
    resumed (or started late by the chore) in another month, whose one campaign is already used,
    is refused by that month's limit (resumed: 403; due: paused with the reason)."""
    from datetime import datetime, timezone

    from api.campaigns.schedule import start_due
    from api.workers.tasks import context

    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 2, prefix="55819", tags=["vip"])
    async with servers.db.transaction() as s:
        await s.execute(text("UPDATE organizations SET monthly_campaign_limit = 1 WHERE id = :o"), {"o": org})
    paused, due = await _campaign(api, template), await _campaign(api, template)
    for cid, month in ((paused, "01"), (due, "02")):  # counted in January and February 2099
        await api.ok("POST", f"/campaigns/{cid}/start", {"scheduled_at": f"2099-{month}-10T09:00:00"})
    assert (await api.ok("POST", f"/campaigns/{await _campaign(api, template)}/start", {}))["status"] == "running"
    async with servers.db.transaction() as s:  # PyTake paused one when due, before it ran; the other is due now
        await s.execute(text("UPDATE campaigns SET status = 'paused', pause_reason = 'plan' WHERE id = :c"),
                        {"c": paused})
        await s.execute(text("UPDATE campaigns SET scheduled_at = :t WHERE id = :c"),
                        {"c": due, "t": datetime.now(timezone.utc)})

    resumed = await api.call("POST", f"/campaigns/{paused}/resume", {})
    assert resumed.status_code == 403 and resumed.json()["error"]["field"] == "monthly_campaign_limit"
    assert (await api.ok("GET", f"/campaigns/{paused}"))["status"] == "paused"
    assert (await counts(servers.db, paused))["recipients"] == 0

    assert str(due) not in await start_due(context().runtime)
    row = await api.ok("GET", f"/campaigns/{due}")
    assert row["status"] == "paused" and row["pause_reason"].startswith("monthly_campaign_limit"), row


async def test_a_customers_opt_out_during_a_cancel_is_kept(api, servers):
    """The customer says PARAR while a cancel holds the campaign and skips its unsent recipients:
    the opt-out waits for the cancel and is applied after it. Before, the opt-out locked its
    recipient first, then waited for the campaign's counters while the cancel waited for that
    recipient: PostgreSQL broke the deadlock by failing the opt-out, and the customer stayed in."""
    import asyncio

    from api.campaigns import replies, start
    from api.campaigns.control import _drop_unsent, _transition
    from api.workers.tasks import context

    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 3, prefix="55829", tags=["vip"])
    cid = await _campaign(api, template)
    async with servers.db.transaction() as s:  # running, no runner woken: every recipient unsent
        await start(s, cid, org)
        contact = (await s.execute(text("SELECT id FROM contacts WHERE organization_id = :o "
                                        "AND whatsapp_id = '55829000001'"), {"o": org})).scalar_one()

    async def waiting_for_a_lock() -> bool:
        async with servers.db.session() as s:
            return bool((await s.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"))).scalar())

    async with servers.db.transaction() as s:  # the cancel, held between its two statements
        campaign = await _transition(s, cid, org, "cancel", {})
        opting_out = asyncio.create_task(replies.opt_out(context().runtime, org, contact))
        await servers.wait_for(lambda: opting_out.done() or waiting_for_a_lock())
        assert not opting_out.done()
        await _drop_unsent(s, campaign)
    assert await opting_out == 0  # its recipient was already skipped by the cancel

    async with servers.db.session() as s:
        opted_in = (await s.execute(text("SELECT opt_in FROM contacts WHERE id = :c"), {"c": contact})).scalar()
    assert opted_in is False
    row = await counts(servers.db, cid)
    assert not mismatches(row) and row["skipped"] == 3, row


async def test_an_opt_out_before_a_paused_campaign_first_runs_leaves_its_counters_true(api, servers):
    """A scheduled campaign with imported recipients, paused when due before it ran; one of them
    says PARAR, then the campaign is resumed: that contact is dropped with the audience built at
    the resume, and no counter keeps a recipient that is gone (the opt-out counted it skipped, the
    resume deleted the row, and skipped_count stayed 1 with no skipped recipient)."""
    from datetime import datetime, timedelta, timezone

    from api.campaigns import replies
    from api.campaigns.schedule import start_due
    from api.workers.tasks import context

    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    cid = await _campaign(api, template, target_type="custom", target_filters={})
    csv = "whatsapp_id,name,coupon\n5511983330001,Ana,A1\n5511983330002,Bia,B2\n"  # staged with their coupon
    response = await servers.client.post(servers.pytake_url + f"/campaigns/{cid}/recipients/import",
                                         content=csv.encode(), headers={**api.headers, "Content-Type": "text/csv"})
    assert response.status_code == 200 and response.json()["added"] == 2, response.text
    await api.ok("POST", f"/campaigns/{cid}/start", {"scheduled_at": "2099-01-01T09:00:00"})
    async with servers.db.transaction() as s:  # over the month's messages when its time comes
        await s.execute(text("UPDATE organizations SET monthly_message_limit = 1 WHERE id = :o"), {"o": org})
        await s.execute(text("UPDATE campaigns SET scheduled_at = :t WHERE id = :c"),
                        {"t": datetime.now(timezone.utc) - timedelta(minutes=1), "c": cid})
    assert await start_due(context().runtime) == []
    assert (await api.ok("GET", f"/campaigns/{cid}"))["status"] == "paused"

    async with servers.db.session() as s:
        ana = (await s.execute(text("SELECT id FROM contacts WHERE organization_id = :o "
                                    "AND whatsapp_id = '5511983330001'"), {"o": org})).scalar_one()
    await replies.opt_out(context().runtime, org, ana)
    async with servers.db.transaction() as s:
        await s.execute(text("UPDATE organizations SET monthly_message_limit = 1000 WHERE id = :o"), {"o": org})
    resumed = await api.ok("POST", f"/campaigns/{cid}/resume", {})
    assert (resumed["total_recipients"], resumed["skipped_count"]) == (1, 0), resumed
    row = await counts(servers.db, cid)
    assert not mismatches(row), row


async def test_a_template_deleted_at_meta_is_gone_here_after_its_first_refused_send(api, servers):
    """Someone deleted the template in Meta's Business Manager: the first send gets 132001, the
    campaign is paused, and the number's templates are synced, so the template is gone here too
    and a resume says the campaign needs a template instead of failing another round."""
    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await prepare_number(servers.db, servers.seeded.number_id, org, rate=10)  # one send a round
    await add_contacts(servers.db, org, 4, prefix="55839", tags=["vip"])
    cid = await _campaign(api, template)
    for templates in servers.sandbox.templates.values():  # gone at Meta
        templates[:] = [t for t in templates if t["name"] != "promo_week"]
    fault = await servers.client.post(servers.sandbox_url + "/_sandbox/faults", json={"code": 132001, "count": 1000})
    assert fault.status_code == 200, fault.text
    assert (await api.ok("POST", f"/campaigns/{cid}/start", {}))["status"] == "running"

    async def gone() -> bool:
        return (await api.call("GET", f"/templates/{template}")).status_code == 404
    await servers.wait_for(gone)
    await servers.wait_for(lambda: _status(servers, cid, "paused"))
    resumed = await api.call("POST", f"/campaigns/{cid}/resume", {})
    assert resumed.status_code == 422 and resumed.json()["error"]["field"] == "template_id", resumed.text
    assert (await counts(servers.db, cid))["failed"] <= 2


async def _status(servers, cid: str, status: str) -> bool:
    return (await counts(servers.db, cid))["status"] == status


async def test_a_recipient_whose_conversation_is_deleted_mid_send_is_not_sent_twice(api, servers):
    """Claimed (its message written, its send on its way), then its conversation is deleted before
    the send is recorded: the recipient is failed as delivery unknown, not claimed and sent again."""
    from api.campaigns import start

    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 2, prefix="55849", tags=["vip"])
    cid = await _campaign(api, template)
    async with servers.db.transaction() as s:  # running, no runner woken yet
        await start(s, cid, org)
        # what the claim writes for one recipient: its conversation and message, linked
        rid, contact = (await s.execute(text(
            "SELECT id, contact_id FROM campaign_recipients WHERE campaign_id = :c ORDER BY id LIMIT 1"),
            {"c": cid})).one()
        conversation = (await s.execute(text(
            "INSERT INTO conversations (organization_id, contact_id, whatsapp_number_id) VALUES (:o, :ct, :n) "
            "RETURNING id"), {"o": org, "ct": contact, "n": servers.seeded.number_id})).scalar()
        mid, at = (await s.execute(text(
            "INSERT INTO messages (conversation_id, direction, sender_type, type, content, status) "
            "VALUES (:c, 'outbound', 'bot', 'template', '{}', 'pending') RETURNING id, created_at"),
            {"c": conversation})).one()
        await s.execute(text("UPDATE campaign_recipients SET message_id = :m, message_created_at = :at WHERE id = :r"),
                        {"m": mid, "at": at, "r": rid})

    assert (await api.call("DELETE", f"/conversations/{conversation}")).status_code == 204

    async with servers.db.session() as s:
        row = (await s.execute(text("SELECT status, message_id, error_message FROM campaign_recipients WHERE id = :r"),
                               {"r": rid})).one()
    assert row.status == "failed" and row.message_id is None, row
    assert row.error_message.startswith("delivery unknown: its message was deleted")
    after = await counts(servers.db, cid)
    assert not mismatches(after) and (after["failed"], after["pending"]) == (1, 1), after


async def test_a_time_past_the_year_9999_and_variables_in_the_place_are_named_refusals(api, servers):
    """A local time whose instant is past the year 9999 was a 422 naming no field ("a value is out
    of range"); a {{...}} in a LOCATION header's name or address was taken and then sent to every
    customer as written. Both are now refused on their field."""
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, servers.seeded.organization_id, 2, prefix="55739", tags=["vip"])
    cid = await _campaign(api, template, name="Futuro")
    status, field, message = await _refused(api, servers, cid, {"scheduled_at": "9999-12-31T23:59:59-05:00"})
    assert (status, field) == (422, "scheduled_at") and "9999" in message
    for part in ("name", "address"):
        place = {"latitude": -8.06, "longitude": -34.87, part: "Loja de {{contact.name}}"}
        refused = await api.call("POST", "/campaigns", {
            "name": "Lugar", "template_id": template, "target_filters": {"tags": ["vip"]},
            "message_content": {"body": ["10%"], "header_location": place}})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == f"message_content.header_location.{part}"
    assert [c["name"] for c in (await api.ok("GET", "/campaigns"))["items"]] == ["Futuro"]
