"""The app on a phone (390 × 844): the page never scrolls sideways, so the header's sections and
Log out stay reachable (a wide table scrolls inside its card), and the inbox shows one column at a time: the lists, then the opened
conversation (its history and a composer wide enough to type in) with a way back to the lists; the
editor stacks its palette, canvas and side panel, its toolbar (Save, Publish) wrapping."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from .browser import Designer, designer, edge, node
from .conftest import screenshot

PHONE = {"width": 390, "height": 844}


async def fits_the_screen(page: Page) -> None:
    """Nothing wider than the screen: no sideways scrolling."""
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide on a {widths[1]} px screen"


async def inside_the_screen(page: Page, locator) -> None:  # noqa: ANN001
    await expect(locator).to_be_visible()
    box = await locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (locator, box)


async def a_waiting_conversation(admin: Designer) -> dict:
    number = await admin.call("POST", "/whatsapp-numbers", {
        "phone_number": "+5511900001111", "phone_number_id": "109876543210", "display_name": "Pizza Napoli"})
    contact = await admin.call("POST", "/contacts", {"whatsapp_id": "5511987654321", "name": "Maria Silva"})
    conversation = await admin.call("POST", "/conversations", {"contact_id": contact["id"],
                                                               "whatsapp_number_id": number["id"]})
    sales = await admin.call("POST", "/departments", {"name": "Vendas", "auto_assign_enabled": False})
    await admin.call("POST", f"/conversations/{conversation['id']}/transfer", {"department_id": sales["id"]})
    return conversation


async def test_on_a_phone_the_header_and_the_inbox_fit(web_server, browser_page: Page):
    async with asyncio.timeout(150):
        page = browser_page
        await page.set_viewport_size(PHONE)
        admin = await designer(web_server, page)
        await a_waiting_conversation(admin)

        await admin.open("/app/flows")
        await expect(page.locator(".flow-row")).to_have_count(0)
        await inside_the_screen(page, page.get_by_role("button", name="Log out"))
        await inside_the_screen(page, page.get_by_role("link", name="Campaigns"))
        await fits_the_screen(page)
        name = await page.get_by_label("Chatbot name").bounding_box()
        assert name["width"] >= 150, name  # a field one can type in (it was 25 px beside the chatbot select)
        await screenshot(page, "phone-flows")

        await admin.call("POST", "/templates", {"name": "order_shipped", "language": "pt_BR", "category": "UTILITY",
                                                "body_text": "Your order is on its way"})
        await page.get_by_role("link", name="Templates").click()
        await inside_the_screen(page, page.get_by_role("link", name="New template"))
        await expect(page.locator(".template-row")).to_have_count(1)
        await fits_the_screen(page)
        heading = page.locator(".card-head h1").first
        assert (await heading.bounding_box())["height"] < 40, "the heading broke inside a word"
        await screenshot(page, "phone-templates")

        await page.get_by_role("link", name="Inbox").click()
        row = page.locator(".conversation-row").filter(has_text="Maria Silva")
        await inside_the_screen(page, row)
        await fits_the_screen(page)
        await screenshot(page, "phone-inbox-lists")

        await row.click()
        thread = page.get_by_role("region", name="Conversation")
        await inside_the_screen(page, thread.get_by_role("heading", name="Maria Silva"))
        composer = thread.get_by_role("textbox")
        await inside_the_screen(page, composer)
        assert (await composer.bounding_box())["width"] >= 200
        await expect(row).not_to_be_visible()  # one column at a time
        await fits_the_screen(page)
        await screenshot(page, "phone-inbox-thread")

        await thread.get_by_role("button", name="Back to conversations").click()
        await inside_the_screen(page, row)
        await expect(thread).to_have_count(0)


async def test_on_a_phone_the_editor_shows_its_canvas_and_save(web_server, browser_page: Page):
    async with asyncio.timeout(150):
        page = browser_page
        await page.set_viewport_size(PHONE)
        admin = await designer(web_server, page)
        flow = await admin.flow("Welcome", {
            "nodes": [node("start", "start", {}, 0, 0), node("end", "end", {}, 0, 150)], "edges": [edge("start", "end")]})
        await admin.open(f"/app/flows/{flow['id']}")
        await inside_the_screen(page, page.get_by_test_id("node-start"))
        # the breadcrumb whole: the way back to the flows and the flow's name
        crumbs = page.locator(".breadcrumb")
        for part in (crumbs.get_by_role("link", name="Flows"), crumbs.get_by_text("Welcome", exact=True)):
            await inside_the_screen(page, part)
            box = await part.bounding_box()
            assert box["width"] >= 30, box  # not squeezed to its first letters
        canvas = await page.locator(".react-flow__pane").bounding_box()
        assert canvas["width"] >= 300 and canvas["height"] >= 300, canvas
        await inside_the_screen(page, page.get_by_role("button", name="Save", exact=True))
        await inside_the_screen(page, page.get_by_role("button", name="Publish", exact=True))
        await fits_the_screen(page)
        await screenshot(page, "phone-editor")
