"""The editor's path-analytics overlay in a real browser: customers run through a published
flow (Meta played by the sandbox, the worker of `pytake serve` running the steps), one of them
silent for 25 hours; a designer turns Analytics on and reads each node's entries and drop-off
and each edge's count on the canvas, as GET /flows/{id}/analytics reports them."""

from __future__ import annotations

import asyncio
import re
import time

import asyncpg
from playwright.async_api import Page, expect

from api.sandbox import webhooks

from .browser import Designer, designer, edge, node
from .conftest import MetaStandIn, screenshot

PNID = "109876543299"
MENU = {
    "nodes": [node("start", "start", {}, 0, 0),
              node("menu", "question", {"text": "Escolha", "variable": "choice", "options": [
                  {"id": "pizza", "title": "Pizza"}, {"id": "human", "title": "Atendente"}]}, 260, 0),
              node("pizza", "message", {"text": "Pizza escolhida"}, 620, -140),
              node("handoff", "handoff", {"department": "Suporte", "message": "Um atendente vai falar com você."}, 620, 160),
              node("end", "end", {}, 940, -140)],
    "edges": [edge("start", "menu"), edge("menu", "pizza", "pizza"), edge("menu", "handoff", "human"),
              edge("pizza", "end")],
}
CUSTOMERS = ("5511900000101", "5511900000102", "5511900000103", "5511900000104")


async def analytics_until(me: Designer, flow_id: str, check, what: str) -> dict:  # noqa: ANN001
    """GET the flow's analytics (each read flushes the counts) until `check(report)` holds."""
    deadline = time.monotonic() + 90
    while True:
        report = await me.call("GET", f"/flows/{flow_id}/analytics")
        if check(report):
            return report
        assert time.monotonic() < deadline, f"never: {what}; last report {report}"
        await asyncio.sleep(0.2)


def node_counts(report: dict) -> dict[str, int]:
    return {n["node_id"]: n["count"] for n in report["nodes"]}


async def test_analytics_overlay_shows_the_counts_of_real_runs(web_with_meta_and_worker, browser_page: Page,
                                                                database_url: str):
    base, meta = web_with_meta_and_worker
    meta: MetaStandIn
    meta.gate.set()
    async with asyncio.timeout(240):
        page = browser_page
        me = await designer(base, page)
        await me.call("POST", "/whatsapp-numbers", {
            "phone_number": "+5511900002222", "phone_number_id": PNID, "display_name": "Pizza Napoli",
            "whatsapp_business_account_id": "102290129340398"})
        flow = await me.call("POST", "/flows", {"chatbot_id": me.chatbot["id"], "name": "Cardápio", "type": "main"})
        await me.call("PUT", f"/flows/{flow['id']}/canvas", {"canvas": MENU, "publish": True})

        # four customers say hi; two pick pizza, one asks for a person, one never answers
        for wa_id in CUSTOMERS:
            assert await meta.app.post_webhook(
                webhooks.inbound_message(PNID, wa_id, webhooks.text_message("oi")), PNID)
        await analytics_until(me, flow["id"], lambda r: node_counts(r).get("menu") == 4, "4 customers at the menu")
        for wa_id, (reply, title) in zip(CUSTOMERS, [("pizza", "Pizza"), ("pizza", "Pizza"), ("human", "Atendente")]):
            assert await meta.app.post_webhook(
                webhooks.inbound_message(PNID, wa_id, webhooks.button_reply(reply, title)), PNID)
        await analytics_until(me, flow["id"], lambda r: node_counts(r).get("end") == 2
                              and node_counts(r).get("handoff") == 1, "the replies went through")
        # the silent one's last activity was 25 hours ago: an idle drop-off at the menu
        conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            await conn.execute("UPDATE conversations c SET updated_at = now() - interval '25 hours' FROM contacts k "
                               "WHERE k.id = c.contact_id AND k.whatsapp_id = $1", CUSTOMERS[3])
        finally:
            await conn.close()
        report = await analytics_until(me, flow["id"], lambda r: r["drop_off"], "the idle drop-off")
        assert node_counts(report) == {"start": 4, "menu": 4, "pizza": 2, "end": 2, "handoff": 1}
        assert [(d["node_id"], d["reason"], d["count"]) for d in report["drop_off"]] == [("menu", "idle", 1)]

        await me.open(f"/app/flows/{flow['id']}")
        await expect(page.get_by_test_id("node-menu")).to_be_visible()
        # off by default: no figures on the canvas
        toggle = page.get_by_role("button", name="Analytics")
        await expect(toggle).to_have_attribute("aria-pressed", "false")
        await expect(page.get_by_test_id("node-analytics")).to_have_count(0)
        await toggle.click()
        await expect(page.get_by_test_id("analytics-version")).to_have_text("Live version 1")
        await expect(page.get_by_label("Analytics period")).to_have_value("7d")

        def figures(node_id: str):
            return page.get_by_test_id(f"node-{node_id}").get_by_test_id("node-analytics")
        await expect(figures("start")).to_contain_text("4 entered")
        await expect(figures("menu")).to_contain_text("4 entered")
        await expect(figures("menu").locator(".node-drop")).to_have_text("1 dropped (25%)")
        await expect(figures("menu").locator(".node-drop")).to_have_class(re.compile(r"\bdrop-mid\b"))
        await expect(figures("pizza")).to_contain_text("2 entered")
        await expect(figures("pizza").locator(".node-drop")).to_have_text("0 dropped (0%)")
        await expect(figures("handoff")).to_contain_text("1 entered")
        await expect(figures("end")).to_contain_text("2 entered")

        def label(edge_id: str):
            return page.get_by_test_id(f"rf__edge-{edge_id}").locator(".react-flow__edge-text")
        await expect(label("e_start_next_menu")).to_have_text("next · 4")
        await expect(label("e_menu_pizza_pizza")).to_have_text("pizza · 2")
        await expect(label("e_menu_human_handoff")).to_have_text("human · 1")
        await expect(label("e_pizza_next_end")).to_have_text("next · 2")
        # busier edges are drawn thicker: the busiest (4 runs) at 6px, one run of four at 3.8px
        stroke = "(el) => getComputedStyle(el).strokeWidth"
        path = page.get_by_test_id("rf__edge-e_start_next_menu").locator("path.react-flow__edge-path")
        assert await path.evaluate(stroke) == "6px"
        path = page.get_by_test_id("rf__edge-e_menu_human_handoff").locator("path.react-flow__edge-path")
        assert await path.evaluate(stroke) == "3.8px"
        await expect(page.get_by_role("note", name="Path analytics")).to_be_visible()
        await screenshot(page, "editor-analytics-01")

        # the overlay does not get in the way of editing: a node still drags, the figures stay
        box = await page.get_by_test_id("node-end").bounding_box()
        await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 8)
        await page.mouse.down()
        await page.mouse.move(box["x"] + box["width"] / 2 + 60, box["y"] + 48, steps=6)
        await page.mouse.up()
        await expect(page.get_by_text("Unsaved changes")).to_be_visible()
        await expect(figures("end")).to_contain_text("2 entered")

        # the last 24 hours: the idle drop-off (counted in the hour of the last activity, 25 hours
        # ago) is out of the period, the runs of this hour are in; off again: the plain labels
        await page.get_by_label("Analytics period").select_option("24h")
        await expect(figures("menu").locator(".node-drop")).to_have_text("0 dropped (0%)")
        await expect(figures("menu")).to_contain_text("4 entered")
        await toggle.click()
        await expect(page.get_by_test_id("node-analytics")).to_have_count(0)
        await expect(label("e_menu_pizza_pizza")).to_have_text("pizza")

        # a new live version has no runs yet; viewing version 1 shows version 1's counts
        changed = {**MENU, "nodes": [*MENU["nodes"][:2], node("pizza", "message", {"text": "Pizza!"}, 620, -140),
                                     *MENU["nodes"][3:]]}
        await me.call("PUT", f"/flows/{flow['id']}/canvas", {"canvas": changed, "publish": True})
        page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # the unsaved drag
        await page.reload()
        await expect(page.get_by_test_id("node-menu")).to_be_visible()
        await toggle.click()
        await expect(page.get_by_test_id("analytics-version")).to_have_text("Live version 2")
        await expect(figures("menu")).to_contain_text("0 entered")
        await expect(label("e_menu_pizza_pizza")).to_have_text("pizza · 0")
        await page.get_by_role("tab", name="Versions").click()
        versions = page.get_by_role("region", name="Versions")
        await versions.get_by_role("listitem", name="Version 1").get_by_role("button", name="View").click()
        await expect(page.get_by_test_id("analytics-version")).to_have_text("Version 1")
        await expect(figures("menu")).to_contain_text("4 entered")
        await expect(label("e_menu_pizza_pizza")).to_have_text("pizza · 2")
        await screenshot(page, "editor-analytics-02-version")
