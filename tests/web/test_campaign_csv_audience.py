"""A campaign's audience from a CSV file, in a real browser, Meta played by the sandbox and a worker
sending: the form imports the file into the draft (POST /campaigns/{id}/recipients/import), lists the
rows the import refused by line and starts nothing then; with the file fixed it starts, each row's
own column (``coupon``) filling its recipient's parameter. Before, the form had no way to give a
CSV: only tags, chosen contacts or everyone."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page, expect

from .browser import designer
from .conftest import MetaStandIn, screenshot
from .test_campaigns_page import PROMO, WABA, counter, field, until

BAD = ("whatsapp_id,name,coupon\n"
       "5511911110001,Ana,ANA10\n"
       "not-a-number,Bruno,BRU10\n"
       "5511911110003,Carla,CAR10\n")
GOOD = BAD.replace("not-a-number", "5511911110002")


async def test_a_campaign_for_the_contacts_of_a_csv_file(web_with_meta_and_worker, browser_page: Page):
    base, meta = web_with_meta_and_worker
    meta: MetaStandIn
    meta.gate.set()
    async with asyncio.timeout(300):
        page = browser_page
        me = await designer(base, page)
        number = await me.call("POST", "/whatsapp-numbers", {
            "phone_number": "+5511900001111", "phone_number_id": "109876543210", "display_name": "Pizza Napoli",
            "whatsapp_business_account_id": WABA})
        template = await me.call("POST", "/templates", {**PROMO, "whatsapp_number_id": number["id"]})
        await me.call("POST", f"/templates/{template['id']}/submit", {})

        async def approved() -> bool:
            return (await me.call("GET", f"/templates/{template['id']}"))["meta_status"] == "APPROVED"
        await until(approved, "the sandbox approved the template")
        await me.call("POST", "/contacts", {"whatsapp_id": "5511922220000", "name": "Not in the file"})

        await me.open("/app/campaigns/new")
        await page.get_by_label("Name", exact=True).fill("Cupons")
        await page.get_by_label("Template").select_option(label="promo_week (pt_BR)")
        await page.get_by_label("Value for {{1}}").fill("{{contact.name}}")
        await page.get_by_label("Value for {{2}}").fill("{{recipient.coupon}}")
        await page.get_by_label("Contacts from a CSV file").check()
        await page.get_by_role("button", name="Create and start").click()
        await expect(field(page, "target_filters").locator(".field-problem")).to_have_text(
            "Choose the CSV file with the contacts.")

        csv = page.get_by_label("CSV file", exact=True)
        # a file the import refuses whole: the API's reason, on the audience
        await csv.set_input_files(files=[{"name": "nomes.csv", "mimeType": "text/csv", "buffer": b"name\nAna\n"}])
        await page.get_by_role("button", name="Create and start").click()
        await expect(field(page, "target_filters").locator(".field-problem")).to_have_text(
            "the header has no whatsapp_id column")
        assert (await me.call("GET", "/campaigns"))["items"] == []
        await csv.set_input_files(files=[{"name": "clientes.csv", "mimeType": "text/csv", "buffer": BAD.encode()}])
        await expect(field(page, "target_filters").locator(".field-problem")).to_have_count(0)
        await page.get_by_role("button", name="Create and start").click()
        await expect(field(page, "target_filters").locator(".field-problem")).to_have_text(
            "1 row(s) of the file were refused, so the campaign was not created (the other rows' contacts were "
            "saved): fix them and pick the file again.")
        refused = page.get_by_role("list", name="Refused rows")
        await expect(refused.get_by_role("listitem")).to_have_count(1)
        await expect(refused).to_contain_text(re.compile(r"^Line 3 \(whatsapp_id\): "))
        await screenshot(page, "campaigns-csv-refused")
        assert (await me.call("GET", "/campaigns"))["items"] == []  # nothing left behind

        await csv.set_input_files(files=[{"name": "clientes.csv", "mimeType": "text/csv", "buffer": GOOD.encode()}])
        await expect(refused).to_have_count(0)  # a new file: the old refusal goes
        await page.get_by_role("button", name="Create and start").click()
        await expect(page).to_have_url(re.compile(r"/app/campaigns/[0-9a-f-]{36}$"))
        await expect(counter(page, "total_recipients")).to_have_text("3")
        await expect(counter(page, "sent_count")).to_have_text("3", timeout=120_000)
        at_meta = sorted((m["to"], m["payload"]["template"]["components"][0]["parameters"])
                         for m in meta.state.accepted if m["type"] == "template")
        assert at_meta == [
            ("5511911110001", [{"type": "text", "text": "Ana"}, {"type": "text", "text": "ANA10"}]),
            ("5511911110002", [{"type": "text", "text": "Bruno"}, {"type": "text", "text": "BRU10"}]),
            ("5511911110003", [{"type": "text", "text": "Carla"}, {"type": "text", "text": "CAR10"}])]
        await screenshot(page, "campaigns-csv-sent")
