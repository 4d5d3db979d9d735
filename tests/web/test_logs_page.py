"""The Logs page in a real browser, its logs produced for real: `pytake serve` with its worker and the
sandbox as Meta (statuses sent, delivered, read come back as Meta's webhooks; a send to the sandbox's
re-engagement number fails with 131047). Maria asks for a calabresa pizza and Rita says hello; the bot
answers both with its menu (Rita's answer refused by WhatsApp: its log holds its text, its direction and
the failed status with Meta's code). An admin searches the message log (words, direction, status) and opens a
message's status timeline, then reads the API request log (filters, pages as the API pages them, the
API's 422 on a bad status code). An agent has no Logs entry and no API requests tab."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from playwright.async_api import Page, expect

from api.sandbox import webhooks

from .browser import Designer, admin_with_number, edge, node
from .conftest import MetaStandIn

PNID = "109876543210"
MARIA = "5511987654321"
RITA = "5511900131047"  # the sandbox refuses every send to it with 131047 (re-engagement)
PASSWORD = "correct horse battery"
MENU = "Temos calabresa, margherita e portuguesa."
FLOW = {"nodes": [node("start", "start", {}), node("menu", "message", {"text": MENU}, 300), node("bye", "end", {}, 600)],
        "edges": [edge("start", "menu"), edge("menu", "bye")]}


async def until(check, what: str, timeout: float = 90) -> Any:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.1)
    return value


async def shot(page: Page, name: str) -> None:
    """A full-page screenshot to look at: /tmp/aiweb-<name>.png."""
    await page.screenshot(path=f"/tmp/aiweb-{name}.png", full_page=True)


async def sign_in(page: Page, base: str, email: str) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        r = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
    tokens = {"access_token": r.json()["access_token"], "refresh_token": r.json()["refresh_token"]}
    await page.goto(base + "/app/login")
    await page.evaluate("(t) => localStorage.setItem('pytake.tokens', t)", json.dumps(tokens))
    await page.goto(base + "/app/flows")


async def seed(base: str, meta: MetaStandIn) -> Designer:
    """Ana (admin) with a number, a chatbot answering with the menu, and an agent, Bia; Maria's and
    Rita's messages answered, the answers' statuses in the message log."""
    admin, _ = await admin_with_number(base, PNID, PASSWORD)
    await admin.call("POST", "/users", {"email": "bia@pizza.example", "password": PASSWORD, "full_name": "Bia Lima",
                                        "role": "agent"})
    admin.chatbot = await admin.call("POST", "/chatbots", {"name": "Cardápio"})
    await admin.flow("Menu", FLOW, publish=True)
    for wa_id, name, text in ((MARIA, "Maria", "Quero uma pizza de calabresa"), (RITA, "Rita", "Oi")):
        assert await meta.app.post_webhook(webhooks.inbound_message(
            PNID, wa_id, webhooks.text_message(text), profile_name=name), PNID)

    async def logged() -> bool:
        found = (await admin.call("GET", "/logs/messages?q=calabresa"))["items"]
        failed = (await admin.call("GET", "/logs/messages?status=failed"))["items"]
        return sorted((m["direction"], m["status"]) for m in found) == [
            ("inbound", "delivered"), ("outbound", "failed"), ("outbound", "read")] and len(failed) == 1
    await until(logged, "Maria's message, the reply read by Maria and the one refused for Rita in the message log")

    async def requests_logged() -> bool:
        return len((await admin.call("GET", "/logs/api-requests?path=/whatsapp-numbers"))["items"]) == 1
    await until(requests_logged, "the API request log has the number's creation")
    # the request log is flushed in batches: wait for more than two pages of 10 to walk
    for _ in range(25):
        await admin.call("GET", "/organization")

    async def enough_requests() -> bool:
        return len((await admin.call("GET", "/logs/api-requests?limit=200"))["items"]) >= 25
    await until(enough_requests, "25 API requests in the log")
    return admin


async def test_an_admin_searches_messages_and_reads_api_requests(web_with_meta_and_worker, browser_page: Page):
    base, meta = web_with_meta_and_worker
    meta.gate.set()
    page = browser_page
    async with asyncio.timeout(240):
        await seed(base, meta)
        await sign_in(page, base, "ana@pizza.example")
        await page.get_by_role("link", name="Logs").click()
        await expect(page.get_by_role("heading", name="Logs")).to_be_visible()
        messages = page.get_by_role("region", name="Messages")

        # the words: Maria's question and the bot's answers (the one to Rita refused, its text kept)
        search = messages.get_by_label("Search messages")
        await search.fill("calabresa")
        await search.press("Enter")
        rows = messages.locator("tr.message-log")
        await expect(rows).to_have_count(3)
        await expect(rows.filter(has_text="Quero uma pizza de calabresa")).to_have_attribute("data-direction", "inbound")
        await expect(rows.filter(has_text="Quero uma pizza de calabresa")).to_contain_text("Maria")

        # outgoing only: the bot's two answers; Maria's was read
        await messages.get_by_label("Direction").select_option("outbound")
        await expect(rows).to_have_count(2)
        to_maria = rows.filter(has_text="Maria")
        await expect(to_maria).to_have_attribute("data-direction", "outbound")
        await expect(to_maria).to_contain_text(MENU)
        await expect(to_maria).to_contain_text("Bot")
        await to_maria.get_by_role("button", name="Read").click()
        steps = messages.locator(".timeline-row .status-timeline li")
        await expect(steps).to_have_count(3)
        assert await steps.evaluate_all("els => els.map(e => e.dataset.status)") == ["sent", "delivered", "read"]
        await shot(page, "logs-messages")

        # the API's status filter, every word: the answer to Rita, refused by WhatsApp
        await messages.get_by_label("Direction").select_option("")
        await search.fill("")
        await search.press("Enter")
        await messages.get_by_label("Status", exact=True).select_option("failed")
        await expect(rows).to_have_count(1)
        await expect(rows).to_have_attribute("data-status", "failed")
        await expect(rows).to_have_attribute("data-direction", "outbound")
        await expect(rows).to_contain_text(MENU)  # refused before it was sent, logged whole
        await expect(rows).to_contain_text("Rita")
        await rows.get_by_role("button", name="Failed").click()
        failed = messages.locator('.timeline-row .status-timeline li[data-status="failed"]')
        await expect(failed).to_contain_text("131047")
        await shot(page, "logs-messages-failed")

        # API requests: the number's creation, by Ana, answered 201
        await page.get_by_role("tab", name="API requests").click()
        requests = page.get_by_role("region", name="API requests")
        await requests.get_by_label("Method").select_option("POST")
        await requests.get_by_label("Path").fill("/whatsapp-numbers")
        await requests.get_by_role("button", name="Search").click()
        created = requests.locator("tr.request-log")
        await expect(created).to_have_count(1)
        await expect(created).to_have_attribute("data-status", "201")
        await expect(created.locator("[data-user]")).to_have_text("Ana Souza")
        await expect(created).to_contain_text("ms")

        # a status code the API refuses: its words, on the field
        await requests.get_by_label("HTTP status").fill("99")
        await requests.get_by_role("button", name="Search").click()
        await expect(requests.locator('[data-field="req-status"] .field-problem')).to_have_text(
            "status_code must be between 100 and 599")

        # every request, 10 a page: Older shows the 10 before them, Newer comes back
        await requests.get_by_label("HTTP status").fill("")
        await requests.get_by_label("Path").fill("")
        await requests.get_by_label("Method").select_option("")
        await requests.get_by_role("button", name="Search").click()
        await requests.get_by_label("Per page").select_option("10")
        await expect(created).to_have_count(10)
        first = await created.evaluate_all("els => els.map(e => e.dataset.request)")
        await requests.get_by_role("button", name="Older").click()
        await expect(requests.locator("[data-page]")).to_have_text("Page 2")
        await expect(created).to_have_count(10)
        second = await created.evaluate_all("els => els.map(e => e.dataset.request)")
        assert not set(first) & set(second), "a page repeats the one before it"
        await shot(page, "logs-requests")
        await requests.get_by_role("button", name="Newer").click()
        await expect(requests.locator("[data-page]")).to_have_text("Page 1")
        await expect(requests.get_by_role("button", name="Newer")).to_be_disabled()

        # in Portuguese
        await page.get_by_label("Language").select_option("pt-BR")
        await expect(page.get_by_role("tab", name="Requisições à API")).to_be_visible()
        await expect(page.get_by_role("link", name="Registros")).to_be_visible()


async def test_an_agent_has_no_logs_entry_and_no_api_requests(web_with_meta_and_worker, browser_page: Page):
    base, meta = web_with_meta_and_worker
    meta.gate.set()
    page = browser_page
    async with asyncio.timeout(240):
        await seed(base, meta)
        await sign_in(page, base, "bia@pizza.example")
        await expect(page.locator("header.app-header")).to_have_attribute("data-role", "agent")  # /auth/me answered
        await expect(page.get_by_role("link", name="Analytics")).to_be_visible()
        await expect(page.get_by_role("link", name="Logs")).to_have_count(0)
        # typed in: the message log (agents read messages), never the API request log
        await page.goto(base + "/app/logs")
        messages = page.get_by_role("region", name="Messages")
        await messages.get_by_label("Search messages").fill("calabresa")
        await messages.get_by_label("Search messages").press("Enter")
        await expect(messages.locator("tr.message-log")).to_have_count(3)
        await expect(page.get_by_role("tab", name="API requests")).to_have_count(0)
        await expect(page.get_by_role("region", name="API requests")).to_have_count(0)
        await shot(page, "logs-agent")
