"""A viewer reads the inbox, read-only (docs/permissions.md: `conversations:read` and `messages:read`,
no write): their department's waiting conversation opens with its messages, the contact's details and
the bot activity, but there is no composer (a note says their role cannot reply), no availability
and no Assign to me / Transfer / Return to bot / Close, which the API would refuse with a 403. An agent
opening the same conversation still has the composer and every action."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, async_playwright, expect

from api.sandbox import webhooks

from .conftest import CHROMIUM_ARGS, MetaStandIn, chromium_path, screenshot
from .test_inbox_page import JOAO, PASSWORD, PNID, count, in_list, seed, signed_in, until

QUESTION = "Vocês entregam no centro?"
WRITE_BUTTONS = ("Send", "Template", "Buttons / list", "Attach a file", "Assign to me", "Transfer", "Return to bot",
                 "Close")


async def open_joao(page: Page) -> None:
    """Open João's conversation from the queue and wait for his message."""
    await expect(page.get_by_role("status")).to_have_text("Live")
    await expect(count(page, "queue")).to_have_text("1")
    await in_list(page, "queue").filter(has_text="João Pereira").click()
    await expect(page.get_by_role("heading", name="João Pereira")).to_be_visible()
    await expect(page.locator(".bubble.in").filter(has_text=QUESTION)).to_be_visible()


async def test_a_viewer_reads_conversations_without_write_controls(web_with_meta):
    base, meta = web_with_meta
    meta: MetaStandIn
    meta.gate.set()
    errors: list[str] = []
    async with asyncio.timeout(240), async_playwright() as p:
        seeded = await seed(base, template=False)
        admin = seeded["admin"]
        vera = await admin.call("POST", "/users", {"email": "vera@pizza.example", "password": PASSWORD,
                                                   "full_name": "Vera Dias", "role": "viewer"})
        sales = (await admin.call("GET", "/departments"))["items"][0]
        await admin.call("POST", f"/departments/{sales['id']}/agents", {"user_id": vera["id"]})
        # João, waiting in Vendas' queue, writes
        joao = seeded["conversations"][JOAO]
        assert await meta.app.post_webhook(webhooks.inbound_message(
            PNID, JOAO, webhooks.text_message(QUESTION), profile_name="João"), PNID)

        async def stored() -> bool:
            page = await admin.call("GET", f"/conversations/{joao['id']}/messages")
            return any((m.get("content") or {}).get("text") == QUESTION for m in page["items"])
        await until(stored, "João's message was stored")

        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            viewer = await signed_in(browser, base, "vera@pizza.example", errors)
            await expect(viewer.locator("header.app-header")).to_have_attribute("data-role", "viewer")
            await open_joao(viewer)
            thread = viewer.get_by_role("region", name="Conversation")
            await expect(thread.get_by_role("note")).to_have_text("View only: your role cannot reply.")
            await expect(viewer.get_by_label("Message", exact=True)).to_have_count(0)
            for name in WRITE_BUTTONS:
                await expect(viewer.get_by_role("button", name=name, exact=True)).to_have_count(0)
            await expect(viewer.get_by_label("Availability")).to_have_count(0)
            await expect(viewer.get_by_role("heading", name="Actions")).to_have_count(0)
            # what a viewer may read is all there: the contact, its tags, the bot activity
            details = viewer.get_by_role("complementary", name="Contact and actions")
            await expect(details).to_contain_text("+" + JOAO)
            await expect(details.get_by_role("list", name="Tags")).to_contain_text("vip")
            await screenshot(viewer, "inbox-viewer-read-only")
            await details.get_by_role("tab", name="Bot activity").click()
            await expect(details.get_by_role("region", name="Bot activity")).to_be_visible()
            await expect(details.get_by_role("alert")).to_have_count(0)

            # the note in Portuguese too
            leitora = await signed_in(browser, base, "vera@pizza.example", errors, locale="pt-BR")
            await in_list(leitora, "queue").filter(has_text="João Pereira").click()
            await expect(leitora.get_by_role("region", name="Conversa").get_by_role("note")).to_have_text(
                "Somente leitura: seu papel não pode responder.")
            await screenshot(leitora, "inbox-viewer-read-only-pt")

            # an agent opening the same conversation keeps the composer and the actions
            caio = await signed_in(browser, base, "caio@pizza.example", errors)
            await open_joao(caio)
            await expect(caio.get_by_label("Message", exact=True)).to_be_visible()
            for name in ("Send", "Template", "Assign to me", "Transfer", "Close"):
                await expect(caio.get_by_role("button", name=name, exact=True)).to_be_visible()
            await expect(caio.get_by_label("Availability")).to_be_visible()
            await expect(caio.get_by_text("View only")).to_have_count(0)
            await screenshot(caio, "inbox-viewer-agent-keeps-composer")
        finally:
            await browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
