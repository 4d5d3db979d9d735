"""The flows list in a real browser: rename, delete (after a confirmation), export the
canvas as a JSON file, import one (a file the compiler rejects shows its errors first)."""

from __future__ import annotations

import asyncio
import json
import re

from playwright.async_api import Page, expect

from .browser import accept_next_dialog, designer, edge, node
from .conftest import screenshot

CANVAS = {
    "nodes": [node("start", "start", {}, 0, 0), node("hi", "message", {"text": "Hi there"}, 300, 0),
              node("end", "end", {}, 600, 0)],
    "edges": [edge("start", "hi"), edge("hi", "end")],
}


async def test_rename_delete_export_and_import(web_server, browser_page: Page, tmp_path):
    async with asyncio.timeout(150):
        page = browser_page
        me = await designer(web_server, page)
        await me.flow("Welcome", CANVAS)
        await me.flow("Old promo")
        await me.open("/app/flows")
        rows = page.locator(".flow-row")
        await expect(rows).to_have_count(2)

        # rename
        welcome = rows.filter(has_text="Welcome")
        await welcome.get_by_role("button", name="Rename").click()
        await page.get_by_label("Name", exact=True).fill("Welcome v2")
        await page.get_by_role("button", name="Save").click()
        await expect(rows.filter(has_text="Welcome v2")).to_have_count(1)

        # delete: the browser asks first; dismissing keeps the flow
        promo = rows.filter(has_text="Old promo")
        page.once("dialog", lambda d: asyncio.ensure_future(d.dismiss()))
        await promo.get_by_role("button", name="Delete").click()
        await expect(rows).to_have_count(2)
        asked = accept_next_dialog(page)
        await promo.get_by_role("button", name="Delete").click()
        await expect(rows).to_have_count(1)
        assert asked == ["Delete the flow “Old promo”?"]

        # export: the saved canvas as a file
        async with page.expect_download() as download_info:
            await rows.filter(has_text="Welcome v2").get_by_role("button", name="Export").click()
        download = await download_info.value
        assert download.suggested_filename == "welcome-v2.json"
        exported = json.loads(open(await download.path()).read())
        assert [(n["id"], n["type"]) for n in exported["nodes"]] == [("start", "start"), ("hi", "message"), ("end", "end")]

        # import a file that is not a canvas: refused, nothing created
        junk = tmp_path / "notes.json"
        junk.write_text("these are notes")
        await page.get_by_label("Import canvas").set_input_files(str(junk))
        await expect(page.get_by_role("alert")).to_have_text("Not imported: not a JSON file")
        await expect(rows).to_have_count(1)
        # dismissed from the keyboard (a click on the message was the only way)
        dismiss = page.get_by_role("button", name="Dismiss")
        await dismiss.focus()
        await expect(dismiss).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("alert")).to_have_count(0)

        # import a canvas the compiler rejects: its errors, named by node, and nothing created
        broken = tmp_path / "Broken order.json"
        broken.write_text(json.dumps({"nodes": [node("start", "start", {}), node("ask", "question", {})],
                                      "edges": [edge("start", "ask")]}))
        await page.get_by_label("Import canvas").set_input_files(str(broken))
        problems = page.get_by_role("alert")
        await expect(problems).to_contain_text(re.compile(r"“Broken order” has \d+ error\(s\)"))
        await expect(problems.locator("code").first).to_have_text("ask")
        await screenshot(page, "flows-01-import-invalid")
        await expect(rows).to_have_count(1)
        await page.get_by_role("button", name="Cancel").click()
        await expect(problems).to_have_count(0)

        # import the exported file: a new flow, opened in the editor with that canvas (unsaved)
        again = tmp_path / "Welcome copy.json"
        again.write_text(json.dumps(exported))
        await page.get_by_label("Import canvas").set_input_files(str(again))
        await expect(page).to_have_url(re.compile(r"/app/flows/[0-9a-f-]{36}$"))
        await expect(page.get_by_test_id("node-hi")).to_contain_text("Hi there")
        await expect(page.get_by_text("Unsaved changes")).to_be_visible()
        asked = accept_next_dialog(page)  # leaving the unsaved canvas asks first
        await page.get_by_role("link", name="Flows").click()
        await expect(rows).to_have_count(2)
        assert asked == ["This flow has unsaved changes. Leave and lose them?"]
        await expect(rows.filter(has_text="Welcome copy")).to_have_count(1)
        await expect(rows.filter(has_text="Welcome copy")).to_contain_text("not live yet")  # never saved
        await screenshot(page, "flows-02-list")

        # a canvas with a display title (as the examples have): named by its file, as `pytake lint`
        # and `run` name it, so another flow's jump to "nps_followup" finds it
        titled = tmp_path / "nps_followup.json"
        titled.write_text(json.dumps({**exported, "id": "nps_followup", "name": "Pesquisa NPS — acompanhamento"}))
        await page.get_by_label("Import canvas").set_input_files(str(titled))
        await expect(page).to_have_url(re.compile(r"/app/flows/[0-9a-f-]{36}$"))
        await expect(page.get_by_text("Unsaved changes")).to_be_visible()
        accept_next_dialog(page)
        await page.get_by_role("link", name="Flows").click()
        await expect(rows.filter(has_text="nps_followup")).to_have_count(1)
        await expect(rows.filter(has_text="Pesquisa NPS")).to_have_count(0)


async def test_the_list_says_it_is_loading_not_that_there_are_no_flows(web_server, browser_page: Page):
    """While the chatbot's flows are on their way (held here), the page says so: it said "No flows
    yet." to someone who had flows, until they arrived."""
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        await me.flow("Welcome", {"nodes": [node("start", "start", {}), node("end", "end", {}, 300)],
                                  "edges": [edge("start", "end")]})
        asked, gate = asyncio.Event(), asyncio.Event()

        async def hold(route) -> None:  # noqa: ANN001
            asked.set()
            await gate.wait()
            await route.continue_()
        await page.route(lambda url: "/flows?chatbot_id=" in url, hold)
        await me.open("/app/flows")
        await asked.wait()
        flows = page.locator("section.card").filter(has=page.get_by_role("heading", name="Flows"))
        await expect(flows.get_by_text("Loading…")).to_be_visible()
        await expect(flows.get_by_text("No flows yet.")).to_have_count(0)
        gate.set()
        await expect(page.locator(".flow-row")).to_have_count(1)
