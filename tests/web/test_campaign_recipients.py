"""A campaign's recipients table in a real browser, Meta played by the sandbox and a worker
sending: a CSV with columns of its own feeds per-recipient template parameters; the campaign's page
lists each recipient (number, name, status, its own values), filters by status, and shows why one
was never sent; in Portuguese too."""

from __future__ import annotations

import asyncio

import httpx
from playwright.async_api import Page, expect

from .browser import API_TIMEOUT, designer
from .conftest import MetaStandIn, screenshot
from .test_campaigns_page import WABA, until

GREETING = {"name": "plan_greeting", "language": "pt_BR", "category": "MARKETING",
            "body_text": "Oi {{1}}, seu plano {{2}} chegou!",
            "variables": [{"name": "1", "example": "Maria"}, {"name": "2", "example": "gold"}]}
CSV = ("whatsapp_id,name,plan\n"
       "5511970000001,Ana Souza,gold\n"
       "5511970000002,Bruno Lima,silver\n"
       "5511970000003,Carla Dias,\n")


def rows(page: Page):
    return page.locator(".recipients-table .recipient-row")


async def test_the_recipients_table_filters_by_status_and_shows_each_ones_values(
        web_with_meta_and_worker, browser_page: Page):
    base, meta = web_with_meta_and_worker
    meta: MetaStandIn
    meta.gate.set()
    async with asyncio.timeout(300):
        page = browser_page
        me = await designer(base, page)
        number = await me.call("POST", "/whatsapp-numbers", {
            "phone_number": "+5511900001111", "phone_number_id": "109876543210", "display_name": "Pizza Napoli",
            "whatsapp_business_account_id": WABA})
        template = await me.call("POST", "/templates", {**GREETING, "whatsapp_number_id": number["id"]})
        await me.call("POST", f"/templates/{template['id']}/submit", {})

        async def approved() -> bool:
            return (await me.call("GET", f"/templates/{template['id']}"))["meta_status"] == "APPROVED"
        await until(approved, "the sandbox approved the template")
        campaign = await me.call("POST", "/campaigns", {
            "name": "Planos", "template_id": template["id"], "target_type": "custom",
            "message_content": {"body": ["{{contact.first_name}}", "{{recipient.plan}}"]}})
        async with httpx.AsyncClient(base_url=base, timeout=API_TIMEOUT) as client:
            imported = await client.post(f"/campaigns/{campaign['id']}/recipients/import", content=CSV.encode(),
                                         headers={"Authorization": f"Bearer {me.tokens['access_token']}",
                                                  "Content-Type": "text/csv"})
        assert imported.status_code == 200 and imported.json()["variables"] == ["plan"], imported.text

        # the draft's page already lists the imported recipients with their own values
        await me.open(f"/app/campaigns/{campaign['id']}")
        await expect(rows(page)).to_have_count(3)
        ana = page.locator(".recipient-row[data-phone='5511970000001']")
        await expect(ana).to_contain_text("Ana Souza")
        await expect(ana).to_contain_text("plan: gold")
        await expect(ana).to_contain_text("Pending")

        await page.get_by_role("button", name="Start").click()
        await expect(page.locator(".campaign-detail .status-pill")).to_have_text("Completed", timeout=120_000)
        # Meta got each one's own values; Carla (no plan) never reached it
        at_meta = {m["to"]: m["payload"]["template"]["components"] for m in meta.state.accepted
                   if m["type"] == "template"}
        assert at_meta == {
            "5511970000001": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"},
                                                              {"type": "text", "text": "gold"}]}],
            "5511970000002": [{"type": "body", "parameters": [{"type": "text", "text": "Bruno"},
                                                              {"type": "text", "text": "silver"}]}]}

        async def delivered() -> bool:
            return (await me.call("GET", f"/campaigns/{campaign['id']}"))["delivered_count"] == 2
        await until(delivered, "both delivered")
        await page.reload()
        await expect(rows(page)).to_have_count(3)
        await page.get_by_label("Status", exact=True).select_option("failed")
        await expect(rows(page)).to_have_count(1)
        carla = page.locator(".recipient-row[data-phone='5511970000003']")
        await expect(carla).to_contain_text("Failed")
        await expect(carla).to_contain_text("body parameter {{2}} is empty for this recipient")
        await screenshot(page, "campaign-recipients-01-failed")
        await page.get_by_label("Status", exact=True).select_option("skipped")
        await expect(page.get_by_text("No recipient with this status.")).to_be_visible()
        await page.get_by_label("Status", exact=True).select_option("")
        await expect(rows(page)).to_have_count(3)
        await screenshot(page, "campaign-recipients-02-all")

        await page.get_by_label("Language").select_option("pt-BR")
        await expect(page.get_by_role("heading", name="Destinatários")).to_be_visible()
        await page.get_by_label("Situação", exact=True).select_option("failed")
        await expect(carla).to_contain_text("Falhou")
        await expect(rows(page)).to_have_count(1)
        await screenshot(page, "campaign-recipients-03-pt-BR")
