"""The editor's "Recent errors" panel: failures of the live flow with customers, as the
runtime records them on each inbound message (metadata.run), naming the node; a click
shows the node on the canvas."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import asyncpg
from playwright.async_api import Page, expect

from .browser import designer, edge, node
from .conftest import screenshot

CANVAS = {
    "nodes": [node("start", "start", {}, 0, 0),
              node("lookup", "api_call", {"url": "http://127.0.0.1:9/orders"}, 300, 0),
              node("ok", "message", {"text": "Found it"}, 620, -80), node("sorry", "message", {"text": "Down"}, 620, 120)],
    "edges": [edge("start", "lookup"), edge("lookup", "ok", "success"), edge("lookup", "sorry", "error")],
}


async def test_recent_errors_name_the_node(web_server, browser_page: Page, database_url: str):
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        flow = await me.flow("Orders", CANVAS, publish=True)
        contact = await me.call("POST", "/contacts", {"whatsapp_id": "5511900000077"})
        conversation = await me.call("POST", "/conversations", {"contact_id": contact["id"]})
        # what the runtime writes on the customer's message when the call fails
        run = {"status": "ended", "flow_id": flow["id"], "outbound": 1, "failed_calls": [
            {"type": "api_called", "node": "lookup", "method": "GET", "url": "http://127.0.0.1:9/orders",
             "status": 0, "ok": False, "error": "private_address", "message": "private addresses are refused"}]}
        conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            await conn.execute("INSERT INTO messages (conversation_id, direction, sender_type, type, content, metadata) "
                               "VALUES ($1, 'inbound', 'contact', 'text', $2::jsonb, $3::jsonb)",
                               uuid.UUID(conversation["id"]), json.dumps({"text": "meu pedido"}),
                               json.dumps({"processed": True, "run": run}))
        finally:
            await conn.close()

        await me.open(f"/app/flows/{flow['id']}")
        await expect(page.get_by_test_id("node-lookup")).to_be_visible()
        await page.get_by_role("tab", name="Recent errors").click()
        panel = page.get_by_role("region", name="Recent errors")
        item = panel.get_by_role("button", name="failed call lookup")
        await expect(item).to_contain_text("http://127.0.0.1:9/orders")
        await expect(item).to_contain_text("private_address")
        await item.click()
        await expect(page.get_by_test_id("node-lookup")).to_have_class(re.compile(r"\bselected\b"))
        await screenshot(page, "run-errors-01")
