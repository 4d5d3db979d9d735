"""The templates pages in a real browser, Meta played by the sandbox: a person writes a
template (header, a body with two variables and their examples, a URL button), sees
the client's checks and the API's refusal on the fields, submits it, sees it Pending
and then Approved when Meta's review webhook arrives, syncs, filters, and deletes it
(at Meta first)."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page, expect

from .browser import accept_next_dialog, designer
from .conftest import MetaStandIn, screenshot

WABA = "102290129340398"


def field(page: Page, name: str):
    """A form field's box (label, control, help, problem) by the API's name for it."""
    return page.locator(f'[data-field="{name}"]')


async def test_write_submit_review_sync_and_delete_a_template(web_with_meta, browser_page: Page):
    base, meta = web_with_meta
    meta: MetaStandIn
    async with asyncio.timeout(180):
        page = browser_page
        me = await designer(base, page)
        number = await me.call("POST", "/whatsapp-numbers", {
            "phone_number": "+5511900001111", "phone_number_id": "109876543210", "display_name": "Pizza Napoli",
            "whatsapp_business_account_id": WABA})
        await me.open("/app/flows")
        await page.get_by_role("link", name="Templates").click()
        await expect(page.get_by_role("heading", name="Message templates")).to_be_visible()
        await expect(page.get_by_text("No templates yet.")).to_be_visible()

        # the form: Meta's name rule shown, and the client's checks on the fields before anything is sent
        await page.get_by_role("link", name="New template").click()
        await expect(page).to_have_url(re.compile(r"/app/templates/new$"))
        await expect(field(page, "name")).to_contain_text("Lowercase letters, digits and underscores only")
        await page.get_by_label("Name", exact=True).fill("Order Shipped")
        await page.get_by_role("button", name="Submit for review").click()
        await expect(field(page, "name").locator(".field-problem")).to_have_text(
            "Use only lowercase letters, digits and underscores (e.g. order_shipped).")
        await expect(field(page, "category").locator(".field-problem")).to_have_text("Pick a category.")
        await expect(field(page, "body_text").locator(".field-problem")).to_have_text("The body is required.")
        await expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
        assert (await me.call("GET", "/templates"))["items"] == []

        await page.get_by_label("Name", exact=True).fill("order_shipped")
        await expect(field(page, "name").locator(".field-problem")).to_have_count(0)  # fixed: the problem goes
        await page.get_by_label("Category").select_option("UTILITY")
        await page.get_by_label("Header type").select_option("TEXT")
        await page.get_by_label("Header text").fill("Your order is on its way")
        await page.get_by_label("Body", exact=True).fill("Hi {{1}}, your order {{2}} left the kitchen.")
        # one example field per variable found in the body
        await expect(page.get_by_label(re.compile(r"^Example for"))).to_have_count(2)
        await page.get_by_label("Example for {{1}}").fill("Maria")
        await page.get_by_label("Example for {{2}}").fill("A-17")
        await page.get_by_label("Footer (optional)").fill("Pizza Napoli")
        await page.get_by_role("button", name="+ Link").click()
        # a button added joins its group (quick replies, or links and phones): Meta refuses them mixed
        await page.get_by_role("button", name="+ Quick reply").click()
        await page.get_by_role("button", name="+ Phone call").click()
        heads = page.locator("fieldset[data-field='buttons'] .list-item-head > span")
        await expect(heads).to_have_text(["Link", "Phone call", "Quick reply"])
        for n in (3, 2):
            await page.get_by_role("group", name=f"Button {n}").get_by_role("button", name="Remove").click()
        await expect(heads).to_have_text(["Link"])
        button = page.get_by_role("group", name="Button 1")
        await button.get_by_label("Button text").fill("Track order")
        await button.get_by_label("URL", exact=True).fill("https://pizza.example/track/{{1}}")
        await button.get_by_label("Example URL").fill("https://pizza.example/track/A-17")

        # the preview: WhatsApp's bubble with the examples in place
        preview = page.get_by_role("figure", name="Preview")
        await expect(preview.get_by_test_id("preview-header")).to_have_text("Your order is on its way")
        await expect(preview.get_by_test_id("preview-body")).to_have_text("Hi Maria, your order A-17 left the kitchen.")
        await expect(preview.get_by_test_id("preview-footer")).to_have_text("Pizza Napoli")
        await expect(preview.get_by_test_id("preview-button")).to_have_text(re.compile("Track order"))
        await screenshot(page, "templates-01-form")

        # submitted: Pending until Meta's review webhook arrives (held until the page showed it)
        await page.get_by_role("button", name="Submit for review").click()
        await expect(page).to_have_url(re.compile(r"/app/templates$"))
        row = page.locator(".template-row[data-name='order_shipped']")
        await expect(row.locator(".status-pill")).to_have_text("Pending review")
        await expect(page.get_by_role("status")).to_contain_text("Waiting for Meta's review")
        await expect(page.locator(".template-group h2")).to_have_text(f"Pizza Napoli (+5511900001111) · WABA {WABA}")
        at_meta = meta.state.templates[WABA]
        assert [(t["name"], t["language"], t["category"]) for t in at_meta] == [("order_shipped", "pt_BR", "UTILITY")]
        assert at_meta[0]["components"][1]["example"] == {"body_text": [["Maria", "A-17"]]}
        await screenshot(page, "templates-02-pending")
        meta.gate.set()
        await expect(row.locator(".status-pill")).to_have_text("Approved")  # the page polls while one is pending
        await expect(row).to_contain_text("Utility")

        # the API's refusal, named on its field: the same name and language exist for the number
        await page.get_by_role("link", name="New template").click()
        await page.get_by_label("Name", exact=True).fill("order_shipped")
        await page.get_by_label("Category").select_option("UTILITY")
        await page.get_by_label("Body", exact=True).fill("Again")
        await page.get_by_role("button", name="Submit for review").click()
        await expect(field(page, "name").locator(".field-problem")).to_contain_text("already exists")
        await screenshot(page, "templates-03-api-refusal")
        await page.get_by_role("link", name="Cancel").click()

        # sync: a template made in Meta's Business Manager comes in
        meta.state.templates[WABA].append({
            "id": "778899", "name": "welcome_back", "language": "en_US", "category": "MARKETING",
            "status": "REJECTED", "rejected_reason": "INVALID_FORMAT", "quality_score": {"score": "GREEN"},
            "components": [{"type": "BODY", "text": "Welcome back!"}]})
        await page.get_by_role("button", name="Sync with Meta").click()
        await expect(page.get_by_role("status")).to_have_text("Synced: 2 template(s) from 1 number(s).")
        welcome = page.locator(".template-row[data-name='welcome_back']")
        await expect(welcome.locator(".status-pill")).to_have_text("Rejected")
        await expect(welcome).to_contain_text("Reason: INVALID_FORMAT")
        await expect(welcome).to_contain_text("High")
        await screenshot(page, "templates-04-synced")

        # the status filter
        await page.get_by_label("Filter by status").select_option("REJECTED")
        await expect(page.locator(".template-row")).to_have_count(1)
        await expect(welcome).to_be_visible()
        await page.get_by_label("Filter by status").select_option("")
        await expect(page.locator(".template-row")).to_have_count(2)

        # delete: asked first, then gone at Meta and here
        asked = accept_next_dialog(page)
        await row.get_by_role("button", name="Delete").click()
        await expect(row).to_have_count(0)
        assert asked == ["Delete the template “order_shipped” at Meta and here? Messages can no longer use it."]
        assert [t["name"] for t in meta.state.templates[WABA]] == ["welcome_back"]
        assert [t["name"] for t in (await me.call("GET", "/templates"))["items"]] == ["welcome_back"]
        assert number["whatsapp_business_account_id"] == WABA


async def test_the_templates_page_in_portuguese(web_with_meta, browser_page: Page):
    base, _meta = web_with_meta
    async with asyncio.timeout(120):
        page = browser_page
        await designer(base, page)
        await page.evaluate("() => localStorage.setItem('pytake.lang', 'pt-BR')")
        await page.goto(base + "/app/templates/new")
        await expect(page.get_by_role("heading", name="Novo modelo")).to_be_visible()
        await page.get_by_label("Corpo", exact=True).fill("Olá {{1}}")
        await page.get_by_role("button", name="Enviar para análise").click()
        await expect(field(page, "variables.1").locator(".field-problem")).to_have_text("Dê um exemplo para {{1}}.")
        await expect(field(page, "body_text").locator(".field-problem")).to_have_text(  # Meta would refuse it
            "A Meta recusa um corpo que termina com uma variável (pontuação depois dela conta): escreva algo depois dela.")
        await expect(field(page, "name")).to_contain_text("Só letras minúsculas, dígitos e sublinhados")
        await expect(page.get_by_role("link", name="Modelos", exact=True)).to_have_class(re.compile("active"))
        await screenshot(page, "templates-05-pt-BR")
