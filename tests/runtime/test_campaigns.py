"""Campaigns end to end through the sandbox: an approved template, an audience materialised
into recipients, sent by the worker through the outbox, statuses back, counters equal to
the recipients at every look; pause/resume/cancel mid-send; opt-out; plan limits."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import text

from tests.runtime.campaign_helpers import (
    Api, add_contacts, approved_template, counts, mismatches, prepare_number, user_headers)


@pytest.fixture
async def api(servers) -> Api:
    await prepare_number(servers.db, servers.seeded.number_id, servers.seeded.organization_id)
    return Api(servers.client, servers.pytake_url,
               await user_headers(servers.db, servers.seeded.organization_id))


def _templates_to(servers, prefix: str) -> Counter:
    """Template messages the sandbox accepted, per recipient starting with ``prefix``."""
    return Counter(wa_id for wa_id, inbox in list(servers.sandbox.inboxes.items()) if wa_id.startswith(prefix)
                   for m in inbox if m["type"] == "template")


async def _campaign(api: Api, template_id: str, **extra: Any) -> dict[str, Any]:
    return await api.ok("POST", "/campaigns", {"name": "Semana", "template_id": template_id,
                                               "message_content": {"body": ["10%"]}, **extra}, status=201)


# Three of the runner's rounds at this tier (a tenth of its 1,000/s, at most MAX_BATCH = 100 per
# round: api/campaigns/runner.py), so the counters are compared with the recipients between rounds
# as well as at the end. It was 1,000: ten such rounds, the same checks at three times the cost (and
# this test runs twice: tests/runtime/test_pgbouncer.py). Scale is bench/campaign.py's.
AUDIENCE = 300


async def test_a_campaign_reaches_its_audience_once_and_its_counters_match_the_recipients(api, servers):
    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, AUDIENCE, prefix="55119", tags=["vip"])
    await add_contacts(servers.db, org, 30, prefix="55118", tags=["vip"], opt_in=False)  # opted out
    await add_contacts(servers.db, org, 30, prefix="55117", tags=["other"])
    async with servers.db.transaction() as s:  # Meta refuses these five: "Message undeliverable"
        await s.execute(text("INSERT INTO contacts (organization_id, whatsapp_id, tags) "
                             "SELECT :org, '5511' || g || '131026', ARRAY['vip'] FROM generate_series(1, 5) g"),
                        {"org": org})
    campaign = await _campaign(api, template, target_filters={"tags": ["vip"]})
    assert campaign["status"] == "draft"

    started = await api.ok("POST", f"/campaigns/{campaign['id']}/start", {})
    assert started["status"] == "running" and started["total_recipients"] == AUDIENCE + 5

    looks = []

    async def finished() -> bool:
        row = await counts(servers.db, campaign["id"])
        looks.append(row)
        assert not mismatches(row), mismatches(row)  # consistent at every look, mid-send included
        return row["status"] == "completed" and row["read_count"] == AUDIENCE and row["failed_count"] == 5
    await servers.wait_for(finished, timeout=600)

    final = await counts(servers.db, campaign["id"])
    assert (final["recipients"], final["sent"], final["delivered"], final["read"], final["failed"]) == \
        (AUDIENCE + 5, AUDIENCE, AUDIENCE, AUDIENCE, 5)
    assert final["pending"] == 0
    received = _templates_to(servers, "55119")
    assert len(received) == AUDIENCE and set(received.values()) == {1}  # each one, exactly once
    assert not _templates_to(servers, "55118") and not _templates_to(servers, "55117")
    message = next(m for m in servers.inbox("55119000001") if m["type"] == "template")
    assert message["payload"]["template"]["name"] == "promo_week"
    assert message["payload"]["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "10%"}]}]
    async with servers.db.session() as s:
        errors = (await s.execute(text(
            "SELECT DISTINCT error_message FROM campaign_recipients WHERE campaign_id = :c AND status = 'failed'"),
            {"c": campaign["id"]})).scalars().all()
    assert len(errors) == 1 and "131026" in errors[0]

    # a redelivered status changes nothing
    async with servers.db.session() as s:
        wamid = (await s.execute(text("SELECT whatsapp_message_id FROM campaign_recipients WHERE campaign_id = :c "
                                      "AND status = 'read' LIMIT 1"), {"c": campaign["id"]})).scalar()
    from api.sandbox import webhooks
    from tests.runtime.conftest import PNID
    response = await servers.post(webhooks.status_update(PNID, wamid, "delivered", "55119000001"))
    assert response.status_code == 200
    assert await counts(servers.db, campaign["id"]) == final

    again = await api.call("POST", f"/campaigns/{campaign['id']}/start", {})
    assert again.status_code == 409 and again.json()["error"]["field"] == "status"


async def test_pause_resume_and_cancel_mid_send(api, servers):
    org = servers.seeded.organization_id
    await prepare_number(servers.db, servers.seeded.number_id, org, rate=25)
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 400, prefix="55219", tags=["vip"])
    campaign = await _campaign(api, template, target_filters={"tags": ["vip"]})
    cid = campaign["id"]
    await api.ok("POST", f"/campaigns/{cid}/start", {})
    await servers.wait_for(lambda: _sent_at_least(servers, cid, 20))

    paused = await api.ok("POST", f"/campaigns/{cid}/pause", {})
    assert paused["status"] == "paused"
    await servers.wait_for(lambda: _runner_gone(servers, cid))
    at_pause = await _handed_to_outbox(servers, cid)
    assert 20 <= at_pause < 400
    await servers.wait_for(lambda: sum(_templates_to(servers, "55219").values()) == at_pause)
    assert (await _handed_to_outbox(servers, cid)) == at_pause  # nothing claimed while paused
    assert (await api.call("POST", f"/campaigns/{cid}/pause", {})).status_code == 409
    assert (await api.call("DELETE", f"/campaigns/{cid}")).status_code == 409  # cancel it first

    await api.ok("POST", f"/campaigns/{cid}/resume", {})
    await servers.wait_for(lambda: _sent_at_least(servers, cid, at_pause + 20))
    cancelled = await api.ok("POST", f"/campaigns/{cid}/cancel", {})
    assert cancelled["status"] == "cancelled"
    await servers.wait_for(lambda: _runner_gone(servers, cid))
    handed = await _handed_to_outbox(servers, cid)
    assert at_pause + 20 <= handed < 400
    await servers.wait_for(lambda: sum(_templates_to(servers, "55219").values()) == handed)
    received = _templates_to(servers, "55219")
    assert set(received.values()) == {1}  # resume continued where it stopped: nobody twice

    async def settled() -> bool:
        row = await counts(servers.db, cid)
        assert not mismatches(row), mismatches(row)
        return row["sent"] == handed
    await servers.wait_for(settled)
    row = await counts(servers.db, cid)
    assert row["skipped"] == 400 - handed and row["pending"] == 0
    async with servers.db.session() as s:
        reasons = (await s.execute(text("SELECT DISTINCT skip_reason FROM campaign_recipients "
                                        "WHERE campaign_id = :c AND status = 'skipped'"), {"c": cid})).scalars().all()
    assert reasons == ["campaign cancelled"]
    assert (await api.call("POST", f"/campaigns/{cid}/resume", {})).status_code == 409


async def _sent_at_least(servers, campaign_id: str, n: int) -> bool:
    return (await counts(servers.db, campaign_id))["sent_count"] >= n


async def _handed_to_outbox(servers, campaign_id: str) -> int:
    async with servers.db.session() as s:
        return (await s.execute(text("SELECT count(*) FROM campaign_recipients WHERE campaign_id = :c "
                                     "AND message_id IS NOT NULL"), {"c": campaign_id})).scalar()


async def _runner_gone(servers, campaign_id: str) -> bool:
    from api.workers.tasks import context

    return not await context().runtime.redis.exists(f"campaign:runner:{{{campaign_id}}}")


async def test_a_live_reply_goes_before_campaign_traffic_on_its_number(api, servers):
    """Forced order: the campaign's runner looks while a conversation row waits (nothing is
    taken), the conversation is served, then the campaign sends."""
    from api.campaigns import load_run, start
    from api.outbox import Sender, insert_outbound, outbound_rows
    from api.workers.tasks import context

    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 5, prefix="55319", tags=["vip"])
    campaign = await _campaign(api, template, target_filters={"tags": ["vip"]})
    async with servers.db.transaction() as s:  # started without waking a runner: this test drives it
        await start(s, campaign["id"], org)
    await servers.customer_says("5531800000001", "oi")

    async def conversation() -> Any:
        async with servers.db.session() as s:
            return (await s.execute(text("SELECT c.id FROM conversations c JOIN contacts k ON k.id = c.contact_id "
                                         "WHERE k.whatsapp_id = '5531800000001'"))).scalar()
    conversation_id = await servers.wait_for(conversation)
    await servers.wait_for(lambda: servers.inbox("5531800000001"))  # the bot's own answer, out of the way
    async with servers.db.transaction() as s:  # an agent's reply, waiting in the outbox (no sender woken)
        rows = outbound_rows(conversation_id, [{"type": "text", "content": {"text": "Já te respondo!"}}],
                             sender_type="agent")
        await insert_outbound(s, rows)

    rt = context().runtime
    run = await load_run(rt, campaign["id"])
    assert run is not None
    assert await run.round(wait=False) == "deferred"
    assert not _templates_to(servers, "55319")
    # the conversation served: its reply sent (a worker may hold the conversation a moment, and
    # deliver then leaves it for that worker), and no live row left waiting on the number
    async def served() -> bool:
        await Sender(rt).deliver_conversation(conversation_id)
        return any(m["type"] == "text" and m["payload"]["text"]["body"] == "Já te respondo!"
                   for m in servers.inbox("5531800000001"))
    await servers.wait_for(served)

    async def nothing_live_waiting() -> bool:
        async with servers.db.session() as s:
            return not (await s.execute(text("SELECT outbox_live_waiting(:n)"),
                                        {"n": servers.seeded.number_id})).scalar()
    await servers.wait_for(nothing_live_waiting)
    assert await run.round() == "sent"
    # the campaign takes the number's bucket as bulk (never ahead of the clock), so one
    # round may send only part of the five: rounds until all five are out
    for _ in range(50):
        if sum(_templates_to(servers, "55319").values()) == 5:
            break
        assert await run.round() in ("sent", "done", "deferred")
    order = [m["to"] for m in list(servers.sandbox.accepted)
             if m["to"] == "5531800000001" and m.get("type") == "text" or m["to"].startswith("55319")]
    assert order[-6] == "5531800000001" and all(to.startswith("55319") for to in order[-5:]), order


async def test_an_opt_out_keyword_stops_the_contacts_campaign_traffic(api, servers):
    from api.campaigns import start

    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 2, prefix="55419", tags=["vip"])
    first = await _campaign(api, template, target_filters={"tags": ["vip"]})
    second = await _campaign(api, template, target_filters={"tags": ["vip"]})
    async with servers.db.transaction() as s:  # running, not sent yet (no runner woken)
        await start(s, second["id"], org)
    await api.ok("POST", f"/campaigns/{first['id']}/start", {})
    await servers.wait_for(lambda: len(_templates_to(servers, "55419")) == 2)

    await servers.customer_says("55419000001", "parar")  # the keyword, any case

    async def opted_out() -> bool:
        async with servers.db.session() as s:
            return (await s.execute(text("SELECT opt_in = false AND opt_out_date IS NOT NULL FROM contacts "
                                         "WHERE whatsapp_id = '55419000001'"))).scalar()
    await servers.wait_for(opted_out)
    confirmed = await servers.wait_for(lambda: [m["payload"]["text"]["body"] for m in servers.inbox("55419000001")
                                                if m["type"] == "text"])
    assert confirmed == ["Pronto! Você não receberá mais nossas mensagens. Para voltar a recebê-las, responda VOLTAR."]
    async with servers.db.session() as s:
        rows = (await s.execute(text(
            "SELECT k.whatsapp_id, r.status, r.skip_reason FROM campaign_recipients r "
            "JOIN contacts k ON k.id = r.contact_id WHERE r.campaign_id = :c ORDER BY 1"),
            {"c": second["id"]})).all()
    assert [tuple(r) for r in rows] == [("55419000001", "skipped", "opted out"), ("55419000002", "pending", None)]
    row = await counts(servers.db, first["id"])
    assert row["replied_count"] == 1 and not mismatches(row)
    third = await _campaign(api, template, target_filters={"tags": ["vip"]})
    assert (await api.ok("POST", f"/campaigns/{third['id']}/start", {}))["total_recipients"] == 1


async def test_an_opted_out_customer_saying_an_opt_in_word_is_back_in_for_new_campaigns(api, servers):
    """docs/campaigns.md, "Replies and opt-out": the default word, any case and punctuation, opts
    the customer back in with the default reply; a campaign it was skipped from keeps it skipped."""
    from api.campaigns import start

    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 2, prefix="55619", tags=["vip"])
    earlier = await _campaign(api, template, target_filters={"tags": ["vip"]})
    async with servers.db.transaction() as s:  # running, not sent yet (no runner woken)
        await start(s, earlier["id"], org)

    async def contact() -> dict[str, Any]:
        async with servers.db.session() as s:
            return dict((await s.execute(text("SELECT opt_in, opt_in_date, opt_out_date FROM contacts "
                                              "WHERE whatsapp_id = '55619000001'"))).mappings().one())

    await servers.customer_says("55619000001", "parar")
    await servers.wait_for(lambda: _opted(contact, False))
    await servers.customer_says("55619000001", " voltar! ")
    said = lambda: [m["payload"]["text"]["body"] for m in servers.inbox("55619000001") if m["type"] == "text"]  # noqa: E731
    texts = await servers.wait_for(lambda: len(said()) >= 2 and said())  # the opt-out's answer, then the opt-in's
    assert texts[-1] == "Pronto! Você voltará a receber nossas mensagens. Para deixar de recebê-las, responda PARAR."
    assert texts[:-1] == ["Pronto! Você não receberá mais nossas mensagens. Para voltar a recebê-las, responda VOLTAR."]
    back = await contact()
    assert back["opt_in"] is True and back["opt_in_date"] is not None and back["opt_in_date"] >= back["opt_out_date"]
    async with servers.db.session() as s:
        skipped = (await s.execute(text(
            "SELECT r.status, r.skip_reason FROM campaign_recipients r JOIN contacts k ON k.id = r.contact_id "
            "WHERE r.campaign_id = :c AND k.whatsapp_id = '55619000001'"), {"c": earlier["id"]})).one()
    assert tuple(skipped) == ("skipped", "opted out")

    later = await _campaign(api, template, target_filters={"tags": ["vip"]})
    assert (await api.ok("POST", f"/campaigns/{later['id']}/start", {}))["total_recipients"] == 2
    await servers.wait_for(lambda: _templates_to(servers, "55619000001"))


async def _opted(contact, value: bool) -> bool:
    return (await contact())["opt_in"] is value


async def test_plan_limits_refuse_a_start_with_a_clear_error(api, servers):
    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 20, prefix="55519", tags=["vip"])
    async with servers.db.transaction() as s:
        await s.execute(text("UPDATE organizations SET monthly_message_limit = 10, monthly_campaign_limit = 1 "
                             "WHERE id = :o"), {"o": org})
    big = await _campaign(api, template, target_filters={"tags": ["vip"]})
    refused = await api.call("POST", f"/campaigns/{big['id']}/start", {})
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "monthly_message_limit"
    assert (await api.ok("GET", f"/campaigns/{big['id']}"))["status"] == "draft"  # nothing half-written
    assert (await counts(servers.db, big["id"]))["recipients"] == 0

    small = await _campaign(api, template, target_filters={"contact_ids": []}, target_type="all")
    await api.ok("PATCH", f"/campaigns/{small['id']}", {"target_type": "tags",
                                                       "target_filters": {"tags": ["vip"], "q": "C2"}})
    started = await api.ok("POST", f"/campaigns/{small['id']}/start", {})
    assert 0 < started["total_recipients"] <= 10
    refused = await api.call("POST", f"/campaigns/{big['id']}/start", {})
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "monthly_campaign_limit"


async def test_bad_definitions_are_refused_naming_the_field(api, servers):
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    bad = await api.call("POST", "/campaigns", {"name": "x", "template_id": template, "message_content": {},
                                                "target_filters": {"colour": "red"}})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "target_filters.colour"
    missing = await _campaign(api, template, target_filters={"tags": ["vip"]})
    await api.ok("PATCH", f"/campaigns/{missing['id']}", {"message_content": {"body": []}})
    refused = await api.call("POST", f"/campaigns/{missing['id']}/start", {})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "message_content.body[0]"
    assert (await api.ok("GET", f"/campaigns/{missing['id']}"))["status"] == "draft"


async def test_a_per_campaign_send_rate_is_refused_as_not_available(api, servers):
    """Campaigns send at their number's tier (docs/campaigns.md): a ``send_rate_limit`` would be
    stored and ignored, so a customer throttling a campaign with it is told, not ignored."""
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    refused = await api.call("POST", "/campaigns", {"name": "Devagar", "template_id": template,
                                                    "message_content": {"body": ["10%"]}, "send_rate_limit": 10})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "send_rate_limit"
    assert "rate_limit_per_second" in refused.json()["error"]["message"]
    assert (await api.ok("GET", "/campaigns"))["total"] == 0
    campaign = await _campaign(api, template)
    refused = await api.call("PATCH", f"/campaigns/{campaign['id']}", {"send_rate_limit": 10})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "send_rate_limit", refused.text
    paths = (await api.ok("GET", "/openapi.json"))["paths"]
    for path, method in (("/campaigns", "post"), ("/campaigns/{item_id}", "patch")):
        body = paths[path][method]["requestBody"]["content"]["application/json"]["schema"]
        assert "send_rate_limit" not in body["properties"], (method, body)


async def test_scheduling_in_the_organizations_timezone(api, servers):
    from datetime import datetime, timedelta, timezone
    from zoneinfo import ZoneInfo

    from api.campaigns.schedule import start_due

    org = servers.seeded.organization_id
    async with servers.db.transaction() as s:
        await s.execute(text("UPDATE organizations SET settings = settings || '{\"timezone\": \"America/Recife\"}' "
                             "WHERE id = :o"), {"o": org})
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 3, prefix="55619", tags=["vip"])
    campaign = await _campaign(api, template, target_filters={"tags": ["vip"]})
    local = datetime.now(ZoneInfo("America/Recife")).replace(tzinfo=None, microsecond=0) + timedelta(hours=1)
    scheduled = await api.ok("POST", f"/campaigns/{campaign['id']}/start", {"scheduled_at": local.isoformat()})
    assert scheduled["status"] == "scheduled"
    at = datetime.fromisoformat(scheduled["scheduled_at"])
    assert at == local.replace(tzinfo=ZoneInfo("America/Recife"))  # -03:00, not UTC
    from api.workers.tasks import context
    assert await start_due(context().runtime) == []  # not due yet
    async with servers.db.transaction() as s:  # time passes
        await s.execute(text("UPDATE campaigns SET scheduled_at = :t WHERE id = :c"),
                        {"t": datetime.now(timezone.utc) - timedelta(minutes=1), "c": campaign["id"]})
    assert await start_due(context().runtime) == [campaign["id"]]
    row = await counts(servers.db, campaign["id"])
    assert row["status"] == "running" and row["recipients"] == 3


async def test_a_reply_to_a_campaign_starts_its_flow_and_counts_as_replied(api, servers, add, flows):
    org = servers.seeded.organization_id
    promo = await add("promo", flows["promo"], type="sub")  # not the chatbot's: only the campaign starts it
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    await add_contacts(servers.db, org, 2, prefix="55819", tags=["vip"])
    campaign = await _campaign(api, template, target_filters={"tags": ["vip"]}, flow_id=str(promo))
    await api.ok("POST", f"/campaigns/{campaign['id']}/start", {})
    await servers.wait_for(lambda: len(_templates_to(servers, "55819")) == 2)

    await servers.customer_says("55819000001", "Quero")
    texts = await servers.wait_for(lambda: [m["payload"]["text"]["body"] for m in servers.inbox("55819000001")
                                            if m["type"] == "text"])
    assert texts == ["Promoções de hoje!"]
    await servers.customer_says("55300000009", "Quero")  # not a campaign's contact: the chatbot's rules
    fallback = await servers.wait_for(lambda: [m["payload"]["text"]["body"] for m in servers.inbox("55300000009")
                                               if m["type"] == "text"])
    assert fallback == ["Não entendi."]

    async def replied() -> bool:
        row = await counts(servers.db, campaign["id"])
        assert not mismatches(row), mismatches(row)
        return row["replied_count"] == 1
    await servers.wait_for(replied)


async def test_a_csv_audience_and_an_opt_out_button(api, servers):
    org = servers.seeded.organization_id
    template = await approved_template(api, servers.seeded.number_id, servers.wait_for)
    campaign = await _campaign(api, template, target_type="custom")
    csv = "whatsapp_id,name,tags\n5591900000001,Ana,cliente\n5591900000002,Bia,\nnot-a-number,X,\n"
    response = await servers.client.post(servers.pytake_url + f"/campaigns/{campaign['id']}/recipients/import",
                                         content=csv.encode(), headers={**api.headers, "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["added"], report["contact_ids"], report["rejected"]) == (2, 2, 1)
    assert report["errors"][0]["row"] == 4 and report["errors"][0]["field"] == "whatsapp_id"
    second = await _campaign(api, template, target_type="custom")
    await servers.client.post(servers.pytake_url + f"/campaigns/{second['id']}/recipients/import",
                              content=csv.encode(), headers={**api.headers, "Content-Type": "text/csv"})
    started = await api.ok("POST", f"/campaigns/{campaign['id']}/start", {})
    assert started["total_recipients"] == 2
    await servers.wait_for(lambda: len(_templates_to(servers, "55919")) == 2)

    from api.sandbox import webhooks
    from tests.runtime.conftest import PNID
    tapped = {"type": "button", "button": {"text": "Parar", "payload": "Parar"}}  # the template's quick reply
    await servers.post(webhooks.inbound_message(PNID, "5591900000002", tapped))

    async def opted_out() -> bool:
        async with servers.db.session() as s:
            return (await s.execute(text("SELECT opt_in = false FROM contacts "
                                         "WHERE whatsapp_id = '5591900000002'"))).scalar()
    await servers.wait_for(opted_out)
    assert (await api.ok("POST", f"/campaigns/{second['id']}/start", {}))["total_recipients"] == 1
    late = await servers.client.post(servers.pytake_url + f"/campaigns/{campaign['id']}/recipients/import",
                                     content=csv.encode(), headers={**api.headers, "Content-Type": "text/csv"})
    assert late.status_code == 409


async def test_the_organizations_opt_out_words_and_reply_hold_for_a_customer_no_campaign_reached(servers):
    """No campaign message in the conversation (the step reads the organization's settings with
    its load, api/conversations/load.py): its own words (``campaign_opt_out_keywords`` replace
    the defaults, any case, no accents) opt the contact out with its ``campaign_opt_out_reply``;
    a default word it replaced is an ordinary message."""
    async with servers.db.transaction() as s:
        await s.execute(text("UPDATE organizations SET settings = COALESCE(settings, '{}'::jsonb) || CAST(:s AS jsonb) "
                             "WHERE id = :o"), {"o": servers.seeded.organization_id, "s": json.dumps(
                                 {"campaign_opt_out_keywords": ["Sair já"],
                                  "campaign_opt_out_reply": "Pronto: nada de campanhas."})})

    async def texts(wa_id: str) -> list[str]:
        return await servers.wait_for(lambda: [m["payload"]["text"]["body"] for m in servers.inbox(wa_id)
                                               if m["type"] == "text"])

    async def opted_out(wa_id: str) -> bool:
        async with servers.db.session() as s:
            return (await s.execute(text("SELECT opt_in = false AND opt_out_date IS NOT NULL FROM contacts "
                                         "WHERE whatsapp_id = :w"), {"w": wa_id})).scalar()

    await servers.customer_says("55300000021", "SAIR JA")
    assert await texts("55300000021") == ["Pronto: nada de campanhas."]
    assert await opted_out("55300000021")
    await servers.customer_says("55300000022", "stop")
    assert await texts("55300000022") == ["Não entendi."]
    assert not await opted_out("55300000022")
