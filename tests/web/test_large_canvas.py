"""A large canvas (more than 200 nodes) opens drawing only the nodes on screen; a node
brought on screen later is drawn with its edges ending at its real handles."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page, expect

from .browser import designer, edge, node, settled_box
from .conftest import screenshot

COUNT, FAR = 230, "n205"


def grid_canvas() -> dict:
    """start → message × 228 → end, ten a row; the far node is a question with a long label
    whose `invalid` way out leads nowhere (a warning on it)."""
    nodes = []
    for i in range(COUNT):
        kind = "start" if i == 0 else "end" if i == COUNT - 1 else "message"
        data = {} if kind != "message" else {"text": f"Message {i}"}
        if f"n{i}" == FAR:
            kind, data = "question", {"label": "A long label that wraps over more than one line of the node",
                                      "text": "Which size?", "variable": "size"}
        nodes.append(node(f"n{i}", kind, data, (i % 10) * 300, (i // 10) * 400))
    return {"nodes": nodes, "edges": [edge(f"n{i}", f"n{i + 1}") | {"id": f"e{i}"} for i in range(COUNT - 1)]}


END_AND_HANDLE = """([edgeId, nodeId, handle]) => {
    const path = document.querySelector(`.react-flow__edge[data-id="${edgeId}"] path.react-flow__edge-path`);
    const at = handle === 'target' ? path.getTotalLength() : 0;
    const p = new DOMPoint(path.getPointAtLength(at).x, path.getPointAtLength(at).y).matrixTransform(path.getScreenCTM());
    const h = document.querySelector(`[data-testid="node-${nodeId}"] .react-flow__handle.${handle}`).getBoundingClientRect();
    return {edge: [p.x, p.y], handle: [handle === 'target' ? h.left : h.right, h.top + h.height / 2]};
}"""


async def test_a_large_canvas_draws_what_is_on_screen_and_edges_meet_their_handles(web_server, browser_page: Page):
    async with asyncio.timeout(150):
        page = browser_page
        me = await designer(web_server, page)
        flow = await me.flow("Big", grid_canvas())
        await me.open(f"/app/flows/{flow['id']}")
        await expect(page.get_by_test_id("node-n1")).to_be_visible(timeout=60_000)
        drawn = await page.locator(".react-flow__node").count()
        assert 0 < drawn < COUNT // 2, drawn
        await expect(page.get_by_test_id(f"node-{FAR}")).to_have_count(0)

        # the far node's problem brings it on screen: drawn, and its edges end at its handles
        problem = page.get_by_role("region", name="Problems").get_by_role("button", name=re.compile(FAR))
        await problem.first.click()
        far = page.get_by_test_id(f"node-{FAR}")
        await expect(far).to_be_visible()
        await expect(far).to_contain_text("A long label")
        await settled_box(page, far)
        for edge_id, handle in (("e204", "target"), ("e205", "source")):
            ends = await page.evaluate(END_AND_HANDLE, [edge_id, FAR, handle])
            assert abs(ends["edge"][0] - ends["handle"][0]) < 2 and abs(ends["edge"][1] - ends["handle"][1]) < 2, (edge_id, ends)
        await screenshot(page, "large-01-far-node")
