"""A template with a LOCATION header (Meta's fifth header format) in a real browser, Meta played by
the sandbox and a worker sending: the templates page writes one (no content: the place is each
send's; Utility and Marketing only) and Meta gets ``format: LOCATION``; the inbox's template picker
and the campaign form ask for the place (latitude, longitude, an optional name and address), check
it before the API sees it, and Meta gets it as the header's ``location`` parameter. Before, the
templates page offered no such header, and neither sending page had a field for it: the inbox's
send and every campaign recipient got "template.header_location" refused."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page, expect

from api.sandbox import webhooks

from .browser import designer
from .conftest import CHROMIUM_ARGS, MetaStandIn, chromium_path, screenshot
from .test_campaigns_page import WABA, counter, field, until
from .test_inbox_composer import sent_to_maria
from .test_inbox_page import MARIA, PNID, in_list, seed, signed_in

VISIT_US = {"id": "900003", "name": "visit_us", "language": "pt_BR", "status": "APPROVED", "category": "UTILITY",
            "components": [{"type": "HEADER", "format": "LOCATION"}, {"type": "BODY", "text": "Estamos aqui!"},
                           {"type": "FOOTER", "text": "Pizza Napoli"},
                           {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Como chegar?"}]}]}
PLACE = {"latitude": -8.0631, "longitude": -34.8711, "name": "Loja Recife"}


async def synced(call, meta: MetaStandIn) -> dict:  # noqa: ANN001
    """visit_us, approved at Meta, brought in by a sync: PyTake's row."""
    meta.state.templates.setdefault(WABA, []).append(dict(VISIT_US))
    await call("POST", "/templates/sync", {})
    return next(t for t in (await call("GET", "/templates?per_page=100"))["items"] if t["name"] == "visit_us")


async def designer_with_number(base: str, page: Page):  # noqa: ANN201
    """A designer signed in on ``page``, with a number on the sandbox's WABA."""
    me = await designer(base, page)
    await me.call("POST", "/whatsapp-numbers", {
        "phone_number": "+5511900001111", "phone_number_id": "109876543210", "display_name": "Pizza Napoli",
        "whatsapp_business_account_id": WABA})
    return me


def location_headers(meta: MetaStandIn) -> list:
    return [m["payload"]["template"]["components"] for m in meta.state.accepted
            if m["payload"].get("type") == "template" and m["payload"]["template"]["name"] == "visit_us"]


async def test_the_inbox_sends_a_location_header_template(web_with_meta_and_worker):
    base, meta = web_with_meta_and_worker
    meta.gate.set()
    errors: list[str] = []
    async with asyncio.timeout(300):
        from playwright.async_api import async_playwright
        seeded = await seed(base, template=False)
        template = await synced(seeded["admin"].call, meta)
        assert template["header_type"] == "LOCATION"
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            try:
                bia = await signed_in(browser, base, "bia@pizza.example", errors)
                await in_list(bia, "mine").filter(has_text="Maria Silva").click()
                await bia.get_by_role("button", name="Template", exact=True).click()
                await bia.get_by_label("Template", exact=True).select_option(label="visit_us (pt_BR)")
                place = bia.get_by_role("group", name="Header location")
                await expect(place).to_be_visible()
                await bia.get_by_role("button", name="Send template").click()
                await expect(bia.locator(".composer [role=alert]")).to_have_text(
                    "Give the place's latitude, a number from -90 to 90.")
                await place.get_by_label("Latitude").fill("-8,0631")  # a comma, as a Brazilian types it
                await place.get_by_label("Longitude").fill("200")
                await bia.get_by_role("button", name="Send template").click()
                await expect(bia.locator(".composer [role=alert]")).to_have_text(
                    "Give the place's longitude, a number from -180 to 180.")
                await place.get_by_label("Longitude").fill("-34.8711")
                await place.get_by_label("Place name (optional)").fill("Loja Recife")
                await screenshot(bia, "inbox-template-location")
                await bia.get_by_role("button", name="Send template").click()

                async def at_meta() -> bool:
                    return bool(sent_to_maria(meta, "template"))
                await until(at_meta, "the sandbox received the template")
                assert location_headers(meta) == [[{"type": "header", "parameters": [{"type": "location", "location": PLACE}]}]]
                await expect(place).to_have_count(0)  # sent: the picker closed
                assert not meta.state.rejected
                # the conversation shows what Maria got: the place, on a map, above the body
                bubble = bia.locator(".bubble.out").filter(has_text="Estamos aqui!")
                await expect(bubble.locator(".bubble-place")).to_have_text(re.compile(r"^\s*Loja Recife\s*Open the map$"))
                await expect(bubble.get_by_role("link", name="Open the map")).to_have_attribute(
                    "href", "https://www.openstreetmap.org/?mlat=-8.0631&mlon=-34.8711#map=16/-8.0631/-34.8711")
                await expect(bubble.locator(".bubble-footer")).to_have_text("Pizza Napoli")  # and its footer and button
                await expect(bubble.locator(".bubble-buttons li")).to_have_text(["Como chegar?"])
                # and Maria's answer, her own location, shows as a place too (it was "[location]")
                assert await meta.app.post_webhook(webhooks.inbound_message(PNID, MARIA, webhooks.location_message(
                    -8.05, -34.9, name="Casa", address="Rua da Aurora, 100, Recife")), PNID)
                shared = bia.locator(".bubble.in").filter(has_text="Casa")
                await expect(shared.locator(".bubble-place")).to_contain_text("Rua da Aurora, 100, Recife")
                await expect(shared.get_by_role("link", name="Open the map")).to_have_attribute(
                    "href", re.compile(r"mlat=-8\.05&mlon=-34\.9#"))
                await expect(shared.locator(".bubble-text")).to_have_count(0)  # the name once, in the place
                await expect(in_list(bia, "mine").filter(has_text="Maria Silva")).to_contain_text("[location] Casa")
                await screenshot(bia, "inbox-places")
            finally:
                await browser.close()
    assert not errors, errors


async def test_a_campaign_of_a_location_header_template(web_with_meta_and_worker, browser_page: Page):
    base, meta = web_with_meta_and_worker
    meta.gate.set()
    async with asyncio.timeout(300):
        page = browser_page
        me = await designer_with_number(base, page)
        await synced(me.call, meta)
        await me.call("POST", "/tags", {"name": "vip"})
        for i in range(3):
            await me.call("POST", "/contacts", {"whatsapp_id": f"55119{i:08d}", "tags": ["vip"]})

        await me.open("/app/campaigns/new")
        await page.get_by_label("Name", exact=True).fill("Nova loja")
        await page.get_by_label("Template").select_option(label="visit_us (pt_BR)")
        place = page.get_by_role("group", name="Header location")
        await page.get_by_role("group", name="Contacts with any of these tags").get_by_label("vip").check()
        await place.get_by_label("Latitude").fill("91")
        await page.get_by_role("button", name="Create and start").click()
        await expect(field(page, "message_content.header_location.latitude").locator(".field-problem")).to_have_text(
            "Give the place's latitude, a number from -90 to 90.")
        assert (await me.call("GET", "/campaigns"))["items"] == []
        await place.get_by_label("Latitude").fill("-8.0631")
        await expect(field(page, "message_content.header_location.latitude").locator(".field-problem")).to_have_count(0)
        await place.get_by_label("Longitude").fill("-34.8711")
        await place.get_by_label("Place name (optional)").fill("Loja Recife")
        await screenshot(page, "campaigns-location-form")
        await page.get_by_role("button", name="Create and start").click()
        await expect(page).to_have_url(re.compile(r"/app/campaigns/[0-9a-f-]{36}$"))
        await expect(counter(page, "sent_count")).to_have_text("3", timeout=120_000)
        campaign = await me.call("GET", "/campaigns/" + page.url.rsplit("/", 1)[1])
        assert campaign["message_content"]["header_location"] == PLACE
        assert location_headers(meta) == [[{"type": "header", "parameters": [{"type": "location", "location": PLACE}]}]] * 3
        assert not meta.state.rejected


async def test_the_templates_page_writes_a_location_header_template(web_with_meta, browser_page: Page):
    base, meta = web_with_meta
    meta.gate.set()
    async with asyncio.timeout(180):
        page = browser_page
        me = await designer_with_number(base, page)
        await me.open("/app/templates/new")
        await page.get_by_label("Name", exact=True).fill("nova_loja")
        await page.get_by_label("Category").select_option("AUTHENTICATION")
        await page.get_by_label("Header type").select_option("LOCATION")
        await expect(page.get_by_text("Each send gives the place: its latitude and longitude")).to_be_visible()
        await expect(page.get_by_label("Example file URL")).to_have_count(0)  # nothing to give here
        await page.get_by_label("Body", exact=True).fill("Abrimos uma loja perto de você!")
        preview = page.get_by_role("figure", name="Preview")
        await expect(preview.get_by_test_id("preview-header")).to_have_text("📍 Location")
        await page.get_by_role("button", name="Submit for review").click()
        await expect(field(page, "header_type").locator(".field-problem")).to_have_text(
            "A location header is for Utility and Marketing templates.")
        assert (await me.call("GET", "/templates"))["items"] == []
        await page.get_by_label("Category").select_option("MARKETING")
        await expect(field(page, "header_type").locator(".field-problem")).to_have_count(0)  # fixed: it goes
        await screenshot(page, "templates-location-form")
        await page.get_by_role("button", name="Submit for review").click()
        row = page.locator(".template-row[data-name='nova_loja']")
        await expect(row.locator(".status-pill")).to_have_text("Approved")
        at_meta = meta.state.templates[WABA]
        assert [t["components"][0] for t in at_meta] == [{"type": "HEADER", "format": "LOCATION"}]
        assert (await me.call("GET", "/templates"))["items"][0]["header_type"] == "LOCATION"
