"""Nodes are connected without dragging an edge, which a keyboard and a touch screen cannot do: the
selected node's "Ways out" choose where each of its handles leads. A choice replaces the edge already
leaving that way, "(not connected)" removes it, Ctrl+Z undoes it, and Save stores what was chosen."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from .browser import designer, edge, node, saved_canvas
from .conftest import screenshot

CANVAS = {
    "nodes": [node("start", "start", {}, 0, 100),
              node("ask", "question", {"label": "Size?", "text": "Which size?", "variable": "size"}, 300, 100),
              node("thanks", "message", {"label": "Thanks", "text": "Thanks!"}, 650, 0),
              node("end", "end", {}, 650, 250)],
    "edges": [edge("start", "ask"), edge("ask", "thanks"), edge("thanks", "end")],
}


def ways_of(canvas: dict, source: str) -> dict:
    return {e.get("sourceHandle") or "next": e["target"] for e in canvas["edges"] if e["source"] == source}


async def test_a_node_is_connected_from_its_properties_with_the_keyboard(web_server, browser_page: Page):
    async with asyncio.timeout(150):
        page = browser_page
        me = await designer(web_server, page)
        flow = await me.flow("Sizes", CANVAS)
        await me.open(f"/app/flows/{flow['id']}")
        edges = page.locator(".react-flow__edge")
        await expect(edges).to_have_count(3)

        # select the question with the keyboard: focus its node, Enter
        await page.get_by_test_id("node-ask").locator("xpath=..").focus()
        await page.keyboard.press("Enter")
        ways = page.get_by_role("group", name="Ways out")
        goes = {h: ways.get_by_label(f"{h} goes to") for h in ("next", "invalid", "timeout")}
        await expect(goes["next"]).to_have_value("thanks")
        await expect(goes["invalid"]).to_have_value("")
        # every node an edge can enter, the start node not among them; this node named as such
        assert await goes["timeout"].locator("option").all_text_contents() == [
            "(not connected)", "Size? (this node)", "Thanks (thanks)", "end"]

        await goes["invalid"].focus()
        await goes["invalid"].select_option("ask")  # a wrong answer asks again
        await goes["timeout"].select_option("end")
        await goes["next"].select_option("end")  # replaces ask -> thanks
        await expect(edges).to_have_count(5)
        await expect(goes["next"]).to_have_value("end")
        await screenshot(page, "ways-out")

        await goes["timeout"].select_option("")  # not connected any more
        await expect(edges).to_have_count(4)
        await page.keyboard.press("Escape")
        await page.get_by_test_id("node-ask").click()
        await page.keyboard.press("Control+z")  # the timeout edge is back
        await expect(edges).to_have_count(5)
        await expect(goes["timeout"]).to_have_value("end")

        await page.keyboard.press("Control+s")
        await expect(page.get_by_role("status")).to_contain_text("saved as version")
        saved = await saved_canvas(page, flow["id"])
        assert ways_of(saved, "ask") == {"next": "end", "invalid": "ask", "timeout": "end"}
        assert ways_of(saved, "thanks") == {"next": "end"}
