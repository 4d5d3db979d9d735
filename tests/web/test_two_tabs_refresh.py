"""Two tabs of the app whose access token expired together: both need a new one at once. Each tab
spent the same single-use refresh token, the server took the second use as theft and signed the
user out everywhere. Now the tabs refresh one at a time (Web Locks) and the second takes the tokens
the first stored: both stay signed in, and the refresh token is spent once."""

from __future__ import annotations

import asyncio
import json

import httpx
from playwright.async_api import Page, expect

from .browser import designer


async def test_two_tabs_refreshing_at_once_both_stay_signed_in(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        other = await page.context.new_page()
        await page.evaluate("t => localStorage.setItem('pytake.tokens', t)",
                            json.dumps({"access_token": "expired", "refresh_token": me.tokens["refresh_token"]}))
        # both tabs load with the expired token before either asks for a new one: their first reads of
        # /auth/me are held until both tabs have sent theirs
        held: list = []
        both = asyncio.Event()
        refreshes: list[str] = []

        async def hold_me(route) -> None:  # noqa: ANN001
            held.append(route)
            if len(held) == 2:
                both.set()
            await both.wait()
            await route.continue_()

        async def count_refresh(route) -> None:  # noqa: ANN001
            refreshes.append(route.request.post_data or "")
            await route.continue_()
        await page.context.route(lambda url: url.endswith("/auth/me"), hold_me)
        await page.context.route(lambda url: url.endswith("/auth/refresh"), count_refresh)
        await asyncio.gather(page.goto(web_server + "/app/flows"), other.goto(web_server + "/app/flows"))
        for tab in (page, other):
            await expect(tab.get_by_role("button", name="Log out")).to_be_visible()
            await expect(tab.get_by_role("heading", name="Flows")).to_be_visible()
        assert len(refreshes) == 1, refreshes  # spent once: the second tab took the first one's tokens
        stored = json.loads(await other.evaluate("localStorage.getItem('pytake.tokens')"))
        async with httpx.AsyncClient(base_url=web_server) as client:  # the stored pair works, both halves
            assert (await client.get("/auth/me", headers={
                "Authorization": f"Bearer {stored['access_token']}"})).status_code == 200
            assert (await client.post("/auth/refresh", json={"refresh_token": stored["refresh_token"]})).status_code == 200
