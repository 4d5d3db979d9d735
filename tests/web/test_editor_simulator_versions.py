"""The editor's side panels in a real browser: chat with the draft in the simulator,
and the versions list (view an old one read-only, roll back with a confirmation)."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page, expect

from .browser import designer, edge, live_version, node
from .conftest import screenshot


def pizza(thanks: str = "A {{vars.size_title}} pizza, noted!") -> dict:
    return {
        "nodes": [
            node("start", "start", {}, 0, 100),
            node("size", "question", {"text": "Which size?", "variable": "size",
                                      "options": [{"id": "s", "title": "Small"}, {"id": "l", "title": "Large"}]}, 280, 60),
            node("thanks", "message", {"text": thanks}, 600, 40),
            node("sorry", "message", {"text": "Pick a size, please."}, 600, 240),
            node("end", "end", {}, 900, 100),
        ],
        "edges": [edge("start", "size"), edge("size", "thanks"), edge("thanks", "end"),
                  edge("size", "sorry", "invalid"), edge("size", "sorry", "timeout"), edge("sorry", "end")],
    }


async def test_the_simulator_chats_with_the_draft(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        flow = await me.flow("Order", pizza())
        await me.open(f"/app/flows/{flow['id']}")
        await expect(page.get_by_test_id("node-size")).to_be_visible()

        # edit the draft before simulating: the simulator runs the canvas as it is on screen
        await page.get_by_test_id("node-thanks").click()
        await page.get_by_role("complementary", name="Properties").get_by_label("Text").fill(
            "One {{vars.size_title}} pizza, noted!")
        await page.get_by_role("tab", name="Simulator").click()
        sim = page.get_by_role("region", name="Simulator")
        chat = sim.get_by_role("list", name="Conversation")
        await expect(chat.get_by_label("Bot").first).to_contain_text("Which size?")
        await expect(page.get_by_test_id("node-size")).to_have_attribute("aria-current", "step")

        # tap a button
        await chat.get_by_role("button", name="Large").click()
        await expect(chat.get_by_label("You")).to_have_text("Large")
        await expect(chat.get_by_label("Bot").last).to_have_text("One Large pizza, noted!")
        await expect(sim.get_by_role("status")).to_have_text("The conversation ended.")
        await expect(sim.get_by_role("table", name="Variables")).to_contain_text('"l"')
        await expect(page.get_by_test_id("node-end")).to_have_attribute("aria-current", "step")
        await expect(sim.get_by_label("Message as the customer")).to_be_disabled()
        await screenshot(page, "sim-01-ended")

        # restart and type: an unknown answer takes `invalid`, a typed title is an answer
        await sim.get_by_role("button", name="Restart").click()
        await expect(chat.get_by_label("You")).to_have_count(0)
        await expect(page.get_by_test_id("node-size")).to_have_attribute("aria-current", "step")
        await sim.get_by_label("Message as the customer").fill("medium")
        await sim.get_by_role("button", name="Send").click()
        await expect(chat.get_by_label("You")).to_have_text("medium")
        await expect(chat.get_by_label("Bot")).to_have_count(2)  # the retry message: still on the question
        await expect(page.get_by_test_id("node-size")).to_have_attribute("aria-current", "step")
        await sim.get_by_label("Message as the customer").fill("small")
        await sim.get_by_role("button", name="Send").click()
        await expect(chat.get_by_label("Bot").last).to_have_text("One Small pizza, noted!")
        await screenshot(page, "sim-02-typed")
        # nothing was saved: the flow's stored draft still has the old text
        saved = await me.call("GET", f"/flows/{flow['id']}")
        assert saved["canvas_data"]["nodes"][2]["data"]["text"] == "A {{vars.size_title}} pizza, noted!"


async def test_versions_view_an_old_one_and_roll_back(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        flow = await me.flow("Order", pizza("First wording"), publish=True)
        await me.call("PUT", f"/flows/{flow['id']}/canvas", {"canvas": pizza("Second wording"), "publish": True})
        await me.call("PUT", f"/flows/{flow['id']}/canvas", {"canvas": pizza("Third wording (draft)")})
        await me.open(f"/app/flows/{flow['id']}")
        await expect(page.get_by_test_id("node-thanks")).to_contain_text("Third wording (draft)")

        await page.get_by_role("tab", name="Versions").click()
        versions = page.get_by_role("region", name="Versions")
        v1, v2, v3 = (versions.get_by_role("listitem", name=f"Version {n}") for n in (1, 2, 3))
        await expect(v2.get_by_text("live")).to_be_visible()
        await expect(v3.get_by_text("live")).to_have_count(0)
        await expect(v1).to_contain_text("Saved by Ana Souza")
        await expect(v1).to_contain_text("Published by Ana Souza")
        await expect(v3).not_to_contain_text("Published by")
        await expect(v3.get_by_role("button", name="Publish this version")).to_be_visible()  # a newer draft

        # view version 1 read-only, then back to the draft
        await v1.get_by_role("button", name="View").click()
        await expect(page.get_by_role("status", name="Read-only version")).to_have_text(
            re.compile("Viewing version 1, read-only."))
        await expect(page.get_by_test_id("node-thanks")).to_contain_text("First wording")
        await screenshot(page, "versions-01-viewing")
        await expect(page.get_by_role("button", name="Undo")).to_be_disabled()
        await page.get_by_role("button", name="Back to the draft").click()
        await expect(page.get_by_test_id("node-thanks")).to_contain_text("Third wording (draft)")

        # roll back to version 1: a confirmation first; Cancel changes nothing
        await v1.get_by_role("button", name="Roll back to this").click()
        dialog = v1.get_by_role("alertdialog", name="Confirm rollback")
        await expect(dialog).to_contain_text("Make version 1 live?")
        await dialog.get_by_role("button", name="Cancel").click()
        assert await live_version(page, flow["id"]) == 2
        await v1.get_by_role("button", name="Roll back to this").click()
        await screenshot(page, "versions-02-confirm")
        await v1.get_by_role("alertdialog").get_by_role("button", name="Publish it").click()
        await expect(v1.get_by_text("live")).to_be_visible()
        await expect(v2.get_by_text("live")).to_have_count(0)
        assert await live_version(page, flow["id"]) == 1
        await expect(page.get_by_role("toolbar").get_by_role("status")).to_have_text("Version 1 is live.")
        await screenshot(page, "versions-03-rolled-back")
