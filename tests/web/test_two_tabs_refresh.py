"""Two tabs of the app share one token pair (localStorage). Each used to keep the refresh token it
loaded with: after one tab refreshed, the other, its access token expired too, spent the token the
first had already spent, the server took it for theft and signed the user out everywhere. An
agent with the inbox in two tabs was signed out a quarter of an hour after signing in.

Now a tab follows the pair another stored, so it never spends a spent token; and two tabs that
refresh at the very same moment both get a pair (the server's rotation grace)."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
from playwright.async_api import Page, expect

from .browser import designer
from .test_inbox_page import until


async def stored_tokens(page: Page) -> dict:
    return json.loads(await page.evaluate("localStorage.getItem('pytake.tokens')"))


async def the_pair_works(base: str, tokens: dict) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/auth/me", headers={
            "Authorization": f"Bearer {tokens['access_token']}"})).status_code == 200
        assert (await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 200


async def test_a_tab_takes_the_pair_another_tab_refreshed(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        await me.open("/app/flows")
        other = await page.context.new_page()
        await other.goto(web_server + "/app/flows")
        for tab in (page, other):
            await expect(tab.get_by_role("heading", name="Flows")).to_be_visible()
        spent: list[str] = []

        async def record_refresh(route) -> None:  # noqa: ANN001
            spent.append(json.loads(route.request.post_data or "{}").get("refresh_token", ""))
            await route.continue_()
        await page.context.route(lambda url: url.endswith("/auth/refresh"), record_refresh)
        # both tabs' access token stops working (as at its expiry: the API answers 401)
        async with httpx.AsyncClient(base_url=web_server) as client:
            assert (await client.post("/auth/logout", headers={
                "Authorization": f"Bearer {me.tokens['access_token']}"})).status_code == 204
        # the first tab needs the API first: it refreshes
        await page.reload()
        await expect(page.get_by_role("heading", name="Flows")).to_be_visible()
        await page.wait_for_function("spent => JSON.parse(localStorage.getItem('pytake.tokens')).refresh_token !== spent",
                                     arg=me.tokens["refresh_token"])
        assert spent == [me.tokens["refresh_token"]]
        refreshed = await stored_tokens(page)
        # then the other tab, without a reload: it calls the API with the pair the first stored
        await other.get_by_role("link", name="Templates").click()
        await expect(other.get_by_role("heading", name="Message templates")).to_be_visible()
        await expect(other.get_by_text("No templates yet.")).to_be_visible()
        await other.get_by_role("link", name="Flows").click()
        await expect(other.get_by_role("heading", name="Flows")).to_be_visible()
        assert spent == [me.tokens["refresh_token"]]  # the spent token was not spent again
        assert await stored_tokens(other) == refreshed
        await the_pair_works(web_server, refreshed)


async def test_two_tabs_refreshing_at_once_both_stay_signed_in(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        other = await page.context.new_page()
        await page.evaluate("t => localStorage.setItem('pytake.tokens', t)",
                            json.dumps({"access_token": "expired", "refresh_token": me.tokens["refresh_token"]}))
        # both tabs load with an access token the API refuses, and each spends the refresh token:
        # neither refresh goes on until both are sent
        held: list[str] = []
        both = asyncio.Event()
        answered: list[tuple[int, dict]] = []
        both_answered = asyncio.Event()

        async def hold_refresh(route) -> None:  # noqa: ANN001
            held.append(json.loads(route.request.post_data or "{}").get("refresh_token", ""))
            if len(held) == 2:
                both.set()
            await both.wait()
            response = await route.fetch()
            answered.append((response.status, await response.json()))
            await route.fulfill(response=response)
            if len(answered) == 2:
                both_answered.set()
        await page.context.route(lambda url: url.endswith("/auth/refresh"), hold_refresh)
        await asyncio.gather(page.goto(web_server + "/app/flows"), other.goto(web_server + "/app/flows"))
        await both_answered.wait()
        assert held == [me.tokens["refresh_token"]] * 2
        assert [status for status, _ in answered] == [200, 200], answered
        pairs = [pair for _, pair in answered]
        # the tabs share the pair stored first; the other, which no tab holds, is ended by its tab
        await page.wait_for_function(
            "pairs => pairs.includes(JSON.parse(localStorage.getItem('pytake.tokens')).refresh_token)",
            arg=[pair["refresh_token"] for pair in pairs])
        stored = await stored_tokens(page)
        [orphan] = [pair for pair in pairs if pair["refresh_token"] != stored["refresh_token"]]
        async with httpx.AsyncClient(base_url=web_server) as client:
            async def ended() -> bool:
                return (await client.get("/auth/me", headers={
                    "Authorization": f"Bearer {orphan['access_token']}"})).status_code == 401
            await until(ended, "the tab ended the pair nobody holds")
        for tab in (page, other):
            await expect(tab.get_by_role("heading", name="Flows")).to_be_visible()
            await expect(tab.get_by_role("button", name="Log out")).to_be_visible()
        await the_pair_works(web_server, stored)
        # and a tab still reaches the API
        await page.get_by_role("link", name="Templates").click()
        await expect(page.get_by_text("No templates yet.")).to_be_visible()
        assert await stored_tokens(other) == await stored_tokens(page)


async def test_signing_out_with_an_expired_access_token_ends_the_pair_it_refreshed(web_server, browser_page: Page):
    """Log out needs the access token; when it has expired, the tab refreshes first, and the pair it
    got is the one ended (before, the spent token was sent again and the new pair lived on)."""
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        await me.open("/app/flows")
        await expect(page.get_by_role("heading", name="Flows")).to_be_visible()
        async with httpx.AsyncClient(base_url=web_server) as client:  # the access token stops working
            assert (await client.post("/auth/logout", headers={
                "Authorization": f"Bearer {me.tokens['access_token']}"})).status_code == 204
        answered: list[dict] = []

        async def record_refresh(route) -> None:  # noqa: ANN001
            response = await route.fetch()
            answered.append(await response.json())
            await route.fulfill(response=response)
        await page.context.route(lambda url: url.endswith("/auth/refresh"), record_refresh)
        await page.get_by_role("button", name="Log out").click()
        await expect(page).to_have_url(re.compile(r"/app/login$"))
        assert await page.evaluate("localStorage.getItem('pytake.tokens')") is None
        [refreshed] = answered
        async with httpx.AsyncClient(base_url=web_server) as client:
            assert (await client.get("/auth/me", headers={
                "Authorization": f"Bearer {refreshed['access_token']}"})).status_code == 401
            assert (await client.post("/auth/refresh", json={"refresh_token": refreshed["refresh_token"]})).status_code == 401


async def test_a_refresh_the_server_cannot_answer_now_keeps_the_tab_signed_in(web_server, browser_page: Page):
    """A 429 or a 503 on the refresh is not a refused token: the tab stays signed in and a later call
    refreshes (before, any failed refresh signed every tab out)."""
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        await me.open("/app/flows")
        await expect(page.get_by_role("heading", name="Flows")).to_be_visible()
        async with httpx.AsyncClient(base_url=web_server) as client:
            assert (await client.post("/auth/logout", headers={
                "Authorization": f"Bearer {me.tokens['access_token']}"})).status_code == 204
        refused = asyncio.Event()

        async def unavailable_once(route) -> None:  # noqa: ANN001
            if refused.is_set():
                await route.continue_()
                return
            refused.set()
            await route.fulfill(status=503, content_type="application/json",
                                body=json.dumps({"error": {"code": "unavailable", "message": "restarting"}}))
        await page.context.route(lambda url: url.endswith("/auth/refresh"), unavailable_once)
        await page.get_by_role("link", name="Templates").click()
        await refused.wait()
        # still signed in: the next call refreshes
        await page.get_by_role("link", name="Flows").click()
        await page.wait_for_function("spent => JSON.parse(localStorage.getItem('pytake.tokens')).refresh_token !== spent",
                                     arg=me.tokens["refresh_token"])
        await expect(page.get_by_role("heading", name="Flows")).to_be_visible()
        await expect(page.get_by_role("button", name="Log out")).to_be_visible()
        await expect(page).to_have_url(re.compile(r"/app/flows$"))
