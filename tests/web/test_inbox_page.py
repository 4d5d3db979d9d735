"""The agent inbox in a real browser, two agents side by side (two browser contexts), Meta played by
the sandbox and a worker sending: a customer's message reaches the conversation assigned to agent A
live (and not agent B's Mine); A answers with a quick reply typed as `/shortcut`, WhatsApp receives
the text, and the status ticks follow Meta's status webhooks without a reload; a send Meta refuses
shows red with Meta's error; A sees B typing; B takes a waiting conversation
from the queue and answers with a template; A closes one conversation and transfers another to B."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
from playwright.async_api import Page, async_playwright, expect

from api.sandbox import webhooks

from .browser import API_TIMEOUT, admin_with_number
from .conftest import CHROMIUM_ARGS, MetaStandIn, chromium_path, screenshot

PNID = "109876543210"
MARIA = "5511987654321"
JOAO = "5511912345678"
REFUSED = "5511900131047"  # the sandbox refuses every send to it with 131047 (re-engagement)
PRECO = "A pizza grande custa R$ 59,90 e chega em 40 minutos."
PASSWORD = "correct horse battery"
PROMO = {"name": "promo_week", "language": "pt_BR", "category": "MARKETING",
         "body_text": "Oi {{1}}, a pizza da semana está com {{2}} de desconto!",
         "variables": [{"name": "1", "example": "Maria"}, {"name": "2", "example": "10%"}]}


async def until(check, what: str, timeout: float = 60) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.1)


async def seed(base: str, *, template: bool = True) -> dict:
    """An admin, a number, a Vendas department with agents Bia and Caio, the /preco quick reply,
    an approved template, Maria's and the refused number's conversations assigned to Bia, and João's waiting in Vendas' queue."""
    admin, number = await admin_with_number(base, PNID, PASSWORD)
    # agents pull from this queue themselves (no automatic assignment when they come online)
    sales = await admin.call("POST", "/departments", {"name": "Vendas", "auto_assign_enabled": False})
    agents = {}
    for key, name in (("bia", "Bia Lima"), ("caio", "Caio Reis")):
        user = await admin.call("POST", "/users", {"email": f"{key}@pizza.example", "password": PASSWORD,
                                                   "full_name": name, "role": "agent"})
        await admin.call("POST", f"/departments/{sales['id']}/agents", {"user_id": user["id"]})
        agents[key] = user
    if template:  # approved at Meta (the sandbox's review webhook)
        promo = await admin.call("POST", "/templates", {**PROMO, "whatsapp_number_id": number["id"]})
        await admin.call("POST", f"/templates/{promo['id']}/submit", {})

        async def approved() -> bool:
            return (await admin.call("GET", f"/templates/{promo['id']}"))["meta_status"] == "APPROVED"
        await until(approved, "the sandbox approved the template")
    await admin.call("POST", "/quick-replies", {"shortcut": "/preco", "title": "Preço", "content": PRECO})
    await admin.call("POST", "/quick-replies", {"shortcut": "/prazo", "title": "Prazo", "content": "Em 40 minutos."})
    await admin.call("POST", "/quick-replies", {"shortcut": "/ola", "title": "Olá",
                                                "content": "Olá {{contact.first_name}}, posso ajudar?"})
    conversations = {}
    for wa_id, name in ((MARIA, "Maria Silva"), (REFUSED, "Rita Recusada"), (JOAO, "João Pereira")):
        contact = await admin.call("POST", "/contacts", {"whatsapp_id": wa_id, "name": name, "tags": ["vip"]})
        conversations[wa_id] = await admin.call("POST", "/conversations", {
            "contact_id": contact["id"], "whatsapp_number_id": number["id"], "department_id": sales["id"]})
    for wa_id in (MARIA, REFUSED):
        await admin.call("POST", f"/conversations/{conversations[wa_id]['id']}/assign", {"user_id": agents["bia"]["id"]})
    await admin.call("POST", f"/conversations/{conversations[JOAO]['id']}/transfer", {"department_id": sales["id"]})
    return {"admin": admin, "agents": agents, "conversations": conversations}


async def signed_in(browser, base: str, email: str, errors: list[str], locale: str = "en-US") -> Page:
    async with httpx.AsyncClient(base_url=base, timeout=API_TIMEOUT) as client:
        r = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
    tokens = {"access_token": r.json()["access_token"], "refresh_token": r.json()["refresh_token"]}
    context = await browser.new_context(locale=locale, viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"{email}: {exc}"))
    await page.goto(base + "/app/login")
    await page.evaluate("(t) => localStorage.setItem('pytake.tokens', t)", json.dumps(tokens))
    await page.goto(base + "/app/flows")
    await page.get_by_role("link", name="Inbox" if locale == "en-US" else "Atendimento").click()
    return page


def count(page: Page, which: str):
    return page.locator(f'[data-count="{which}"]')


def in_list(page: Page, which: str):
    return page.locator(f'[data-list="{which}"] .conversation-row')


async def test_two_agents_a_live_customer_message_a_quick_reply_and_live_ticks(web_with_meta_and_worker):
    base, meta = web_with_meta_and_worker
    meta: MetaStandIn
    meta.gate.set()
    errors: list[str] = []
    async with asyncio.timeout(300), async_playwright() as p:
        seeded = await seed(base)
        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            bia = await signed_in(browser, base, "bia@pizza.example", errors)
            caio = await signed_in(browser, base, "caio@pizza.example", errors)
            for page in (bia, caio):
                await expect(page.get_by_role("status")).to_have_text("Live")
            # Bia holds Maria's and Rita's conversations; João waits in Vendas' queue, seen by both
            await expect(count(bia, "mine")).to_have_text("2")
            await expect(count(bia, "queue")).to_have_text("1")
            await expect(in_list(bia, "queue")).to_contain_text("João Pereira")
            await expect(count(caio, "mine")).to_have_text("0")
            await expect(count(caio, "queue")).to_have_text("1")

            await in_list(bia, "mine").filter(has_text="Maria Silva").click()
            await expect(bia.get_by_role("heading", name="Maria Silva")).to_be_visible()
            await expect(bia.locator(".inbox-contact")).to_contain_text("Bia Lima")

            # the customer writes: Bia's open conversation shows it without a reload, Caio's Mine stays empty
            meta.state.config.send_statuses = False  # the test posts Meta's statuses itself, one by one
            assert await meta.app.post_webhook(webhooks.inbound_message(
                PNID, MARIA, webhooks.text_message("Quanto custa a pizza grande?"), profile_name="Maria"), PNID)
            await expect(bia.locator(".bubble.in").filter(has_text="Quanto custa a pizza grande?")).to_be_visible()
            await expect(in_list(bia, "mine").filter(has_text="Maria Silva")).to_contain_text("Quanto custa a pizza grande?")
            await expect(count(caio, "mine")).to_have_text("0")
            await expect(in_list(caio, "mine")).to_have_count(0)
            await screenshot(bia, "inbox-01-agent-a-live-message")
            await screenshot(caio, "inbox-02-agent-b-not-in-mine")

            # `/pre` lists the matching quick replies; Enter expands the highlighted one
            composer = bia.get_by_label("Message", exact=True)
            await composer.fill("/pr")
            options = bia.get_by_role("listbox", name="Quick replies").get_by_role("option")
            await expect(options).to_have_count(2)
            await composer.press("e")
            await expect(options).to_have_count(1)
            await expect(options.first).to_contain_text("/preco")
            await screenshot(bia, "inbox-03-quick-reply")
            await composer.press("Enter")
            await expect(composer).to_have_value(PRECO)
            await composer.press("Enter")
            await expect(composer).to_have_value("")

            # WhatsApp receives the text; the bubble's ticks follow Meta's statuses live
            async def at_meta() -> bool:
                return any(m["to"] == MARIA and m["payload"].get("text", {}).get("body") == PRECO
                           for m in meta.state.accepted)
            await until(at_meta, "the sandbox received the quick reply")
            wamid = next(m["id"] for m in meta.state.accepted if m["to"] == MARIA)
            reply = bia.locator(".bubble.out").filter(has_text=PRECO)
            await expect(reply.locator("[data-ticks]")).to_have_attribute("data-ticks", "sent")
            assert await meta.app.post_webhook(webhooks.status_update(PNID, wamid, "delivered", MARIA), PNID)
            await expect(reply.locator("[data-ticks]")).to_have_attribute("data-ticks", "delivered")
            assert await meta.app.post_webhook(webhooks.status_update(PNID, wamid, "read", MARIA), PNID)
            await expect(reply.locator("[data-ticks]")).to_have_attribute("data-ticks", "read")
            await expect(reply.locator("[data-ticks]")).to_have_attribute("aria-label", "Read")
            await screenshot(bia, "inbox-04-ticks-read")

            # a quick reply with a variable: sent as the quick reply, the API fills in the name;
            # its variable left in an edited text is not sent raw
            await composer.fill("Oi! /ola")
            await composer.press("Enter")  # expands it after "Oi! "
            await expect(composer).to_have_value("Oi! Olá {{contact.first_name}}, posso ajudar?")
            await composer.press("Enter")
            await expect(bia.locator(".composer [role=alert]")).to_have_text(
                "Fill in {{contact.first_name}} before sending: the customer would read them as they are.")
            await composer.fill("/ol")
            await composer.press("Tab")
            await expect(composer).to_have_value("Olá {{contact.first_name}}, posso ajudar?")
            await composer.press("Enter")
            await expect(composer).to_have_value("")

            async def named() -> bool:
                return any(m["to"] == MARIA and m["payload"].get("text", {}).get("body") == "Olá Maria, posso ajudar?"
                           for m in meta.state.accepted)
            await until(named, "the sandbox received the quick reply with the customer's name")
            assert not [m for m in meta.state.accepted if "{{" in json.dumps(m["payload"])]

            # a send Meta refuses: red, with Meta's error
            assert await meta.app.post_webhook(webhooks.inbound_message(
                PNID, REFUSED, webhooks.text_message("Oi, tem pizza doce?"), profile_name="Rita"), PNID)
            await expect(in_list(bia, "mine").filter(has_text="Rita Recusada")).to_contain_text("Oi, tem pizza doce?")
            await expect(in_list(bia, "mine").filter(has_text="Rita Recusada").locator(".badge")).to_have_text("1")
            await in_list(bia, "mine").filter(has_text="Rita Recusada").click()
            await expect(bia.get_by_role("heading", name="Rita Recusada")).to_be_visible()
            await bia.get_by_label("Message", exact=True).fill("Olá Rita!")
            await bia.get_by_role("button", name="Send", exact=True).click()
            failed = bia.locator(".bubble.failed").filter(has_text="Olá Rita!")
            await expect(failed).to_be_visible()
            await expect(failed.locator(".bubble-error")).to_contain_text("131047")
            await screenshot(bia, "inbox-05-failed")

            # both open João's conversation from the queue; Caio types and Bia sees it (throttled, live)
            await in_list(bia, "queue").filter(has_text="João Pereira").click()
            await in_list(caio, "queue").filter(has_text="João Pereira").click()
            await expect(bia.get_by_role("heading", name="João Pereira")).to_be_visible()
            await expect(caio.get_by_role("heading", name="João Pereira")).to_be_visible()
            await expect(bia.locator(".inbox-contact [data-assignee]")).to_have_text("—")
            await caio.get_by_label("Message", exact=True).press_sequentially("Oi João", delay=50)
            await expect(bia.locator(".typing")).to_have_text("Caio Reis typing…")
            await screenshot(bia, "inbox-06-typing")
            # Caio takes João from the queue: both agents' lists and Bia's open conversation follow live
            await caio.get_by_role("button", name="Assign to me").click()
            await expect(count(caio, "mine")).to_have_text("1")
            await expect(count(caio, "queue")).to_have_text("0")
            await expect(count(bia, "queue")).to_have_text("0")
            await expect(count(bia, "mine")).to_have_text("2")
            await expect(bia.locator(".inbox-contact [data-assignee]")).to_have_text("Caio Reis")
            # João never wrote: only a template reaches him, its parameters filled in the composer
            await caio.get_by_label("Message", exact=True).fill("")
            await expect(caio.locator(".composer")).to_contain_text("WhatsApp only delivers a template now")
            await caio.get_by_role("button", name="Template", exact=True).click()
            await caio.get_by_label("Template", exact=True).select_option(label="promo_week (pt_BR)")
            await caio.get_by_label("Value for {{1}}").fill("João")
            await caio.get_by_role("button", name="Send template").click()
            await expect(caio.locator(".composer [role=alert]")).to_have_text("Give a value for {{2}}.")
            await caio.get_by_label("Value for {{2}}").fill("20%")
            await screenshot(caio, "inbox-07-template")
            await caio.get_by_role("button", name="Send template").click()

            async def template_at_meta() -> bool:
                return any(m["to"] == JOAO and m["type"] == "template" for m in meta.state.accepted)
            await until(template_at_meta, "the sandbox received the template")
            sent = next(m for m in meta.state.accepted if m["to"] == JOAO)["payload"]["template"]
            assert sent["name"] == "promo_week"
            assert [p["text"] for p in sent["components"][0]["parameters"]] == ["João", "20%"]
            await expect(caio.locator(".bubble.out")).to_have_count(1)
            await screenshot(caio, "inbox-08-agent-b-template-sent")

            # Bia closes Maria's conversation as resolved, and transfers Rita's to Caio: the lists follow
            await in_list(bia, "mine").filter(has_text="Maria Silva").click()
            await bia.get_by_label("Resolution notes (optional)").fill("Pedido feito")
            await bia.get_by_role("button", name="Close", exact=True).click()
            await expect(bia.locator(".composer")).to_have_text("This conversation is closed.")
            await expect(count(bia, "mine")).to_have_text("1")
            maria = await seeded["admin"].call("GET", f"/conversations/{seeded['conversations'][MARIA]['id']}")
            assert (maria["status"], maria["notes"]) == ("resolved", "Pedido feito")
            await in_list(bia, "mine").filter(has_text="Rita Recusada").click()
            await bia.get_by_label("Agent", exact=True).select_option(label="Caio Reis")
            await bia.get_by_label("Reason (optional)").fill("Caio fala com a Rita")
            await bia.get_by_role("button", name="Transfer", exact=True).click()
            await expect(count(bia, "mine")).to_have_text("0")
            await expect(count(caio, "mine")).to_have_text("2")
            await expect(in_list(caio, "mine").filter(has_text="Rita Recusada")).to_be_visible()
            await screenshot(caio, "inbox-09-agent-b-transferred")
            assert (await seeded["admin"].call("GET", f"/conversations/{seeded['conversations'][JOAO]['id']}")
                    )["assigned_to"] == seeded["agents"]["caio"]["id"]
        finally:
            await browser.close()
    assert not errors, f"JavaScript errors on the pages: {errors}"


async def test_the_inbox_in_portuguese(web_with_meta, browser_page: Page):
    base, _ = web_with_meta
    await seed(base, template=False)
    errors: list[str] = []
    async with asyncio.timeout(120):
        browser = browser_page.context.browser
        page = await signed_in(browser, base, "bia@pizza.example", errors, locale="pt-BR")
        await expect(page.get_by_role("status")).to_have_text("Ao vivo")
        await expect(page.get_by_role("heading", name="Minhas")).to_be_visible()
        await expect(page.get_by_role("heading", name="Fila")).to_be_visible()
        await in_list(page, "mine").filter(has_text="Maria Silva").click()
        await expect(page.get_by_role("button", name="Transferir")).to_be_visible()
        await expect(page.get_by_role("button", name="Encerrar")).to_be_visible()
        await page.get_by_role("button", name="Modelo").click()
        await expect(page.get_by_label("Modelo", exact=True)).to_be_visible()
        await screenshot(page, "inbox-10-pt-BR")
    assert not errors, errors


async def test_an_agent_goes_away_and_back_and_the_page_follows_a_change_made_elsewhere(web_with_meta,
                                                                                       browser_page: Page):
    """The availability switch: opening the inbox brings the agent online (automatic assignment may
    pick them), choosing Away makes them away on the server, and a change made elsewhere (another
    device, through the API) shows on the open page without a reload."""
    base, _ = web_with_meta
    await seed(base, template=False)
    errors: list[str] = []
    async with asyncio.timeout(120):
        page = await signed_in(browser_page.context.browser, base, "bia@pizza.example", errors)
        availability = page.get_by_label("Availability")
        await expect(availability).to_have_value("online")
        async with httpx.AsyncClient(base_url=base, timeout=API_TIMEOUT) as client:
            r = await client.post("/auth/login", json={"email": "bia@pizza.example", "password": PASSWORD})
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

            async def status() -> str:
                r = await client.get("/agents/me/status", headers=headers)
                assert r.status_code == 200, r.text
                return r.json()["status"]

            assert await status() == "online"
            await availability.select_option("away")
            await expect(availability).to_have_value("away")
            await until(lambda: _is(status, "away"), "the server has Bia away")
            await screenshot(page, "inbox-11-away")

            r = await client.post("/agents/me/status", headers=headers, json={"status": "online"})  # another device
            assert r.status_code == 200, r.text
            await expect(availability).to_have_value("online")
    assert not errors, errors


async def _is(read, value: str) -> bool:  # noqa: ANN001
    return await read() == value
