"""The simulator as a person meets it on a slow or failing network: opened while the flow's canvas
is still on its way, it waits for it (it ran an empty canvas and showed an error until Restart);
a message the API did not take stays in the field to send again (it was cleared, and lost)."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from .browser import designer
from .test_editor_simulator_versions import pizza


async def test_the_simulator_waits_for_the_canvas_and_keeps_a_refused_message(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        flow = await me.flow("Order", pizza())
        asked, gate = asyncio.Event(), asyncio.Event()

        async def hold(route) -> None:  # noqa: ANN001 - the API's GET /flows/<id>, held back once
            asked.set()
            await gate.wait()
            await route.continue_()
        await page.route(lambda url: url.endswith(f"/flows/{flow['id']}") and "/app/" not in url, hold)
        await me.open(f"/app/flows/{flow['id']}")
        await asked.wait()
        await page.get_by_role("tab", name="Simulator").click()
        gate.set()
        sim = page.get_by_role("region", name="Simulator")
        chat = sim.get_by_role("list", name="Conversation")
        await expect(chat.get_by_label("Bot").first).to_contain_text("Which size?")  # the flow's, not an empty one
        await expect(sim.get_by_role("alert")).to_have_count(0)

        # the network drops the next step: the typed answer stays, and goes once the network is back
        dropped = asyncio.Event()

        async def drop_once(route) -> None:  # noqa: ANN001
            if not dropped.is_set():
                dropped.set()
                await route.abort()
            else:
                await route.continue_()
        await page.route(lambda url: url.endswith(f"/flows/{flow['id']}/simulate"), drop_once)
        field = sim.get_by_label("Message as the customer")
        await field.fill("small")
        await sim.get_by_role("button", name="Send").click()
        await expect(sim.get_by_role("alert")).to_be_visible()
        await expect(field).to_have_value("small")
        await expect(chat.get_by_label("You")).to_have_count(0)
        await sim.get_by_role("button", name="Send").click()
        await expect(chat.get_by_label("You")).to_have_text("small")
        await expect(chat.get_by_label("Bot").last).to_have_text("A Small pizza, noted!")
        await expect(field).to_have_value("")
