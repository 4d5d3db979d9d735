"""A name the API refuses is not lost: renaming a flow to a name over 255 characters (a paste gone
wrong) shows the API's words under the field, which still holds what was typed, to shorten; Cancel
brings the old name back, and a shorter name then saves. The same for a new chatbot's name."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from .browser import designer
from .conftest import screenshot

LONG = "Promoção de verão 🍕 " * 15  # 300 characters


async def test_a_refused_flow_name_stays_in_its_field_with_the_reason(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        await me.flow("Welcome")
        await me.open("/app/flows")
        row = page.locator(".flow-row").first
        await row.get_by_role("button", name="Rename").click()
        field = row.get_by_label("Name", exact=True)
        await field.fill(LONG)
        await row.get_by_role("button", name="Save").click()
        await expect(row.get_by_role("alert")).to_contain_text("name:")
        await expect(field).to_have_value(LONG)  # still there, to be shortened
        await expect(field).to_have_attribute("aria-invalid", "true")
        await screenshot(page, "flow-rename-refused")
        await field.fill("Promoção de verão 🍕")
        await row.get_by_role("button", name="Save").click()
        await expect(page.locator(".flow-row").get_by_role("link", name="Promoção de verão 🍕")).to_be_visible()
        await expect(page.get_by_role("alert")).to_have_count(0)
        assert (await me.call("GET", "/flows?chatbot_id=" + me.chatbot["id"]))["items"][0]["name"] == "Promoção de verão 🍕"

        # Cancel after a refusal: the old name, and no stale reason the next time
        row = page.locator(".flow-row").first
        await row.get_by_role("button", name="Rename").click()
        await row.get_by_label("Name", exact=True).fill(LONG)
        await row.get_by_role("button", name="Save").click()
        await expect(row.get_by_role("alert")).to_contain_text("name:")
        await row.get_by_role("button", name="Cancel").click()
        await expect(row.get_by_role("link", name="Promoção de verão 🍕")).to_be_visible()
        await row.get_by_role("button", name="Rename").click()
        await expect(row.get_by_role("alert")).to_have_count(0)


async def test_a_refused_chatbot_name_stays_in_its_field_with_the_reason(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        await me.call("DELETE", f"/chatbots/{me.chatbot['id']}")  # the plan holds one chatbot: make room
        await me.open("/app/flows")
        await expect(page.get_by_text("You have no chatbot yet")).to_be_visible()
        name = page.get_by_label("Chatbot name")
        await name.fill(LONG)
        await page.get_by_role("button", name="Create chatbot").click()
        await expect(page.get_by_role("alert")).to_contain_text("name:")
        await expect(name).to_have_value(LONG)
        await name.fill("Vendas")
        await page.get_by_role("button", name="Create chatbot").click()
        await expect(page.get_by_role("combobox", name="Chatbot")).to_have_value(
            (await me.call("GET", "/chatbots"))["items"][0]["id"])
        await expect(name).to_have_value("")
        await expect(page.get_by_role("alert")).to_have_count(0)
