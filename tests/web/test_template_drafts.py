"""A template defined but never sent to Meta (POST /templates without /submit: its meta_status is the
column's default, PENDING, but it has no Meta id) shows as not submitted, with Submit, and the page
does not say, nor poll as if, Meta were reviewing it."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from .browser import designer


async def test_a_template_never_submitted_is_a_draft_not_pending(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        admin = await designer(web_server, page)
        draft = await admin.call("POST", "/templates", {"name": "order_shipped", "language": "pt_BR",
                                                        "category": "UTILITY", "body_text": "Your order is on its way"})
        assert draft["meta_status"] == "PENDING" and draft["meta_template_id"] is None  # what the API answers

        await admin.open("/app/templates")
        row = page.locator(".template-row").filter(has_text="order_shipped")
        await expect(row.locator(".status-pill")).to_have_text("Not submitted")
        await expect(row.get_by_role("button", name="Submit for review")).to_be_visible()
        await expect(page.get_by_role("status")).to_have_text("")  # no "Waiting for Meta's review"
