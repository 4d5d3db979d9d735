"""The editor's toolbar lists its keyboard shortcuts. A designer's list has Ctrl+S to save; in view
only (an agent or a viewer, whose role may not save flows: docs/permissions.md) nothing can be
saved, so the list leaves saving out and keeps what still works there (undo, copy, ...)."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from .browser import designer
from .conftest import screenshot
from .test_read_only_roles import CANVAS, PASSWORD, sign_in

DESIGNER_HINT = "Ctrl+Z undo · Ctrl+Y redo · Ctrl+C/V copy/paste · Delete · Ctrl+S save"
VIEW_ONLY_HINT = "Ctrl+Z undo · Ctrl+Y redo · Ctrl+C/V copy/paste · Delete"


async def test_the_view_only_editor_does_not_offer_ctrl_s_to_save(web_server, browser_page: Page):
    async with asyncio.timeout(150):
        page = browser_page
        admin = await designer(web_server, page)
        flow = await admin.flow("Welcome", CANVAS, publish=True)
        await admin.call("POST", "/users", {"email": "bia@pizza.example", "password": PASSWORD,
                                            "full_name": "Bia Lima", "role": "agent"})
        hint = page.get_by_role("toolbar").get_by_text("Ctrl+Z undo")

        await admin.open(f"/app/flows/{flow['id']}")
        await expect(page.get_by_role("toolbar").get_by_role("button", name="Save", exact=True)).to_be_visible()
        await expect(hint).to_have_text(DESIGNER_HINT)

        await sign_in(page, web_server, "bia@pizza.example")
        await page.goto(web_server + f"/app/flows/{flow['id']}")
        await expect(page.get_by_test_id("node-hi")).to_be_visible()
        await expect(page.get_by_role("note").filter(has_text="View only")).to_be_visible()
        await expect(hint).to_have_text(VIEW_ONLY_HINT)
        await screenshot(page, "read-only-editor-shortcuts")
