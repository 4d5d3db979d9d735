"""A request the network drops is said in words a person reads ("Failed to fetch"), not as a
JavaScript value ("TypeError: Failed to fetch"), and the banner can be dismissed from the keyboard."""

from __future__ import annotations

import asyncio
import uuid

from playwright.async_api import Page, expect

from .browser import designer


async def test_a_campaign_that_did_not_arrive_says_why_in_plain_words(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        campaign_id = str(uuid.uuid4())
        await page.route(lambda url: url.endswith(f"/campaigns/{campaign_id}") and "/app/" not in url,
                         lambda route: route.abort())
        await me.open(f"/app/campaigns/{campaign_id}")
        alert = page.get_by_role("alert")
        await expect(alert).to_have_text("Failed to fetch")
        await page.get_by_role("button", name="Dismiss").focus()
        await page.keyboard.press("Enter")
        await expect(alert).to_have_count(0)
