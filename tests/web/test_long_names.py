"""A long name (255 characters allowed, here one with no space at all) does not push what is beside it
off the screen: in the flows list every flow keeps its Open / Rename / Export / Delete in view (the
name wraps), and the editor's header keeps the language switch, Log out, Save and Publish (the name is
cut with an ellipsis, whole in its title), on a desktop and on a phone; nothing is wider than the
screen."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from .browser import designer, edge, node
from .conftest import screenshot

LONG = "Atendimento_pos_venda_" * 11  # 242 characters, not one space to wrap at
CANVAS = {"nodes": [node("start", "start", {}, 0, 0), node("hi", "message", {"text": "Olá"}, 300, 0),
                    node("end", "end", {}, 600, 0)],
          "edges": [edge("start", "hi"), edge("hi", "end")]}


async def in_view(page: Page, locator) -> None:  # noqa: ANN001
    """The element is visible and wholly inside the window's width."""
    await expect(locator).to_be_visible()
    box = await locator.bounding_box()
    width = await page.evaluate("() => window.innerWidth")
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (await locator.text_content(), box, width)


async def nothing_wider_than_the_screen(page: Page) -> None:
    assert await page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


async def test_a_long_flow_name_keeps_the_actions_in_view(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        await me.call("PATCH", f"/chatbots/{me.chatbot['id']}", {"name": LONG})
        flow = await me.flow(LONG, CANVAS, publish=True)
        await me.flow("Short", CANVAS)
        for width, height in ((1440, 900), (390, 800)):
            await page.set_viewport_size({"width": width, "height": height})
            await me.open("/app/flows")
            rows = page.locator(".flow-row")
            await expect(rows).to_have_count(2)
            for row in (rows.filter(has_text="Atendimento"), rows.filter(has_text="Short")):
                for name in ("Open", "Rename", "Export", "Delete"):
                    await in_view(page, row.get_by_role("button" if name != "Open" else "link", name=name, exact=True))
            await nothing_wider_than_the_screen(page)
            await screenshot(page, f"long-name-flows-{width}")

            await me.open(f"/app/flows/{flow['id']}")
            await expect(page.get_by_test_id("node-hi")).to_be_visible()
            header = page.locator("header.app-header")
            await in_view(page, header.get_by_role("button", name="Log out"))
            await in_view(page, header.get_by_label("Language"))
            await expect(header.locator(".breadcrumb strong")).to_have_attribute("title", LONG)
            toolbar = page.get_by_role("toolbar")
            for name in ("Save", "Publish"):
                await in_view(page, toolbar.get_by_role("button", name=name, exact=True))
            await nothing_wider_than_the_screen(page)
            await screenshot(page, f"long-name-editor-{width}")
