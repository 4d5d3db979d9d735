"""What a person does in the editor, as Playwright steps shared by the browser tests,
and the API's view of a flow read with the page's own token."""

from __future__ import annotations

import json
import re

import httpx
from playwright.async_api import Page, expect

# httpx's default is 5 s: on a loaded machine a publish or a sign-up took longer (ReadTimeout);
# each test bounds a hang with its own asyncio.timeout.
API_TIMEOUT = 60.0


async def drag_from_palette(page: Page, node_type: str, x: int, y: int) -> None:
    palette = page.get_by_role("complementary", name="Nodes")
    await palette.get_by_text(node_type, exact=True).drag_to(
        page.locator(".react-flow__pane"), target_position={"x": x, "y": y})


async def settled_box(page: Page, locator) -> dict:
    """The element's box once it stops moving (the canvas may be panning)."""
    previous = None
    for _ in range(200):
        await page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        box = await locator.bounding_box()
        if box is not None and box == previous:
            return box
        previous = box
    raise AssertionError(f"{locator} never stopped moving")


async def connect(page: Page, source: str, handle: str, target: str) -> None:
    """Press on the source node's handle, move to the target node's entry, release."""
    start = await settled_box(page, page.get_by_test_id(f"node-{source}").locator(
        f".react-flow__handle.source[data-handleid='{handle}']"))
    end = await settled_box(page, page.get_by_test_id(f"node-{target}").locator(".react-flow__handle.target"))
    await page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
    # the press landed on the handle (a press beside it pans the canvas instead) and the target takes it
    await expect(page.locator(".react-flow__connectionline")).to_have_count(1)
    await expect(page.get_by_test_id(f"node-{target}").locator(".react-flow__handle.target")).to_have_class(
        re.compile(r"\bvalid\b"))
    await page.mouse.up()


async def saved_canvas(page: Page, flow_id: str) -> dict:
    """The flow's canvas as the API has it (with the page's own token)."""
    return await page.evaluate("""async (id) => {
        const {access_token} = JSON.parse(localStorage.getItem('pytake.tokens'));
        const r = await fetch('/flows/' + id, {headers: {Authorization: 'Bearer ' + access_token}});
        return (await r.json()).canvas_data;
    }""", flow_id)


async def live_version(page: Page, flow_id: str) -> int | None:
    """The version customers get (the API's ``current`` one), with the page's own token."""
    return await page.evaluate("""async (id) => {
        const {access_token} = JSON.parse(localStorage.getItem('pytake.tokens'));
        const r = await fetch('/flows/' + id + '/versions', {headers: {Authorization: 'Bearer ' + access_token}});
        const live = (await r.json()).items.filter((v) => v.current);
        return live.length ? live[0].version : null;
    }""", flow_id)


def accept_next_dialog(page: Page) -> list[str]:
    """Accept the next confirm() the page opens; the list gets its message."""
    asked: list[str] = []

    async def accept(dialog) -> None:  # noqa: ANN001
        asked.append(dialog.message)
        await dialog.accept()
    page.once("dialog", accept)
    return asked


class Designer:
    """A signed-up flow designer: the API with their token, and their browser page signed in."""

    def __init__(self, base: str, page: Page, tokens: dict, user: dict) -> None:
        self.base, self.page, self.tokens, self.user = base, page, tokens, user
        self.chatbot: dict = {}

    async def call(self, method: str, path: str, body=None) -> dict:  # noqa: ANN001
        async with httpx.AsyncClient(base_url=self.base, timeout=API_TIMEOUT) as client:
            r = await client.request(method, path, json=body,
                                     headers={"Authorization": f"Bearer {self.tokens['access_token']}"})
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else {}

    async def flow(self, name: str, canvas: dict | None = None, *, publish: bool = False) -> dict:
        """A flow of the designer's chatbot, its canvas saved (a draft unless `publish`)."""
        flow = await self.call("POST", "/flows", {"chatbot_id": self.chatbot["id"], "name": name})
        if canvas is not None:
            await self.call("PUT", f"/flows/{flow['id']}/canvas", {"canvas": canvas, "publish": publish})
        return flow

    async def open(self, path: str) -> None:
        await self.page.goto(self.base + path)


async def admin_with_number(base: str, pnid: str, password: str = "correct horse battery") -> tuple[Designer, dict]:
    """Ana Souza signs Pizza Napoli up through the API (its calls only: no page of her own) and adds
    its WhatsApp number, +55 11 90000-1111 (Meta's id ``pnid``): the admin and the number."""
    async with httpx.AsyncClient(base_url=base, timeout=API_TIMEOUT) as client:
        r = await client.post("/auth/signup", json={"organization_name": "Pizza Napoli", "full_name": "Ana Souza",
                                                    "email": "ana@pizza.example", "password": password})
        assert r.status_code == 201, r.text
    admin = Designer(base, None, r.json(), r.json()["user"])
    number = await admin.call("POST", "/whatsapp-numbers", {
        "phone_number": "+5511900001111", "phone_number_id": pnid, "display_name": "Pizza Napoli",
        "whatsapp_business_account_id": "102290129340398"})
    return admin, number


async def designer(base: str, page: Page, email: str = "ana@pizza.example") -> Designer:
    """Sign up (Ana Souza of Pizza Napoli) through the API, create a chatbot, and sign the page in."""
    async with httpx.AsyncClient(base_url=base, timeout=API_TIMEOUT) as client:
        r = await client.post("/auth/signup", json={"organization_name": "Pizza Napoli", "full_name": "Ana Souza",
                                                    "email": email, "password": "correct horse battery"})
        assert r.status_code == 201, r.text
    body = r.json()
    tokens = {"access_token": body["access_token"], "refresh_token": body["refresh_token"]}
    me = Designer(base, page, tokens, body["user"])
    me.chatbot = await me.call("POST", "/chatbots", {"name": "Pedidos"})
    await page.goto(base + "/app/login")
    await page.evaluate("([t, bot]) => { localStorage.setItem('pytake.tokens', t); localStorage.setItem('pytake.chatbot', bot); }",
                        [json.dumps(tokens), me.chatbot["id"]])
    return me


def node(node_id: str, kind: str, data: dict, x: int = 0, y: int = 0) -> dict:
    return {"id": node_id, "type": kind, "position": {"x": x, "y": y}, "data": data}


def edge(source: str, target: str, handle: str | None = None) -> dict:
    out = {"id": f"e_{source}_{handle or 'next'}_{target}", "source": source, "target": target}
    if handle:
        out["sourceHandle"] = handle
    return out
