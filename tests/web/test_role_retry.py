"""/auth/me that did not arrive is asked again: the page gets its controls once the role is read
(a network blip kept them hidden until a reload)."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from .browser import designer


async def test_the_role_is_read_again_after_a_failed_read(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        dropped = asyncio.Event()

        async def drop_first(route) -> None:  # noqa: ANN001 - the browser's first /auth/me, dropped
            if not dropped.is_set():
                dropped.set()
                await route.abort()
            else:
                await route.continue_()
        await page.route(lambda url: url.endswith("/auth/me"), drop_first)
        await me.open("/app/campaigns")  # a page load: the role is read anew, and that read is dropped
        await expect(page.get_by_role("link", name="New campaign")).to_be_visible()
        assert dropped.is_set()
