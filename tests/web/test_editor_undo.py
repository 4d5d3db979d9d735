"""Undo/redo in the editor, as a person uses them (Ctrl+Z, Ctrl+Shift+Z and the toolbar
buttons): adding, moving, editing and deleting nodes, and drawing edges."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from .browser import connect, designer, drag_from_palette, edge, node, settled_box
from .conftest import screenshot

CANVAS = {
    "nodes": [node("start", "start", {}, 0, 100), node("hello", "message", {"text": "Hello"}, 300, 100),
              node("end", "end", {}, 620, 100)],
    "edges": [edge("start", "hello")],
}


async def test_undo_and_redo_every_kind_of_edit(web_server, browser_page: Page):
    async with asyncio.timeout(150):
        page = browser_page
        me = await designer(web_server, page)
        flow = await me.flow("Greeting", CANVAS)
        await me.open(f"/app/flows/{flow['id']}")
        hello = page.get_by_test_id("node-hello")
        await expect(hello).to_contain_text("Hello")
        await expect(page.locator(".react-flow__edge")).to_have_count(1)
        nodes, edges = page.locator(".react-flow__node"), page.locator(".react-flow__edge")
        undo, redo = page.get_by_role("button", name="Undo"), page.get_by_role("button", name="Redo")
        await expect(undo).to_be_disabled()

        # add a node; undo and redo it with the keyboard, then undo with the button
        await drag_from_palette(page, "Message", 400, 450)
        await expect(nodes).to_have_count(4)
        await page.keyboard.press("Control+z")
        await expect(nodes).to_have_count(3)
        await page.keyboard.press("Control+Shift+z")
        await expect(nodes).to_have_count(4)
        await undo.click()
        await expect(nodes).to_have_count(3)
        await expect(redo).to_be_enabled()

        # draw an edge; undo removes it, Redo draws it again
        await connect(page, "hello", "next", "end")
        await expect(edges).to_have_count(2)
        await expect(redo).to_be_disabled()  # a new edit drops what could be redone
        await page.keyboard.press("Control+z")
        await expect(edges).to_have_count(1)
        await redo.click()
        await expect(edges).to_have_count(2)

        # move a node with the mouse; undo puts it back
        before = await settled_box(page, hello)
        await page.mouse.move(before["x"] + 40, before["y"] + 12)
        await page.mouse.down()
        await page.mouse.move(before["x"] + 40, before["y"] + 252, steps=10)
        await page.mouse.up()
        moved = await settled_box(page, hello)
        assert moved["y"] > before["y"] + 150
        await page.keyboard.press("Control+z")
        back = await settled_box(page, hello)
        assert abs(back["y"] - before["y"]) < 2 and abs(back["x"] - before["x"]) < 2

        # edit a field in the form; undo restores the text
        await hello.click()
        await page.get_by_role("complementary", name="Properties").get_by_label("Text").fill("Goodbye")
        await expect(hello).to_contain_text("Goodbye")
        await page.locator(".react-flow__pane").click(position={"x": 20, "y": 20})
        await page.keyboard.press("Control+z")
        await expect(hello).to_contain_text("Hello")

        # delete a node (and its edges); undo brings both back
        await hello.click()
        await page.keyboard.press("Delete")
        await expect(hello).to_have_count(0)
        await expect(edges).to_have_count(0)
        await screenshot(page, "undo-01-deleted")
        await page.keyboard.press("Control+z")
        await expect(hello).to_contain_text("Hello")
        await expect(edges).to_have_count(2)
        await page.keyboard.press("Control+Shift+z")
        await expect(hello).to_have_count(0)
