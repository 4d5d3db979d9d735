"""AI usage in the web app, from data produced for real: `pytake serve` with its worker, the sandbox
as Meta, and the platform's AI port pointed at a local server speaking OpenAI's and Anthropic's HTTP
APIs (tests.engine.conftest.LocalServer, as tests/runtime/test_ai_usage_logs.py does). Maria asks
"Que horas abre?" (the main flow: an OpenAI call, 41 + 7 tokens, then the flow ends) and then
"Quero fazer um pedido" (a keyword flow: an Anthropic call, 33 + 12 tokens, then a handoff to
Vendas). The Analytics page shows those calls and tokens; the inbox's Bot activity tab shows the
conversation's two bot sessions with their flow paths and AI calls."""

from __future__ import annotations

import asyncio
import json
import re
import time
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator

import httpx
import pytest
from playwright.async_api import Page, expect

from api.analytics import backfill_snapshots
from api.db.session import Database
from api.sandbox import webhooks
from tests.engine.conftest import LocalServer

from .browser import Designer, admin_with_number, edge, node
from .conftest import MetaStandIn, serve_with_meta

PNID = "109876543210"
MARIA = "5511987654321"
PASSWORD = "correct horse battery"

OPENAI_ANSWER = {
    "id": "chatcmpl-9", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Abrimos às 18h."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 41, "completion_tokens": 7, "total_tokens": 48}}
ANTHROPIC_ANSWER = {
    "id": "msg_9", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-20241022",
    "content": [{"type": "text", "text": "Claro! Já chamo um atendente."}], "stop_reason": "end_turn",
    "stop_sequence": None, "usage": {"input_tokens": 33, "output_tokens": 12}}

FAQ = {"nodes": [node("start", "start", {}), node("ai", "ai_prompt", {
    "provider": "openai", "model": "gpt-4o-mini", "system_prompt": "Você é o assistente da Pizzaria Napoli."}, 300),
    node("ok", "end", {}, 600), node("sorry", "end", {"message": "Desculpe."}, 600, 150)],
    "edges": [edge("start", "ai"), edge("ai", "ok", "success"), edge("ai", "sorry", "error")]}
ORDER = {"nodes": [node("start", "start", {}), node("ask", "ai_prompt", {
    "provider": "anthropic", "model": "claude-3-5-haiku-latest", "system_prompt": "Anote o pedido."}, 300),
    node("human", "handoff", {"department": "Vendas", "reason": "Pedido"}, 600),
    node("sorry", "end", {"message": "Desculpe."}, 600, 150)],
    "edges": [edge("start", "ask"), edge("ask", "human", "success"), edge("ask", "sorry", "error")]}


async def until(check, what: str, timeout: float = 90) -> Any:  # noqa: ANN001
    """check()'s first truthy answer, asked again until `timeout` (a condition, never a fixed wait)."""
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.1)
    return value


class World:
    """The served platform, Meta and the AI providers, and the organization Pizza Napoli."""

    def __init__(self, base: str, meta: MetaStandIn, ai: LocalServer, database_url: str) -> None:
        self.base, self.meta, self.ai, self.database_url = base, meta, ai, database_url
        self.admin: Designer
        self.agent: dict = {}
        self.conversation: dict = {}

    async def customer_says(self, text: str, answer: str, ai_calls: int) -> None:
        """Maria writes; returns once the bot's AI answer reached WhatsApp and the log store has the
        conversation's `ai_calls` calls (the worker's feeder wrote them)."""
        assert await self.meta.app.post_webhook(webhooks.inbound_message(
            PNID, MARIA, webhooks.text_message(text), profile_name="Maria"), PNID)
        await until(lambda: self._answered(answer), f"the bot answered {text!r} with {answer!r}")
        if not self.conversation:
            page = await until(lambda: self._conversations(), "Maria's conversation")
            self.conversation = page[0]

        async def logged() -> bool:
            log = await self.admin.call("GET", f"/logs/conversations/{self.conversation['id']}")
            return log["ai_usage"]["calls"] == ai_calls
        await until(logged, f"{ai_calls} AI calls in the conversation log")

    async def _answered(self, answer: str) -> bool:
        return any((r["payload"].get("text") or {}).get("body") == answer for r in self.meta.state.accepted)

    async def _conversations(self) -> list:
        return (await self.admin.call("GET", "/conversations?per_page=10"))["items"]

    async def conversation_with_two_ai_calls(self) -> None:
        await self.customer_says("Que horas abre?", "Abrimos às 18h.", ai_calls=1)
        await self.customer_says("Quero fazer um pedido", "Claro! Já chamo um atendente.", ai_calls=2)

    async def snapshots(self) -> None:
        """Compute today's and yesterday's daily snapshots (what the worker's refresh does every 5 minutes)."""
        db = Database(self.database_url)
        try:
            now = datetime.now(timezone.utc)
            await backfill_snapshots(db, now - timedelta(days=1), now + timedelta(hours=1), periods=("day",))
        finally:
            await db.dispose()


@asynccontextmanager
async def ai_world(database_url: str, redis_url: str, tmp_path, monkeypatch) -> AsyncIterator[World]:  # noqa: ANN001
    ai = LocalServer()
    ai.routes[("POST", "/v1/chat/completions")] = (200, {}, OPENAI_ANSWER)
    ai.routes[("POST", "/v1/messages")] = (200, {}, ANTHROPIC_ANSWER)
    for name, value in (("OPENAI_API_KEY", "sk-test"), ("OPENAI_BASE_URL", ai.url + "/v1"),
                        ("ANTHROPIC_API_KEY", "ak-test"), ("ANTHROPIC_BASE_URL", ai.url)):
        monkeypatch.setenv(name, value)  # read by `pytake serve` (its environment is this one's)
    try:
        async with serve_with_meta(database_url, redis_url, tmp_path, worker=True) as (base, meta):
            meta.gate.set()
            world = World(base, meta, ai, database_url)
            admin, _ = await admin_with_number(base, PNID, PASSWORD)
            world.admin = admin
            sales = await admin.call("POST", "/departments", {"name": "Vendas", "auto_assign_enabled": False})
            world.agent = await admin.call("POST", "/users", {
                "email": "bia@pizza.example", "password": PASSWORD, "full_name": "Bia Lima", "role": "agent"})
            await admin.call("POST", f"/departments/{sales['id']}/agents", {"user_id": world.agent["id"]})
            admin.chatbot = await admin.call("POST", "/chatbots", {"name": "Atendimento"})
            await admin.flow("Dúvidas", FAQ, publish=True)
            order = await admin.call("POST", "/flows", {"chatbot_id": admin.chatbot["id"], "name": "Pedido",
                                                        "trigger_keywords": ["pedido"]})
            await admin.call("PUT", f"/flows/{order['id']}/canvas", {"canvas": ORDER, "publish": True})
            yield world
    finally:
        ai.close()


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


@pytest.fixture
async def world(database_url, redis_url, tmp_path, monkeypatch, built_web_app) -> AsyncIterator[World]:
    async with ai_world(database_url, redis_url, tmp_path, monkeypatch) as served:
        yield served


async def test_the_analytics_page_shows_ai_calls_and_tokens(world: World, browser_page: Page):
    page = browser_page
    async with asyncio.timeout(240):
        await sign_in(page, world.base, "ana@pizza.example")
        await world.snapshots()  # today's snapshot, before any AI call
        await page.get_by_role("link", name="Analytics").click()
        ai = page.get_by_role("region", name="AI usage")
        await expect(ai.locator('[data-empty="ai-usage"]')).to_have_text("No AI calls in this period.")
        await expect(ai.locator(".counter")).to_have_count(0)
        await shot(page, "analytics-empty")

        await world.conversation_with_two_ai_calls()
        # both providers were asked (a loaded machine may have a step run again: only the applied one is logged)
        assert {r["path"] for r in world.ai.requests} == {"/v1/chat/completions", "/v1/messages"}
        await world.snapshots()
        await page.reload()
        # the totals: 2 calls, 41 + 33 prompt tokens, 7 + 12 completion tokens
        for counter, value in (("ai-calls", "2"), ("ai-prompt", "74"), ("ai-completion", "19"), ("ai-total", "93")):
            await expect(ai.locator(f'.counter[data-counter="{counter}"] dd')).to_have_text(value)
        await expect(ai.locator('[data-empty="ai-usage"]')).to_have_count(0)
        # today's bars: the prompt and completion tokens, and the calls; every other day is 0
        tokens = ai.locator('[data-chart="ai-tokens"]')
        today = datetime.now(timezone.utc).strftime("%m/%d")
        await expect(tokens.locator('rect.bar.s1[data-value="74"] title')).to_have_text(f"{today} Prompt tokens: 74")
        await expect(tokens.locator('rect.bar.s2[data-value="19"] title')).to_have_text(f"{today} Completion tokens: 19")
        await expect(tokens.locator("rect.bar:not([data-value='0'])")).to_have_count(2)
        calls = ai.locator('[data-chart="ai-calls"]')
        await expect(calls.locator('rect.bar[data-value="2"] title')).to_have_text(f"{today} AI calls: 2")
        await expect(calls.locator("rect.bar:not([data-value='0'])")).to_have_count(1)
        await ai.scroll_into_view_if_needed()
        await shot(page, "analytics-ai")

        # in Portuguese: the same figures, Portuguese words
        await page.get_by_label("Language").select_option("pt-BR")
        ai = page.get_by_role("region", name="Uso de IA")
        await expect(ai.locator('.counter[data-counter="ai-calls"] dt')).to_have_text("Chamadas de IA")
        await expect(ai.locator('.counter[data-counter="ai-total"] dd')).to_have_text("93")
        await shot(page, "analytics-ai-pt")


async def test_the_inbox_shows_a_conversations_bot_sessions_and_ai_calls(world: World, browser_page: Page):
    page = browser_page
    async with asyncio.timeout(240):
        await world.conversation_with_two_ai_calls()  # the second session handed Maria to Vendas' queue
        await sign_in(page, world.base, "bia@pizza.example")
        await page.get_by_role("link", name="Inbox").click()
        await expect(page.get_by_role("status")).to_have_text("Live")
        await page.locator('[data-list="queue"] .conversation-row').filter(has_text="Maria").click()
        await page.get_by_role("tab", name="Bot activity").click()
        panel = page.get_by_role("region", name="Bot activity")

        # the whole conversation: 2 calls, 41 + 33 prompt tokens, 7 + 12 completion tokens
        total = panel.locator('[data-usage="conversation"]')
        for figure, value in (("calls", "2"), ("prompt", "74"), ("completion", "19"), ("total", "93")):
            await expect(total.locator(f'[data-figure="{figure}"] dd')).to_have_text(value)
        sessions = panel.locator(".bot-session")
        await expect(sessions).to_have_count(2)

        # newest first: the order, Anthropic's call, then the handoff (the session stays open while Bia talks)
        order = sessions.nth(0)
        await expect(order.locator("h3")).to_have_text("Session 2")
        await expect(order.locator("[data-outcome]")).to_have_text("Handed to a person")
        await expect(order.locator("[data-end]")).to_have_text("not yet")
        await expect(order.locator("[data-handoff]")).to_contain_text("Pedido")
        assert await order.locator(".bot-path li").evaluate_all("els => els.map(e => e.dataset.node)") == \
            ["start", "ask", "human"]
        await expect(order.locator(".bot-path li").nth(1)).to_contain_text("AI prompt")
        call = order.locator(".bot-call")
        await expect(call).to_have_count(1)
        await expect(call.locator("[data-model]")).to_have_text("claude-3-5-haiku-20241022")
        for figure, value in (("prompt", "33"), ("completion", "12"), ("total", "45")):
            await expect(call.locator(f'[data-figure="{figure}"] dd')).to_have_text(value)
        await expect(call.locator('[data-figure="latency"] dd')).to_have_text(re.compile(r"^\d+ ms$|^\d+(\.\d)? s$"))
        await expect(order.locator('[data-usage="session-2"]')).to_have_text("Session: 1 call(s), tokens 33 + 12 = 45")

        # the first: the question, OpenAI's call, the flow's end
        faq = sessions.nth(1)
        await expect(faq.locator("h3")).to_have_text("Session 1")
        await expect(faq.locator("[data-outcome]")).to_have_text("Ended")
        await expect(faq.locator("[data-end]")).not_to_have_text("not yet")
        assert await faq.locator(".bot-path li").evaluate_all("els => els.map(e => e.dataset.node)") == \
            ["start", "ai", "ok"]
        await expect(faq.locator(".bot-call [data-model]")).to_have_text("gpt-4o-mini-2024-07-18")
        for figure, value in (("prompt", "41"), ("completion", "7"), ("total", "48")):
            await expect(faq.locator(f'.bot-call [data-figure="{figure}"] dd')).to_have_text(value)
        await expect(faq.locator('[data-usage="session-1"]')).to_have_text("Session: 1 call(s), tokens 41 + 7 = 48")
        await shot(page, "inbox-bot-activity-top")
        await faq.get_by_text("Prompt and answer").click()
        await expect(faq.locator(".bot-call-text")).to_contain_text("Abrimos às 18h.")
        await shot(page, "inbox-bot-activity")
        await page.locator(".inbox-contact").screenshot(path="/tmp/aiweb-inbox-bot-activity-panel.png")

        # in Portuguese
        await page.get_by_label("Language").select_option("pt-BR")
        pt = page.get_by_role("region", name="Atividade do bot")
        await expect(pt.locator(".bot-session").nth(0).locator("[data-outcome]")).to_have_text("Transferida para atendente")
        await expect(pt.locator('[data-usage="conversation"] [data-figure="calls"] dt')).to_have_text("Chamadas de IA")
        await page.get_by_label("Idioma").select_option("en")

        # the contact tab is still there
        await page.get_by_role("tab", name="Contact").click()
        await expect(page.locator(".inbox-contact")).to_contain_text("+" + MARIA)

        # the API's refusal, as it words it: the conversation was deleted meanwhile
        await page.get_by_role("tab", name="Bot activity").click()
        await expect(panel.locator(".bot-session")).to_have_count(2)
        await world.admin.call("DELETE", f"/conversations/{world.conversation['id']}")
        await panel.get_by_role("button", name="Refresh").click()
        await expect(panel.get_by_role("alert")).to_have_text("The bot log could not be read: conversation not found (404)")
        await expect(panel.locator(".bot-session")).to_have_count(0)
        await shot(page, "inbox-bot-activity-refused")
