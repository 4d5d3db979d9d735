"""The campaigns pages in a real browser, Meta played by the sandbox and a worker sending: a
person creates a campaign for a tag from an approved template (the client's checks first), starts
it and watches its live counters reach every recipient; pauses then cancels a second one (the
remaining recipients skipped); schedules a third in the organization's timezone; and sees the
API's 409 when a campaign changed state behind the page."""

from __future__ import annotations

import asyncio
import re
import time

from playwright.async_api import Page, expect

from .browser import Designer, accept_next_dialog, designer
from .conftest import MetaStandIn, screenshot

WABA = "102290129340398"
PROMO = {"name": "promo_week", "language": "pt_BR", "category": "MARKETING",
         "body_text": "Oi {{1}}, a pizza da semana está com {{2}} de desconto!",
         "variables": [{"name": "1", "example": "Maria"}, {"name": "2", "example": "10%"}]}
AUDIENCE = 20


def field(page: Page, name: str):
    return page.locator(f'[data-field="{name}"]')


def counter(page: Page, name: str):
    return page.locator(f'.counter[data-counter="{name}"] dd')


async def until(check, what: str, timeout: float = 60) -> None:  # noqa: ANN001
    """Poll the API until `check()` holds (a generous deadline for a loaded machine)."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.1)


async def seed(me: Designer) -> tuple[dict, dict]:
    """A number at Meta, an approved template, a flow, and the audience: 20 `vip` contacts and 2 others."""
    number = await me.call("POST", "/whatsapp-numbers", {
        "phone_number": "+5511900001111", "phone_number_id": "109876543210", "display_name": "Pizza Napoli",
        "whatsapp_business_account_id": WABA})
    template = await me.call("POST", "/templates", {**PROMO, "whatsapp_number_id": number["id"]})
    await me.call("POST", f"/templates/{template['id']}/submit", {})

    async def approved() -> bool:
        return (await me.call("GET", f"/templates/{template['id']}"))["meta_status"] == "APPROVED"
    await until(approved, "the sandbox approved the template")
    for tag in ("vip", "other"):
        await me.call("POST", "/tags", {"name": tag})
    for i in range(AUDIENCE):
        await me.call("POST", "/contacts", {"whatsapp_id": f"55119{i:08d}", "name": f"Cliente {i}", "tags": ["vip"]})
    for i in range(2):
        await me.call("POST", "/contacts", {"whatsapp_id": f"55118{i:08d}", "tags": ["other"]})
    await me.flow("Ofertas")
    return number, template


async def test_create_start_watch_pause_cancel_and_schedule_campaigns(web_with_meta_and_worker, browser_page: Page):
    base, meta = web_with_meta_and_worker
    meta: MetaStandIn
    meta.gate.set()  # the sandbox's webhooks (review, statuses) flow as they come
    async with asyncio.timeout(300):
        page = browser_page
        me = await designer(base, page)
        number, template = await seed(me)
        await me.call("PATCH", "/organization", {"settings": {"timezone": "America/Sao_Paulo"}})

        await me.open("/app/flows")
        await page.get_by_role("link", name="Campaigns").click()
        await expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()
        await expect(page.get_by_text("No campaigns yet.")).to_be_visible()

        # the form: the client's checks on the fields before anything is sent
        await page.get_by_role("link", name="New campaign").click()
        await expect(page).to_have_url(re.compile(r"/app/campaigns/new$"))
        await page.get_by_role("button", name="Create and start").click()
        await expect(field(page, "name").locator(".field-problem")).to_have_text("Give the campaign a name.")
        await expect(field(page, "template_id").locator(".field-problem")).to_have_text("Pick an approved template.")
        await expect(field(page, "target_filters").locator(".field-problem")).to_have_text("Pick at least one tag.")
        assert (await me.call("GET", "/campaigns"))["items"] == []

        await page.get_by_label("Name", exact=True).fill("Pizza da semana")
        await expect(page.get_by_label("Sending number")).to_have_value(number["id"])
        await page.get_by_label("Template").select_option(label="promo_week (pt_BR)")
        # one field per template variable
        await expect(page.get_by_label(re.compile(r"^Value for"))).to_have_count(2)
        await page.get_by_label("Value for {{1}}").fill("cliente")
        await page.get_by_role("button", name="Create and start").click()
        await expect(field(page, "message_content.body[1]").locator(".field-problem")).to_have_text("Give a value for {{2}}.")
        await page.get_by_label("Value for {{2}}").fill("15%")
        await page.get_by_role("group", name="Contacts with any of these tags").get_by_label("vip").check()
        await expect(field(page, "target_filters").locator(".field-problem")).to_have_count(0)
        await page.get_by_label("Flow started by a reply (optional)").select_option(label="Ofertas")
        await screenshot(page, "campaigns-01-form")

        # started now: the detail page's live counters reach every vip contact
        await page.get_by_role("button", name="Create and start").click()
        await expect(page).to_have_url(re.compile(r"/app/campaigns/[0-9a-f-]{36}$"))
        await expect(counter(page, "sent_count")).to_have_text(str(AUDIENCE), timeout=120_000)
        await expect(counter(page, "total_recipients")).to_have_text(str(AUDIENCE))
        await expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuetext", f"{AUDIENCE} / {AUDIENCE} sent")
        await expect(page.locator(".campaign-detail .status-pill")).to_have_text("Completed")
        for action in ("Start", "Pause", "Resume", "Cancel campaign"):
            await expect(page.get_by_role("button", name=action)).to_be_disabled()
        first_id = page.url.rsplit("/", 1)[1]
        first = await me.call("GET", f"/campaigns/{first_id}")
        assert first["message_content"]["body"] == ["cliente", "15%"]
        assert first["target_filters"] == {"tags": ["vip"]} and first["flow_id"] is not None
        # Meta got the template once per vip contact, the parameters filled in
        at_meta = [m for m in meta.state.accepted if m["type"] == "template"]
        assert sorted(m["to"] for m in at_meta) == [f"55119{i:08d}" for i in range(AUDIENCE)]
        assert at_meta[0]["payload"]["template"]["name"] == "promo_week"

        # Meta's delivered/read statuses land on the counters too (the page shows them when opened again)
        async def delivered() -> bool:
            return (await me.call("GET", f"/campaigns/{first_id}"))["delivered_count"] == AUDIENCE
        await until(delivered, "every recipient delivered")
        await page.reload()
        await expect(counter(page, "delivered_count")).to_have_text(str(AUDIENCE))
        await screenshot(page, "campaigns-02-completed")

        # a second campaign, at one message a second: started, paused, then cancelled
        await me.call("PATCH", f"/whatsapp-numbers/{number['id']}", {"settings": {"rate_limit_per_second": 1}})
        second = await me.call("POST", "/campaigns", {
            "name": "Lento", "template_id": template["id"], "message_content": {"body": ["a", "b"]},
            "target_type": "tags", "target_filters": {"tags": ["vip"]}})
        await me.open(f"/app/campaigns/{second['id']}")
        await expect(page.locator(".campaign-detail .status-pill")).to_have_text("Draft")
        await expect(page.get_by_role("button", name="Pause")).to_be_disabled()
        await page.get_by_role("button", name="Start").click()
        await expect(page.locator(".campaign-detail .status-pill")).to_have_text("Running")
        await expect(page.get_by_role("status")).to_have_text("Live: updated every 2 seconds.")
        await page.get_by_role("button", name="Pause").click()
        await expect(page.locator(".campaign-detail .status-pill")).to_have_text("Paused")
        await expect(page.get_by_role("button", name="Resume")).to_be_enabled()
        await expect(page.get_by_role("button", name="Pause")).to_be_disabled()
        await screenshot(page, "campaigns-03-paused")
        asked = accept_next_dialog(page)
        await page.get_by_role("button", name="Cancel campaign").click()
        await expect(page.locator(".campaign-detail .status-pill")).to_have_text("Cancelled")
        assert asked == ["Cancel the campaign “Lento”? Recipients not yet sent to are skipped."]
        cancelled = await me.call("GET", f"/campaigns/{second['id']}")
        assert 0 < cancelled["skipped_count"] < AUDIENCE
        await expect(counter(page, "skipped_count")).to_have_text(str(cancelled["skipped_count"]))
        for action in ("Start", "Pause", "Resume", "Cancel campaign"):
            await expect(page.get_by_role("button", name=action)).to_be_disabled()

        # a third, scheduled in the organization's timezone (São Paulo, UTC-3)
        await page.get_by_role("navigation").get_by_role("link", name="Campaigns").click()
        await page.get_by_role("link", name="New campaign").click()
        await page.get_by_label("Name", exact=True).fill("Natal")
        await page.get_by_label("Template").select_option(label="promo_week (pt_BR)")
        await page.get_by_label("Value for {{1}}").fill("x" * 1100)  # Meta's limit, checked by the API at start
        await page.get_by_label("Value for {{2}}").fill("20%")
        await page.get_by_label("All contacts").check()
        await page.get_by_role("button", name="Create and start").click()
        await expect(field(page, "message_content.body[0]").locator(".field-problem")).to_contain_text("1024")
        assert [c["name"] for c in (await me.call("GET", "/campaigns"))["items"]].count("Natal") == 0  # no stray draft
        await screenshot(page, "campaigns-04-refused-at-start")
        await page.get_by_label("Value for {{1}}").fill("cliente")
        await page.get_by_label("Schedule").check()
        await expect(page.get_by_text("Time in the organization's timezone (America/Sao_Paulo).")).to_be_visible()
        await page.get_by_label("Date").fill("2030-12-24")
        await page.get_by_label("Time").fill("18:30")
        await page.get_by_role("button", name="Create and schedule").click()
        await expect(page.locator(".campaign-detail .status-pill")).to_have_text("Scheduled")
        await expect(page.locator(".facts")).to_contain_text("Dec 24, 2030, 6:30 PM (America/Sao_Paulo)")
        third = await me.call("GET", "/campaigns/" + page.url.rsplit("/", 1)[1])
        assert third["scheduled_at"].startswith("2030-12-24T21:30:00")
        await screenshot(page, "campaigns-05-scheduled")

        # the API's 409, plainly: the campaign was cancelled elsewhere while this page showed it scheduled
        draft = await me.call("POST", "/campaigns", {
            "name": "Rascunho", "template_id": template["id"], "message_content": {"body": ["a", "b"]},
            "target_type": "all", "target_filters": {}})
        await me.open(f"/app/campaigns/{draft['id']}")
        await expect(page.get_by_role("button", name="Start")).to_be_enabled()
        await me.call("POST", f"/campaigns/{draft['id']}/cancel", {})
        await page.get_by_role("button", name="Start").click()
        await expect(page.get_by_role("alert")).to_have_text(re.compile(r"^Not done: a cancelled campaign cannot be started"))
        await expect(page.locator(".campaign-detail .status-pill")).to_have_text("Cancelled")
        await screenshot(page, "campaigns-06-conflict")

        # the list: each campaign's status, template, time and progress
        await page.get_by_role("navigation").get_by_role("link", name="Campaigns").click()
        row = page.locator(".campaign-row[data-name='Pizza da semana']")
        await expect(row.locator(".status-pill")).to_have_text("Completed")
        await expect(row).to_contain_text("promo_week")
        await expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuetext", f"{AUDIENCE} / {AUDIENCE} sent")
        await expect(page.locator(".campaign-row[data-name='Natal'] .status-pill")).to_have_text("Scheduled")
        await expect(page.locator(".campaign-row[data-name='Natal']")).to_contain_text("Dec 24, 2030, 6:30 PM")
        await expect(page.locator(".campaign-row[data-name='Lento'] .status-pill")).to_have_text("Cancelled")
        await screenshot(page, "campaigns-07-list")

        # in Portuguese
        await page.get_by_label("Language").select_option("pt-BR")
        await expect(page.get_by_role("heading", name="Campanhas")).to_be_visible()
        await expect(row.locator(".status-pill")).to_have_text("Concluída")
        await expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuetext", f"{AUDIENCE} / {AUDIENCE} enviadas")
        await expect(page.get_by_role("navigation").get_by_role("link", name="Campanhas")).to_have_class(re.compile("active"))
        await screenshot(page, "campaigns-08-pt-BR")
