"""The editor's simulator needs `flows:write`, as `POST /flows/<id>/simulate` does (it runs the flow's
api_call and ai_prompt nodes for real). An agent who reads a flow gets no Simulator tab to open only to
be refused with a 403, and the "View only" note says what its role can do; an admin simulates."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from .browser import designer, edge, node
from .conftest import screenshot
from .test_read_only_roles import PASSWORD, sign_in

CANVAS = {"nodes": [node("start", "start", {}, 0, 0), node("hi", "message", {"text": "Olá! Bem-vindo."}, 300, 0),
                    node("end", "end", {}, 600, 0)],
          "edges": [edge("start", "hi"), edge("hi", "end")]}


async def test_only_a_role_that_may_simulate_gets_the_simulator(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        admin = await designer(web_server, page)
        flow = await admin.flow("Welcome", CANVAS)
        await admin.call("POST", "/users", {"email": "bia@pizza.example", "password": PASSWORD,
                                            "full_name": "Bia Lima", "role": "agent"})

        # the admin chats with the draft
        await admin.open(f"/app/flows/{flow['id']}")
        await expect(page.get_by_test_id("node-hi")).to_be_visible()
        await page.get_by_role("tab", name="Simulator").click()
        sim = page.get_by_role("region", name="Simulator")
        await expect(sim.get_by_role("list", name="Conversation")).to_contain_text("Olá! Bem-vindo.")

        # the agent: the canvas, its versions and recent errors, but no simulator to be refused
        await sign_in(page, web_server, "bia@pizza.example")
        await page.goto(f"{web_server}/app/flows/{flow['id']}")
        await expect(page.locator("header.app-header")).to_have_attribute("data-role", "agent")
        note = page.get_by_role("toolbar").get_by_role("note")
        await expect(note).to_have_text("View only")
        await expect(note).to_have_attribute("title", "Your role can look at flows, their versions and recent errors, "
                                                      "not simulate, save or publish them.")
        tabs = page.get_by_role("tab")
        await expect(tabs).to_have_text(["Properties", "Versions", "Recent errors"])
        await page.get_by_role("tab", name="Versions").click()
        await expect(page.get_by_role("region", name="Versions")).to_be_visible()
        await expect(page.get_by_role("alert")).to_have_count(0)
        await screenshot(page, "read-only-editor-no-simulator")
