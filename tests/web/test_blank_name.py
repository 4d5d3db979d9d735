"""Renaming a flow to blanks: the API refuses it (422) and the page says why in words, not with the
regular expression behind the check (pydantic's "String should match pattern '[^\\t-\\r…]'")."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from .browser import designer


async def test_a_blank_flow_name_is_refused_in_words(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        await me.flow("Welcome")
        await me.open("/app/flows")
        row = page.locator(".flow-row").filter(has_text="Welcome")
        await row.get_by_role("button", name="Rename").click()
        await page.get_by_label("Name", exact=True).fill("   ")
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("alert")).to_have_text("name: must not be blank")
        await expect(page.get_by_label("Name", exact=True)).to_have_value("   ")  # what was typed, to correct
        await page.get_by_role("button", name="Cancel").click()
        await expect(page.locator(".flow-row").filter(has_text="Welcome")).to_have_count(1)  # the name stays
