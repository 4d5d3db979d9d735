"""The inbox composer's attachments and interactive builder in a real browser, Meta played by the
sandbox and a worker sending: a customer's photo shows in the history; the agent attaches an image
with a caption, it is uploaded (POST /uploads), sent by Meta's media id (the sandbox holds the same
bytes) and shows in the history; a type WhatsApp does not carry gets the API's words; reply buttons
(a title over 20 characters flagged as typed, with a preview) and a list reach WhatsApp in Meta's
interactive shape; Shift+Enter is a new line and Enter sends."""

from __future__ import annotations

import asyncio
import re
import struct
import zlib

from playwright.async_api import expect

from api.sandbox import webhooks

from .conftest import CHROMIUM_ARGS, MetaStandIn, chromium_path, screenshot
from .test_inbox_page import MARIA, PNID, in_list, seed, signed_in, until


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG of one colour with a darker band (so a screenshot shows it is the picture)."""
    rows = b""
    for y in range(height):
        colour = bytes(c // 2 for c in rgb) if height // 3 <= y < 2 * height // 3 else bytes(rgb)
        rows += b"\x00" + colour * width

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


MENU = png(160, 100, (230, 120, 40))
CUSTOMER_PHOTO = png(120, 90, (40, 120, 200))


def sent_to_maria(meta: MetaStandIn, kind: str) -> list[dict]:
    return [m["payload"] for m in meta.state.accepted if m["to"] == MARIA and m["payload"].get("type") == kind]


async def test_an_agent_sends_an_image_reply_buttons_and_a_list(web_with_meta_and_worker):
    base, meta = web_with_meta_and_worker
    meta.gate.set()
    errors: list[str] = []
    async with asyncio.timeout(300):
        from playwright.async_api import async_playwright
        await seed(base, template=False)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            try:
                bia = await signed_in(browser, base, "bia@pizza.example", errors)
                await expect(bia.get_by_role("status")).to_have_text("Live")
                await in_list(bia, "mine").filter(has_text="Maria Silva").click()
                await expect(bia.get_by_role("heading", name="Maria Silva")).to_be_visible()

                # the customer sends a photo: the worker fetches it from Meta, the bubble shows the picture
                photo = meta.state.add_media(CUSTOMER_PHOTO, "image/png")
                assert await meta.app.post_webhook(webhooks.inbound_message(
                    PNID, MARIA, webhooks.media_message("image", photo, caption="Essa pizza tem?"),
                    profile_name="Maria"), PNID)
                inbound = bia.locator(".bubble.in").filter(has_text="Essa pizza tem?")
                await expect(inbound.locator("img")).to_be_visible(timeout=60_000)
                assert await inbound.locator("img").evaluate("img => img.naturalWidth") == 120

                # a type WhatsApp does not carry: the API's words, nothing sent
                attach = bia.locator('input[type="file"]')
                await attach.set_input_files({"name": "menu.gif", "mimeType": "image/gif", "buffer": b"GIF89a" + b"\0" * 64})
                card = bia.locator(".attachment")
                await expect(card).to_contain_text("menu.gif")
                await card.get_by_role("button", name="Send file").click()
                await expect(card.get_by_role("alert")).to_contain_text("image/gif cannot be sent on WhatsApp")
                await card.get_by_role("button", name="Remove").click()
                await expect(card).to_have_count(0)

                # an image with a caption: pending with its name and size, uploaded, sent by Meta's media id
                await attach.set_input_files({"name": "cardapio.png", "mimeType": "image/png", "buffer": MENU})
                await expect(card).to_contain_text("cardapio.png")
                await expect(card).to_contain_text(f"{len(MENU)} B · Image")  # a few hundred bytes: it compresses well
                await card.get_by_label("Caption (optional)").fill("Cardápio de hoje")
                await screenshot(bia, "composer-01-pending-image")
                await card.get_by_role("button", name="Send file").click()
                await expect(card).to_have_count(0)

                async def image_at_meta() -> bool:
                    return bool(sent_to_maria(meta, "image"))
                await until(image_at_meta, "the sandbox received the image")
                image = sent_to_maria(meta, "image")[0]["image"]
                assert image["caption"] == "Cardápio de hoje"
                assert meta.state.media[image["id"]]["data"] == MENU  # the very file the agent picked
                outbound = bia.locator(".bubble.out").filter(has_text="Cardápio de hoje")
                await expect(outbound.locator("img")).to_be_visible()
                assert await outbound.locator("img").evaluate("img => img.naturalWidth") == 160
                await expect(outbound.locator("[data-ticks]")).to_have_attribute(  # the sandbox's statuses follow
                    "data-ticks", re.compile("^(sent|delivered|read)$"))
                await screenshot(bia, "composer-02-image-sent")

                # reply buttons: a title over WhatsApp's 20 characters is flagged as it is typed
                await bia.get_by_role("button", name="Buttons / list").click()
                builder = bia.locator(".interactive-builder")
                await builder.get_by_label("Message body").fill("Confirma o pedido A-17?")
                await builder.get_by_label("Button 1", exact=True).fill("Sim, confirmo")
                await builder.get_by_role("button", name="Add button").click()
                second = builder.get_by_label("Button 2", exact=True)
                await second.fill("Não, quero mudar o sabor")  # 24 characters
                field = builder.locator('[data-field="ia-buttons.1.title"]')
                await expect(field.locator(".field-help")).to_have_text("24/20")
                await expect(field.locator(".field-problem")).to_have_text("At most 20 characters.")
                await expect(builder.locator(".builder-preview .wa-button")).to_have_text(
                    ["Sim, confirmo", "Não, quero mudar o sabor"])
                await screenshot(bia, "composer-03-buttons-over-limit")
                await builder.get_by_role("button", name="Send buttons").click()
                await expect(field.locator(".field-problem")).to_be_visible()
                await second.fill("Quero mudar")
                await expect(field.locator(".field-help")).to_have_text("11/20")
                await expect(field.locator(".field-problem")).to_have_count(0)
                await builder.get_by_role("button", name="Add button").click()
                await builder.get_by_label("Button 3", exact=True).fill("Cancelar")
                await expect(builder.get_by_role("button", name="Add button")).to_be_disabled()  # 3 at most
                await screenshot(bia, "composer-04-buttons-ready")
                await builder.get_by_role("button", name="Send buttons").click()
                await expect(builder).to_have_count(0)

                async def buttons_at_meta() -> bool:
                    return any(x["interactive"]["type"] == "button" for x in sent_to_maria(meta, "interactive"))
                await until(buttons_at_meta, "the sandbox received the buttons")
                sent = next(x for x in sent_to_maria(meta, "interactive") if x["interactive"]["type"] == "button")
                assert sent["interactive"]["body"] == {"text": "Confirma o pedido A-17?"}
                assert [(b["type"], b["reply"]["title"]) for b in sent["interactive"]["action"]["buttons"]] == [
                    ("reply", "Sim, confirmo"), ("reply", "Quero mudar"), ("reply", "Cancelar")]
                assert len({b["reply"]["id"] for b in sent["interactive"]["action"]["buttons"]}) == 3
                shown = bia.locator(".bubble.out").filter(has_text="Confirma o pedido A-17?")
                await expect(shown.locator(".bubble-buttons li")).to_have_text(["Sim, confirmo", "Quero mudar", "Cancelar"])

                # a list: button text, a section, rows with descriptions
                await bia.get_by_role("button", name="Buttons / list").click()
                await builder.get_by_role("radio", name="List").click()
                await builder.get_by_label("Message body").fill("Qual sabor?")
                await builder.get_by_label("List button text").fill("Ver sabores")
                await builder.get_by_label("Section title (optional)").fill("Pizzas")
                await builder.get_by_label("Row 1", exact=True).fill("Margherita")
                await builder.get_by_label("Row 1 description (optional)").fill("Tomate, muçarela e manjericão")
                await builder.get_by_role("button", name="Add row").click()
                await builder.get_by_label("Row 2", exact=True).fill("Calabresa")
                await screenshot(bia, "composer-05-list")
                await builder.get_by_role("button", name="Send list").click()
                await expect(builder).to_have_count(0)

                async def list_at_meta() -> bool:
                    return any(x["interactive"]["type"] == "list" for x in sent_to_maria(meta, "interactive"))
                await until(list_at_meta, "the sandbox received the list")
                sent = next(x for x in sent_to_maria(meta, "interactive") if x["interactive"]["type"] == "list")
                action = sent["interactive"]["action"]
                assert action["button"] == "Ver sabores"
                assert action["sections"][0]["title"] == "Pizzas"
                assert [(r["title"], r.get("description")) for r in action["sections"][0]["rows"]] == [
                    ("Margherita", "Tomate, muçarela e manjericão"), ("Calabresa", None)]

                # Shift+Enter is a new line, Enter sends
                composer = bia.get_by_label("Message", exact=True)
                await composer.fill("Linha um")
                await composer.press("Shift+Enter")
                await composer.press_sequentially("Linha dois")
                await expect(composer).to_have_value("Linha um\nLinha dois")
                await composer.press("Enter")
                await expect(composer).to_have_value("")

                async def text_at_meta() -> bool:
                    return any(x["text"]["body"] == "Linha um\nLinha dois" for x in sent_to_maria(meta, "text"))
                await until(text_at_meta, "the sandbox received the two lines")
                await expect(bia.locator(".bubble.out")).to_have_count(4)
                await screenshot(bia, "composer-06-history")
            finally:
                await browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


async def test_the_composer_in_portuguese_and_the_apis_refusals_in_place(web_with_meta):
    base, meta = web_with_meta
    meta.gate.set()
    await seed(base, template=False)
    errors: list[str] = []
    async with asyncio.timeout(120):
        from playwright.async_api import async_playwright
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            try:
                page = await signed_in(browser, base, "bia@pizza.example", errors, locale="pt-BR")
                await in_list(page, "mine").filter(has_text="Maria Silva").click()
                await page.locator('input[type="file"]').set_input_files(
                    {"name": "boleto.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"})
                await expect(page.locator(".attachment")).to_contain_text("Documento")
                await expect(page.get_by_label("Legenda (opcional)")).to_be_visible()
                await page.get_by_role("button", name="Botões / lista").click()
                await expect(page.get_by_label("Corpo da mensagem")).to_be_visible()
                await page.get_by_label("Botão 1", exact=True).fill("x" * 21)
                await expect(page.locator('[data-field="ia-buttons.0.title"] .field-problem')).to_have_text(
                    "No máximo 20 caracteres.")
                await screenshot(page, "composer-07-pt-BR")
                # Maria never wrote: the API refuses both (only a template reaches her), and says so in place
                await page.get_by_label("Botão 1", exact=True).fill("Sim")
                await page.get_by_label("Corpo da mensagem").fill("Confirma?")
                await page.get_by_role("button", name="Enviar botões").click()
                await expect(page.locator(".interactive-builder [role=alert]")).to_contain_text("24-hour")
                await page.get_by_role("button", name="Enviar arquivo").click()
                await expect(page.locator(".attachment [role=alert]")).to_contain_text("24-hour")
                assert not meta.state.accepted
                await screenshot(page, "composer-08-pt-BR-window-closed")
            finally:
                await browser.close()
    assert not errors, errors


async def test_a_template_with_a_header_and_a_link_button_is_sent_from_the_inbox(web_with_meta_and_worker):
    """The template picker asks for every value the template takes: its header's {{1}} and its link
    button's {{1}} beside the body's (it asked for the body only, and the send was refused for the
    header, which no field could give)."""
    base, meta = web_with_meta_and_worker
    meta.gate.set()
    errors: list[str] = []
    async with asyncio.timeout(300):
        from playwright.async_api import async_playwright
        seeded = await seed(base, template=False)
        admin = seeded["admin"]
        number = seeded["conversations"][MARIA]["whatsapp_number_id"]
        order = await admin.call("POST", "/templates", {
            "name": "order_update", "language": "pt_BR", "category": "UTILITY", "whatsapp_number_id": number,
            "header_type": "TEXT", "header_content": "Pedido {{1}}", "body_text": "Olá {{1}}, seu pedido saiu.",
            "variables": [{"name": "1", "example": "Maria"}, {"component": "header", "name": "1", "example": "A-1"}],
            "buttons": [{"type": "URL", "text": "Rastrear", "url": "https://pizza.example/track/{{1}}",
                         "example": "https://pizza.example/track/A-1"}]})
        await admin.call("POST", f"/templates/{order['id']}/submit", {})

        async def approved() -> bool:
            return (await admin.call("GET", f"/templates/{order['id']}"))["meta_status"] == "APPROVED"
        await until(approved, "the sandbox approved the template")
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            try:
                bia = await signed_in(browser, base, "bia@pizza.example", errors)
                await in_list(bia, "mine").filter(has_text="Maria Silva").click()
                await bia.get_by_role("button", name="Template", exact=True).click()
                await bia.get_by_label("Template", exact=True).select_option(label="order_update (pt_BR)")
                await bia.get_by_label("Value for {{1}}", exact=True).fill("Maria")
                await bia.get_by_role("button", name="Send template").click()
                await expect(bia.locator(".composer [role=alert]")).to_have_text("Give the header's value.")
                await bia.get_by_label("Header value for {{1}}").fill("A-77")
                await bia.get_by_role("button", name="Send template").click()
                await expect(bia.locator(".composer [role=alert]")).to_have_text("Give button 1's link value.")
                await bia.get_by_label("Button 1 link value for {{1}}").fill("A-77")
                await screenshot(bia, "inbox-template-header-button")
                await bia.get_by_role("button", name="Send template").click()

                async def at_meta() -> bool:
                    return bool(sent_to_maria(meta, "template"))
                await until(at_meta, "the sandbox received the template")
                assert sent_to_maria(meta, "template")[0]["template"]["components"] == [
                    {"type": "header", "parameters": [{"type": "text", "text": "A-77"}]},
                    {"type": "body", "parameters": [{"type": "text", "text": "Maria"}]},
                    {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "A-77"}]}]
                assert not meta.state.rejected
            finally:
                await browser.close()
    assert not errors, errors
