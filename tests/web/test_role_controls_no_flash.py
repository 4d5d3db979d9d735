"""Controls that need a role never show before the role is known. The browser holds back the
answer of `GET /auth/me` (the API itself stays real: the request goes through once the test lets it)
while the person opens the inbox: a viewer never has the composer, availability or Assign to me /
Transfer / Close in the page, not even for a moment before they go, and gets the view-only note once
the role is known; an agent never sees that note flash, and gets the composer and actions once the
role is known. The same holds for the editor's Save / Publish and its "View only" pill.

A MutationObserver installed before the app's own script records every control and note ever
added to the page, so "never" is checked over the page's whole life, not at one instant."""

from __future__ import annotations

import asyncio
import json

import httpx
from playwright.async_api import Page, async_playwright, expect

from .browser import API_TIMEOUT, designer, edge, node
from .conftest import CHROMIUM_ARGS, MetaStandIn, chromium_path, screenshot
from .test_inbox_page import JOAO, PASSWORD, count, in_list, seed

INBOX_CONTROLS = ("Send", "Template", "Buttons / list", "Attach a file", "Assign to me", "Transfer",
                  "Return to bot", "Close", "Save", "Publish")

# Runs before the app's script in every page of the context: whatever the app ever adds to the page
# that is a role's control (a button above, the composer, availability, the Actions heading) or a note
# ("View only") is pushed to window.__added, even when a later render takes it away again.
RECORDER = """(controls) => {
  window.__added = [];
  const seen = (el) => {
    const text = (el.textContent || '').trim();
    if (el.tagName === 'BUTTON' && controls.includes(text)) return 'button: ' + text;
    if (el.matches('textarea[aria-label="Message"], select[aria-label="Availability"]'))
      return 'control: ' + el.getAttribute('aria-label');
    if (el.tagName === 'H2' && text === 'Actions') return 'heading: Actions';
    if (el.getAttribute('role') === 'note' && text.startsWith('View only')) return 'note: ' + text;
    return null;
  };
  new MutationObserver((records) => {
    for (const record of records) for (const added of record.addedNodes) {
      if (!(added instanceof Element)) continue;
      for (const el of [added, ...added.querySelectorAll('*')]) {
        const what = seen(el);
        if (what) window.__added.push(what);
      }
    }
  }).observe(document, {childList: true, subtree: true});
}"""


class HeldMe:
    """`GET /auth/me` of one page held in the browser until `release()`; then sent on, unchanged."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.gate = asyncio.Event()

    async def handle(self, route) -> None:  # noqa: ANN001
        self.asked.set()
        await self.gate.wait()
        await route.continue_()

    def release(self) -> None:
        self.gate.set()


async def page_with_slow_me(browser, base: str, email: str, errors: list[str]) -> tuple[Page, HeldMe]:
    """`email` signed in (tokens in localStorage), the recorder installed and /auth/me held."""
    async with httpx.AsyncClient(base_url=base, timeout=API_TIMEOUT) as client:
        r = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
    tokens = {"access_token": r.json()["access_token"], "refresh_token": r.json()["refresh_token"]}
    context = await browser.new_context(locale="en-US", viewport={"width": 1440, "height": 900})
    await context.add_init_script(f"({RECORDER})({json.dumps(INBOX_CONTROLS)})")
    await context.add_init_script(f"localStorage.setItem('pytake.tokens', {json.dumps(json.dumps(tokens))})")
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"{email}: {exc}"))
    held = HeldMe()
    await page.route("**/auth/me", held.handle)
    return page, held


async def added(page: Page) -> list[str]:
    return await page.evaluate("() => window.__added")


async def open_joao_before_the_role_is_known(page: Page, held: HeldMe, base: str) -> None:
    await page.goto(base + "/app/inbox")
    await expect(page.get_by_role("status")).to_have_text("Live")
    await expect(count(page, "queue")).to_have_text("1")
    await in_list(page, "queue").filter(has_text="João Pereira").click()
    await expect(page.get_by_role("heading", name="João Pereira")).to_be_visible()
    await held.asked.wait()  # the page did ask who this is, and has no answer yet
    await expect(page.locator("header.app-header")).not_to_have_attribute("data-role", "viewer")
    await expect(page.locator("header.app-header")).not_to_have_attribute("data-role", "agent")


async def test_a_viewer_never_sees_the_inbox_controls_while_its_role_loads(web_with_meta):
    base, meta = web_with_meta
    meta: MetaStandIn
    meta.gate.set()
    errors: list[str] = []
    async with asyncio.timeout(240), async_playwright() as p:
        seeded = await seed(base, template=False)
        admin = seeded["admin"]
        vera = await admin.call("POST", "/users", {"email": "vera@pizza.example", "password": PASSWORD,
                                                   "full_name": "Vera Dias", "role": "viewer"})
        sales = (await admin.call("GET", "/departments"))["items"][0]
        await admin.call("POST", f"/departments/{sales['id']}/agents", {"user_id": vera["id"]})
        assert seeded["conversations"][JOAO]

        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            viewer, held = await page_with_slow_me(browser, base, "vera@pizza.example", errors)
            await open_joao_before_the_role_is_known(viewer, held, base)
            # the role is not known yet: no control and no note either
            for name in INBOX_CONTROLS:
                await expect(viewer.get_by_role("button", name=name, exact=True)).to_have_count(0)
            await expect(viewer.get_by_label("Message", exact=True)).to_have_count(0)
            await expect(viewer.get_by_label("Availability")).to_have_count(0)
            await screenshot(viewer, "inbox-viewer-role-loading")

            held.release()
            await expect(viewer.locator("header.app-header")).to_have_attribute("data-role", "viewer")
            thread = viewer.get_by_role("region", name="Conversation")
            await expect(thread.get_by_role("note")).to_have_text("View only: your role cannot reply.")
            await screenshot(viewer, "inbox-viewer-role-known")
            assert await added(viewer) == ["note: View only: your role cannot reply."]

            # an agent: no "View only" while loading, then the composer and the actions
            caio, held = await page_with_slow_me(browser, base, "caio@pizza.example", errors)
            await open_joao_before_the_role_is_known(caio, held, base)
            await expect(caio.get_by_text("View only")).to_have_count(0)
            held.release()
            await expect(caio.get_by_label("Message", exact=True)).to_be_visible()
            for name in ("Send", "Template", "Assign to me", "Transfer", "Close"):
                await expect(caio.get_by_role("button", name=name, exact=True)).to_be_visible()
            await expect(caio.get_by_label("Availability")).to_be_visible()
            assert not [what for what in await added(caio) if what.startswith("note:")], await added(caio)
        finally:
            await browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


CANVAS = {"nodes": [node("start", "start", {}, 0, 0), node("hi", "message", {"text": "Hi there"}, 300, 0),
                    node("end", "end", {}, 600, 0)],
          "edges": [edge("start", "hi"), edge("hi", "end")]}


async def test_the_editor_offers_save_only_once_the_role_is_known(web_server, browser_page: Page):
    errors: list[str] = []
    async with asyncio.timeout(150):
        admin = await designer(web_server, browser_page)
        flow = await admin.flow("Welcome", CANVAS)
        await admin.call("POST", "/users", {"email": "bia@pizza.example", "password": PASSWORD,
                                            "full_name": "Bia Lima", "role": "agent"})
        await admin.call("POST", "/users", {"email": "ana2@pizza.example", "password": PASSWORD,
                                            "full_name": "Ana Admin", "role": "org_admin"})
        browser = browser_page.context.browser
        for email, role in (("bia@pizza.example", "agent"), ("ana2@pizza.example", "org_admin")):
            page, held = await page_with_slow_me(browser, web_server, email, errors)
            await page.goto(f"{web_server}/app/flows/{flow['id']}")
            await expect(page.get_by_test_id("node-hi")).to_be_visible()
            await held.asked.wait()
            toolbar = page.get_by_role("toolbar")
            for name in ("Save", "Publish"):
                await expect(toolbar.get_by_role("button", name=name, exact=True)).to_have_count(0)
            await expect(toolbar.get_by_role("note")).to_have_count(0)
            held.release()
            await expect(page.locator("header.app-header")).to_have_attribute("data-role", role)
            if role == "agent":
                await expect(toolbar.get_by_role("note")).to_have_text("View only")
                assert await added(page) == ["note: View only"]
            else:
                await expect(toolbar.get_by_role("button", name="Publish", exact=True)).to_be_visible()
                assert "note: View only" not in await added(page)
            await screenshot(page, f"editor-{role}-role-known")
            await page.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
