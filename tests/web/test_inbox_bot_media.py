"""A bot's picture sent by URL, in the agents' inbox. The flow's message node sends a `media_url`
(WhatsApp fetches it; PyTake keeps no copy, so there is no stored file to show): the inbox shows the
picture from that address, with its caption. An address that is not http(s) (a `javascript:` one, say,
rendered from a variable) is never sent, so it never reaches the page: the flow reports it and goes on."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, Route, expect

from api.sandbox import webhooks

from .browser import Designer, admin_with_number, edge, node
from .conftest import MetaStandIn, screenshot
from .test_inbox_composer import png
from .test_inbox_page import MARIA, PASSWORD, PNID, in_list, signed_in, until

MENU_URL = "https://cdn.pizza.example/cardapio.png"
MENU = png(160, 100, (230, 120, 40))
FLOW = {"nodes": [
    node("start", "start", {}),
    node("menu", "message", {"media_url": MENU_URL, "media_type": "image", "text": "Nosso cardápio da semana"}, 300),
    node("link", "action", {"action": "set_variable",
                            "params": {"variable": "promo", "value": "javascript:alert(document.domain)"}}, 450),
    node("promo", "message", {"media_url": "{{vars.promo}}", "media_type": "image",
                              "text": "Veja a promoção"}, 600),
    node("human", "handoff", {"department": "Vendas", "reason": "Pedido"}, 900)],
    "edges": [edge("start", "menu"), edge("menu", "link"), edge("link", "promo"), edge("promo", "human")]}


async def seed(base: str) -> Designer:
    """Ana (admin) with a number, a Vendas department with the agent Bia, and a chatbot whose flow
    sends the menu's picture by URL, then hands the customer to Vendas."""
    admin, _ = await admin_with_number(base, PNID, PASSWORD)
    sales = await admin.call("POST", "/departments", {"name": "Vendas", "auto_assign_enabled": False})
    bia = await admin.call("POST", "/users", {"email": "bia@pizza.example", "password": PASSWORD,
                                              "full_name": "Bia Lima", "role": "agent"})
    await admin.call("POST", f"/departments/{sales['id']}/agents", {"user_id": bia["id"]})
    admin.chatbot = await admin.call("POST", "/chatbots", {"name": "Cardápio"})
    await admin.flow("Menu", FLOW, publish=True)
    return admin


async def menu_asked(base: str, meta: MetaStandIn) -> None:
    """The seed, and Maria asking for the menu: the flow sends its picture, then hands her to Vendas."""
    await seed(base)
    assert await meta.app.post_webhook(webhooks.inbound_message(
        PNID, MARIA, webhooks.text_message("Oi, qual o cardápio?"), profile_name="Maria"), PNID)


async def test_a_bot_picture_sent_by_url_shows_in_the_inbox_with_its_caption(web_with_meta_and_worker,
                                                                           browser_page: Page):
    base, meta = web_with_meta_and_worker
    meta: MetaStandIn
    meta.gate.set()
    errors: list[str] = []
    async with asyncio.timeout(240):
        await menu_asked(base, meta)

        def images_at_meta() -> list[dict]:
            return [m["payload"]["image"] for m in meta.state.accepted
                    if m["to"] == MARIA and m["payload"].get("type") == "image"]

        async def menu_at_meta() -> bool:
            return bool(images_at_meta())
        await until(menu_at_meta, "the sandbox received the menu's picture")
        assert images_at_meta() == [{"link": MENU_URL, "caption": "Nosso cardápio da semana"}]  # by URL, no media id

        bia = await signed_in(browser_page.context.browser, base, "bia@pizza.example", errors)
        fetched: list[str] = []

        async def cdn(route: Route) -> None:  # the picture's host, as the browser reaches it
            fetched.append(route.request.url)
            await route.fulfill(status=200, content_type="image/png", body=MENU)
        await bia.route("https://cdn.pizza.example/**", cdn)
        await expect(bia.get_by_role("status")).to_have_text("Live")
        await in_list(bia, "queue").filter(has_text="Maria").click()
        await expect(bia.get_by_role("heading", name="Maria")).to_be_visible()

        menu = bia.locator(".bubble.out").filter(has_text="Nosso cardápio da semana")
        await expect(menu.locator(".sender")).to_have_text("Bot")
        picture = menu.get_by_role("img", name="Image")
        await expect(picture).to_be_visible()
        await expect(picture).to_have_attribute("src", MENU_URL)
        await expect(picture).to_have_js_property("naturalWidth", 160)  # the picture itself, loaded
        assert fetched == [MENU_URL]

        # not http(s): never sent (Meta would refuse it), so nothing in the page points at the address
        await expect(bia.locator(".bubble.out").filter(has_text="Veja a promoção")).to_have_count(0)
        assert "javascript:" not in await bia.locator(".inbox-thread").inner_html()
        assert not [m for m in meta.state.accepted if "javascript:" in str(m["payload"])]
        await menu.scroll_into_view_if_needed()
        await screenshot(bia, "inbox-bot-picture-by-url")
    assert not errors, errors


async def test_a_bot_picture_its_host_does_not_serve_is_said_so_with_its_link(web_with_meta_and_worker,
                                                                           browser_page: Page):
    """The picture's host answers 404 (the file is gone, or, as in the demo's example flow, the host
    is made up): the bubble says the image did not load from that host and links the address, where
    it showed a broken picture."""
    base, meta = web_with_meta_and_worker
    meta: MetaStandIn
    meta.gate.set()
    errors: list[str] = []
    async with asyncio.timeout(240):
        await menu_asked(base, meta)
        bia = await signed_in(browser_page.context.browser, base, "bia@pizza.example", errors)
        asked: list[str] = []

        async def gone(route: Route) -> None:
            asked.append(route.request.url)
            await route.fulfill(status=404, content_type="text/plain", body="not found")
        await bia.route("https://cdn.pizza.example/**", gone)
        await in_list(bia, "queue").filter(has_text="Maria").click()
        menu = bia.locator(".bubble.out").filter(has_text="Nosso cardápio da semana")
        note = menu.get_by_role("note")
        await expect(note).to_have_text("Image not loaded from cdn.pizza.example. Open the link")
        await expect(note.get_by_role("link", name="Open the link")).to_have_attribute("href", MENU_URL)
        await expect(menu.get_by_role("img")).to_have_count(0)
        assert asked == [MENU_URL]
        await menu.scroll_into_view_if_needed()
        await screenshot(bia, "inbox-bot-picture-not-loaded")
    assert not errors, errors
