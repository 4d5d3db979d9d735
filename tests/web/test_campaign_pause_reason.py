"""Why PyTake paused a campaign, in a real browser, Meta played by the sandbox and a worker
sending: Meta pauses the template (low quality) while the campaign sends it, PyTake pauses the
campaign, and its page says why and what to do (in Portuguese too), the list says it on a line
under the status; a resume Meta would still refuse is refused and changes nothing; once Meta
approves the template again, Resume sends on and the reason is gone; a user's own pause shows none."""

from __future__ import annotations

import asyncio

import httpx
from playwright.async_api import Page, expect

from .browser import designer
from .conftest import MetaStandIn, screenshot
from .test_campaigns_page import PROMO, WABA, until

AUDIENCE = 30  # at one message a second: still sending when Meta pauses the template


async def sandbox_post(meta: MetaStandIn, path: str, body: dict) -> int:
    """A call to the sandbox's own controls (what Meta decides); its status code."""
    async with httpx.AsyncClient(base_url=meta.url, timeout=30) as client:
        return (await client.post(path, json=body)).status_code


def notice(page: Page):
    return page.get_by_role("note", name="PyTake paused this campaign")


async def test_a_campaign_pytake_paused_shows_why_until_it_is_resumed(web_with_meta_and_worker, browser_page: Page):
    base, meta = web_with_meta_and_worker
    meta: MetaStandIn
    meta.gate.set()  # the sandbox's webhooks (review, template status, statuses) flow as they come
    async with asyncio.timeout(300):
        page = browser_page
        me = await designer(base, page)
        number = await me.call("POST", "/whatsapp-numbers", {
            "phone_number": "+5511900001111", "phone_number_id": "109876543210", "display_name": "Pizza Napoli",
            "whatsapp_business_account_id": WABA, "settings": {"rate_limit_per_second": 1}})
        template = await me.call("POST", "/templates", {**PROMO, "whatsapp_number_id": number["id"]})
        await me.call("POST", f"/templates/{template['id']}/submit", {})

        async def meta_status(expected: str) -> bool:
            return (await me.call("GET", f"/templates/{template['id']}"))["meta_status"] == expected
        await until(lambda: meta_status("APPROVED"), "the sandbox approved the template")
        await me.call("POST", "/tags", {"name": "vip"})
        for i in range(AUDIENCE):
            await me.call("POST", "/contacts", {"whatsapp_id": f"55117{i:08d}", "tags": ["vip"]})
        campaign = await me.call("POST", "/campaigns", {
            "name": "Semana", "template_id": template["id"], "message_content": {"body": ["Ana", "10%"]},
            "target_type": "tags", "target_filters": {"tags": ["vip"]}})
        cid = campaign["id"]
        await me.call("POST", f"/campaigns/{cid}/start", {})

        async def sending() -> bool:
            return (await me.call("GET", f"/campaigns/{cid}"))["sent_count"] > 0
        await until(sending, "the campaign is sending")

        # Meta pauses the template (low quality): PyTake pauses the campaign sending it
        meta_id = (await me.call("GET", f"/templates/{template['id']}"))["meta_template_id"]
        event = await sandbox_post(meta, "/_sandbox/templates/event", {"id": meta_id, "event": "PAUSED", "reason": "LOW_QUALITY"})
        assert event == 200

        async def paused() -> bool:
            return (await me.call("GET", f"/campaigns/{cid}"))["status"] == "paused"
        await until(paused, "PyTake paused the campaign")
        reason = (await me.call("GET", f"/campaigns/{cid}"))["pause_reason"]
        assert reason.startswith("template_id: "), reason

        # the list: a line under "Paused" says what it is about, the reason on hover
        await me.open("/app/campaigns")
        row = page.locator(".campaign-row[data-name='Semana']")
        await expect(row.locator(".status-pill")).to_have_text("Paused")
        await expect(row.locator(".pause-line")).to_have_text("Its template cannot be sent")
        await expect(row.locator(".pause-line")).to_have_attribute("title", reason)
        await screenshot(page, "campaign-pause-reason-01-list")

        # the campaign's page: why, and what to do, beside Resume
        await row.get_by_role("link", name="Semana").click()
        await expect(page.locator(".campaign-detail .status-pill")).to_have_text("Paused")
        await expect(notice(page)).to_contain_text("PyTake paused this campaign — Its template cannot be sent")
        await expect(notice(page)).to_contain_text(reason)
        await expect(notice(page)).to_contain_text("Once the template is approved and active again (Templates page), "
                                                   "resume")
        await expect(page.get_by_role("button", name="Resume")).to_be_enabled()
        await screenshot(page, "campaign-pause-reason-02-page")

        await page.get_by_label("Language").select_option("pt-BR")
        await expect(page.get_by_role("note", name="O PyTake pausou esta campanha")).to_contain_text(
            "O PyTake pausou esta campanha — O modelo dela não pode ser enviado")
        await expect(page.get_by_role("button", name="Retomar")).to_be_enabled()
        await screenshot(page, "campaign-pause-reason-03-pt-BR")
        await page.get_by_label("Idioma").select_option("en")

        # resumed while Meta still has the template paused: refused (422), the reason stays
        await page.get_by_role("button", name="Resume").click()
        await expect(page.get_by_role("alert")).to_contain_text("is PAUSED: only APPROVED")
        await expect(page.locator(".campaign-detail .status-pill")).to_have_text("Paused")
        await expect(notice(page)).to_contain_text(reason)

        # Meta approves the template again: Resume sends on, and the reason is gone
        event = await sandbox_post(meta, "/_sandbox/templates/event", {"id": meta_id, "event": "APPROVED"})
        assert event == 200
        await until(lambda: meta_status("APPROVED"), "the template is approved again")
        await page.get_by_role("button", name="Resume").click()
        await expect(page.locator(".campaign-detail .status-pill")).to_have_text("Running")
        await expect(notice(page)).to_have_count(0)
        assert (await me.call("GET", f"/campaigns/{cid}"))["pause_reason"] is None
        await screenshot(page, "campaign-pause-reason-04-resumed")

        # a user's own pause: no reason to show (they know why)
        await page.get_by_role("button", name="Pause").click()
        await expect(page.locator(".campaign-detail .status-pill")).to_have_text("Paused")
        await expect(notice(page)).to_have_count(0)
        await me.open("/app/campaigns")
        await expect(page.locator(".campaign-row[data-name='Semana'] .status-pill")).to_have_text("Paused")
        await expect(page.locator(".campaign-row[data-name='Semana'] .pause-line")).to_have_count(0)

