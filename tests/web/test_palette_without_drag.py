"""Nodes are added from the palette without drag and drop, which a keyboard and a touch screen do not
have: focused with Tab and Enter pressed, a node type lands in the middle of the visible canvas,
selected (its form open); a second one lands below it, not on top of it; a tap adds one too."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from .browser import designer, edge, node, settled_box
from .conftest import screenshot


def overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


async def test_nodes_are_added_with_the_keyboard_or_a_tap(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        flow = await me.flow("Welcome")
        await me.open(f"/app/flows/{flow['id']}")
        palette = page.get_by_role("complementary", name="Nodes")
        start = palette.get_by_role("button", name="Start", exact=True)
        await expect(start).to_be_enabled()  # once the flow is loaded (its canvas would replace a node added before)

        # the keyboard: Tab from Start to Message, Enter
        await start.focus()
        await page.keyboard.press("Tab")
        await expect(palette.get_by_role("button", name="Message", exact=True)).to_be_focused()
        await page.keyboard.press("Enter")
        first = page.get_by_test_id("node-message_1")
        await expect(first).to_be_visible()
        await expect(page.get_by_role("complementary", name="Properties").get_by_role(
            "heading", name="Message")).to_be_visible()
        canvas = await settled_box(page, page.locator(".react-flow__pane"))
        box = await settled_box(page, first)
        assert canvas["x"] < box["x"] < canvas["x"] + canvas["width"] and canvas["y"] < box["y"] < canvas["y"] + canvas["height"]
        assert abs(box["x"] - (canvas["x"] + canvas["width"] / 2)) < 40, (box, canvas)  # about the middle

        await page.keyboard.press("Enter")  # again: a second one, below the first
        second = page.get_by_test_id("node-message_2")
        await expect(second).to_be_visible()
        assert not overlap(await settled_box(page, first), await settled_box(page, second))  # the view may follow it

        # a tap (a click): an End
        await palette.get_by_role("button", name="End", exact=True).click()
        await expect(page.get_by_test_id("node-end_1")).to_be_visible()
        await screenshot(page, "palette-without-drag")

        # the live lint reads the canvas with them (it names the flow's missing start)
        await expect(page.locator(".react-flow__node")).to_have_count(3)
        await expect(page.get_by_role("region", name="Problems")).to_contain_text("start")


async def test_nothing_is_added_before_the_flow_is_loaded(web_server, browser_page: Page):
    """While the flow's canvas is still on its way (the browser holds `GET /flows/<id>` back; the API
    stays real) the palette adds nothing: a node added then would be wiped by the canvas arriving."""
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        flow = await me.flow("Welcome", {"nodes": [node("start", "start", {}), node("end", "end", {}, 300)],
                                         "edges": [edge("start", "end")]})
        asked, gate = asyncio.Event(), asyncio.Event()

        async def hold(route) -> None:  # noqa: ANN001
            asked.set()
            await gate.wait()
            await route.continue_()
        await page.route(lambda url: url.endswith(f"/flows/{flow['id']}") and "/app/" not in url, hold)  # the API's
        await me.open(f"/app/flows/{flow['id']}")
        await asked.wait()
        message = page.get_by_role("complementary", name="Nodes").get_by_role("button", name="Message", exact=True)
        await expect(message).to_be_disabled()
        await message.press("Enter")
        gate.set()
        await expect(page.get_by_test_id("node-start")).to_be_visible()
        await expect(message).to_be_enabled()
        await expect(page.locator(".react-flow__node")).to_have_count(2)
        await message.press("Enter")
        await expect(page.get_by_test_id("node-message_1")).to_be_visible()
        await expect(page.get_by_test_id("node-start")).to_be_visible()


async def test_a_node_added_below_the_visible_canvas_is_brought_into_view(web_server, browser_page: Page):
    """Added one after another, nodes stack down the canvas; one that would land past its visible
    part, or under the minimap, is brought into view: its handles can be reached."""
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        flow = await me.flow("Welcome")
        await me.open(f"/app/flows/{flow['id']}")
        message = page.get_by_role("complementary", name="Nodes").get_by_role("button", name="Message", exact=True)
        await expect(message).to_be_enabled()
        for i in range(1, 7):
            await message.click()
            added = page.get_by_test_id(f"node-message_{i}")
            await expect(added).to_be_visible()
            pane = await settled_box(page, page.locator(".react-flow__pane"))
            box = await settled_box(page, added)
            assert pane["y"] <= box["y"] and box["y"] + box["height"] <= pane["y"] + pane["height"], (i, box, pane)
            minimap = await page.locator(".react-flow__minimap").bounding_box()
            if minimap is not None:
                assert not overlap(box, minimap), (i, box, minimap)
