"""Unsaved work in the editor is not lost by leaving it inside the app: a link (the Flows
breadcrumb) or the browser's Back asks first; staying keeps the canvas as it was, leaving goes.
Once saved, nothing is asked."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from .browser import designer, edge, node

CANVAS = {"nodes": [node("start", "start", {}, 0, 100), node("end", "end", {}, 300, 100)],
          "edges": [edge("start", "end")]}
QUESTION = "This flow has unsaved changes. Leave and lose them?"


class Asked(list):
    """The messages of the dialogs answered; ``done`` is set once one was."""

    def __init__(self) -> None:
        super().__init__()
        self.done = asyncio.Event()


def answer_next_dialog(page: Page, accept: bool) -> Asked:
    asked = Asked()

    async def answer(dialog) -> None:  # noqa: ANN001
        asked.append(dialog.message)
        await (dialog.accept() if accept else dialog.dismiss())
        asked.done.set()
    page.once("dialog", answer)
    return asked


async def test_leaving_unsaved_work_asks_first(web_server, browser_page: Page):
    async with asyncio.timeout(150):
        page = browser_page
        me = await designer(web_server, page)
        flow = await me.flow("Welcome", CANVAS)
        await me.open("/app/flows")
        await page.get_by_role("link", name="Welcome").click()  # in the app, so Back stays in it too
        palette = page.get_by_role("complementary", name="Nodes")
        await expect(palette.get_by_role("button", name="Message", exact=True)).to_be_enabled()
        await palette.get_by_role("button", name="Message", exact=True).click()
        await expect(page.get_by_text("Unsaved changes")).to_be_visible()
        back_to_flows = page.get_by_role("link", name="Flows").first

        asked = answer_next_dialog(page, accept=False)
        await back_to_flows.click()
        await asked.done.wait()
        assert asked == [QUESTION]
        assert page.url.endswith(f"/app/flows/{flow['id']}")
        await expect(page.get_by_test_id("node-message_1")).to_be_visible()

        asked = answer_next_dialog(page, accept=False)
        await page.go_back()
        await asked.done.wait()
        assert asked == [QUESTION]
        await expect(page.get_by_test_id("node-message_1")).to_be_visible()
        assert page.url.endswith(f"/app/flows/{flow['id']}")

        asked = answer_next_dialog(page, accept=True)
        await back_to_flows.click()
        await expect(page.get_by_role("heading", name="Flows")).to_be_visible()
        assert asked == [QUESTION] and page.url.endswith("/app/flows")

        # saved work: no question
        await page.get_by_role("link", name="Welcome").click()
        await palette.get_by_role("button", name="End", exact=True).click()
        await page.keyboard.press("Control+s")
        await expect(page.get_by_role("status")).to_contain_text("saved as version")
        asked = answer_next_dialog(page, accept=False)
        await back_to_flows.click()
        await expect(page.get_by_role("heading", name="Flows")).to_be_visible()
        assert asked == []
