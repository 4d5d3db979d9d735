"""A campaign for a tag the contacts carry but /tags does not list (a contact's tags are free text:
a flow's add_tag, an import, the contacts API write them without a /tags row): the form takes it
typed in, and the campaign targets it."""

from __future__ import annotations

import asyncio
import re
import time

from playwright.async_api import Page, expect

from .browser import designer
from .conftest import MetaStandIn, screenshot


async def test_a_campaign_for_a_tag_only_contacts_carry(web_with_meta, browser_page: Page):
    base, meta = web_with_meta
    meta: MetaStandIn
    meta.gate.set()  # the review webhook approves the template
    async with asyncio.timeout(150):
        page = browser_page
        me = await designer(base, page)
        number = await me.call("POST", "/whatsapp-numbers", {
            "phone_number": "+5511900001111", "phone_number_id": "109876543210", "display_name": "Pizza Napoli",
            "whatsapp_business_account_id": "102290129340398"})
        template = await me.call("POST", "/templates", {"name": "order_shipped", "language": "pt_BR",
                                                        "category": "UTILITY", "body_text": "Seu pedido saiu",
                                                        "whatsapp_number_id": number["id"]})
        await me.call("POST", f"/templates/{template['id']}/submit", {})
        deadline = time.monotonic() + 60
        while (await me.call("GET", f"/templates/{template['id']}"))["meta_status"] != "APPROVED":
            assert time.monotonic() < deadline, "the sandbox never approved the template"
            await asyncio.sleep(0.1)
        await me.call("POST", "/contacts", {"whatsapp_id": "5511987654321", "name": "Maria", "tags": ["pedido"]})
        assert (await me.call("GET", "/tags"))["items"] == []  # the tag is only on the contact

        await me.open("/app/campaigns/new")
        await page.get_by_label("Name", exact=True).fill("Pedidos da semana")
        await page.get_by_label("Template").select_option(label="order_shipped (pt_BR)")
        await expect(page.get_by_text("No tags listed yet: type the tag your contacts carry.")).to_be_visible()
        await page.get_by_label("Another tag").fill("pedido")
        await page.get_by_label("Another tag").press("Enter")  # adds the tag, does not submit the form
        await expect(page.get_by_role("group", name="Contacts with any of these tags").get_by_label("pedido")).to_be_checked()
        await expect(page.get_by_label("Another tag")).to_have_value("")
        await screenshot(page, "campaign-typed-tag")
        assert (await me.call("GET", "/campaigns"))["items"] == []

        await page.get_by_role("button", name="Create and start").click()
        await expect(page).to_have_url(re.compile(r"/app/campaigns/[0-9a-f-]{36}$"))
        created = await me.call("GET", f"/campaigns/{page.url.rsplit('/', 1)[1]}")
        assert created["target_filters"] == {"tags": ["pedido"]}
