"""A role that only reads flows, templates and campaigns (an agent; a viewer likewise,
docs/permissions.md) is not offered what the API would refuse it with a 403: no creating,
renaming, importing or deleting flows, no Save / Publish / rollback in the editor, no template
sync, creation, submission or deletion, no new campaign. It still opens and exports flows, and
an admin still has every control."""

from __future__ import annotations

import asyncio
import json

import httpx
from playwright.async_api import Page, expect

from .browser import API_TIMEOUT, designer, edge, node
from .conftest import screenshot

PASSWORD = "correct horse battery"
CANVAS = {
    "nodes": [node("start", "start", {}, 0, 0), node("hi", "message", {"text": "Hi there"}, 300, 0),
              node("end", "end", {}, 600, 0)],
    "edges": [edge("start", "hi"), edge("hi", "end")],
}


async def sign_in(page: Page, base: str, email: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=API_TIMEOUT) as client:
        r = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
    tokens = {"access_token": r.json()["access_token"], "refresh_token": r.json()["refresh_token"]}
    await page.evaluate("(t) => localStorage.setItem('pytake.tokens', t)", json.dumps(tokens))


async def test_an_agent_is_not_offered_what_its_role_cannot_do(web_server, browser_page: Page):
    async with asyncio.timeout(150):
        page = browser_page
        admin = await designer(web_server, page)
        flow = await admin.flow("Welcome", CANVAS, publish=True)
        await admin.call("PUT", f"/flows/{flow['id']}/canvas", {"canvas": CANVAS | {"name": "v2"}, "publish": True})
        await admin.call("POST", "/templates", {"name": "order_shipped", "language": "pt_BR", "category": "UTILITY",
                                                "body_text": "Your order is on its way"})
        await admin.call("POST", "/users", {"email": "bia@pizza.example", "password": PASSWORD,
                                            "full_name": "Bia Lima", "role": "agent"})

        # the admin has every control (so the agent's page below is missing them because of its role)
        await admin.open("/app/flows")
        await expect(page.get_by_role("button", name="Create flow")).to_be_visible()
        await expect(page.locator(".flow-row").get_by_role("button", name="Delete")).to_have_count(1)

        await sign_in(page, web_server, "bia@pizza.example")
        await page.goto(web_server + "/app/flows")
        await expect(page.locator("header.app-header")).to_have_attribute("data-role", "agent")  # /auth/me answered
        row = page.locator(".flow-row").filter(has_text="Welcome")
        await expect(row.get_by_role("button", name="Export")).to_be_visible()
        await expect(row.get_by_role("link", name="Open")).to_be_visible()
        for name in ("Rename", "Delete"):
            await expect(row.get_by_role("button", name=name)).to_have_count(0)
        for name in ("Create flow", "Create chatbot", "Import canvas"):
            await expect(page.get_by_role("button", name=name)).to_have_count(0)
        await screenshot(page, "read-only-flows")

        # the editor: explore, but nothing to simulate, save, publish or roll back
        await row.get_by_role("link", name="Open").click()
        await expect(page.get_by_test_id("node-hi")).to_be_visible()
        await expect(page.get_by_role("note").filter(has_text="View only")).to_be_visible()
        for name in ("Save", "Publish"):
            await expect(page.get_by_role("toolbar").get_by_role("button", name=name, exact=True)).to_have_count(0)
        await page.get_by_role("tab", name="Versions").click()
        versions = page.get_by_role("region", name="Versions")
        await expect(versions.get_by_role("button", name="View").first).to_be_visible()
        await expect(versions.get_by_role("button", name="Roll back")).to_have_count(0)
        await screenshot(page, "read-only-editor")

        await page.goto(web_server + "/app/templates")
        await expect(page.locator(".template-row")).to_have_count(1)
        for name in ("Sync with Meta", "Submit", "Delete"):
            await expect(page.get_by_role("button", name=name)).to_have_count(0)
        await expect(page.get_by_role("link", name="New template")).to_have_count(0)

        await page.goto(web_server + "/app/campaigns")
        await expect(page.get_by_text("No campaigns yet.")).to_be_visible()
        await expect(page.get_by_role("link", name="New campaign")).to_have_count(0)
