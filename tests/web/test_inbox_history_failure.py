"""Opening a conversation whose history does not arrive (the connection drops on that one request:
the browser aborts it, the API stays real) says so in the thread, with the reason, instead of
"Loading…" for ever, and Try again reads it."""

from __future__ import annotations

import asyncio

from playwright.async_api import async_playwright, expect

from api.sandbox import webhooks

from .conftest import CHROMIUM_ARGS, MetaStandIn, chromium_path, screenshot
from .test_inbox_page import MARIA, PNID, in_list, seed, signed_in, until

QUESTION = "Vocês abrem no domingo?"


async def test_a_history_that_did_not_arrive_is_said_and_read_again(web_with_meta):
    base, meta = web_with_meta
    meta: MetaStandIn
    meta.gate.set()
    errors: list[str] = []
    async with asyncio.timeout(240), async_playwright() as p:
        seeded = await seed(base, template=False)
        maria = seeded["conversations"][MARIA]
        assert await meta.app.post_webhook(webhooks.inbound_message(
            PNID, MARIA, webhooks.text_message(QUESTION), profile_name="Maria"), PNID)

        async def stored() -> bool:
            page = await seeded["admin"].call("GET", f"/conversations/{maria['id']}/messages")
            return any((m.get("content") or {}).get("text") == QUESTION for m in page["items"])
        await until(stored, "Maria's message was stored")

        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            bia = await signed_in(browser, base, "bia@pizza.example", errors)
            await expect(bia.get_by_role("status")).to_have_text("Live")
            dropped: list[str] = []

            async def drop_once(route) -> None:  # noqa: ANN001
                if dropped:
                    await route.continue_()
                else:
                    dropped.append(route.request.url)
                    await route.abort("connectionreset")
            await bia.route(f"**/conversations/{maria['id']}/messages?per_page=100", drop_once)
            await in_list(bia, "mine").filter(has_text="Maria Silva").click()
            thread = bia.get_by_role("region", name="Conversation")
            problem = thread.get_by_role("alert")
            await expect(problem).to_contain_text("The conversation's messages could not be read:")
            await expect(thread.get_by_text("Loading…")).to_have_count(0)
            await screenshot(bia, "inbox-history-failed")
            await problem.get_by_role("button", name="Try again").click()
            await expect(bia.locator(".bubble.in").filter(has_text=QUESTION)).to_be_visible()
            await expect(problem).to_have_count(0)
            assert len(dropped) == 1
        finally:
            await browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
