"""The web app under its Content-Security-Policy (api/web_app.py, docs/web.md "Security headers"), in
Chromium: an admin logs in through the login page, opens the flows, edits and saves a flow in the
editor, reads a conversation in the inbox over the live socket with the bot's picture sent by URL (from
another host) and the customer's photo (fetched with the token, shown from a blob: URL), and opens the
templates, campaigns, analytics and logs pages, and nothing the app does is refused: no
`securitypolicyviolation` event and no CSP message in the console. The policy is really enforced: a
script put into the page, and an eval(), do not run, and that is reported."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, Route, expect

from api.sandbox import webhooks

from .conftest import MetaStandIn, screenshot
from .test_inbox_bot_media import MENU, seed
from .test_inbox_composer import CUSTOMER_PHOTO
from .test_inbox_page import MARIA, PASSWORD, PNID, in_list, until

# in every document of the page, before the app's script: each violation goes to the test
REPORT_VIOLATIONS = """document.addEventListener('securitypolicyviolation', (e) =>
  window.cspViolation(`${e.effectiveDirective} refused ${e.blockedURI || '(inline)'} on ${location.pathname}`));"""


async def watch_policy(page: Page) -> tuple[list[str], list[str]]:
    """The page's CSP violations (events) and its console messages that name the policy."""
    violations: list[str] = []
    console: list[str] = []
    await page.expose_function("cspViolation", lambda text: violations.append(text))
    await page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}")
            if "Content Security Policy" in m.text or "Refused to" in m.text else None)
    return violations, console


async def test_every_main_page_works_under_the_content_security_policy(web_with_meta_and_worker,
                                                                        browser_page: Page):
    base, meta = web_with_meta_and_worker
    meta: MetaStandIn
    meta.gate.set()
    page = browser_page
    async with asyncio.timeout(300):
        admin = await seed(base)
        await admin.call("POST", "/templates", {"name": "order_shipped", "language": "pt_BR", "category": "UTILITY",
                                                "body_text": "Seu pedido saiu para entrega"})
        # Maria writes: the bot sends the menu's picture by URL, then hands her to Vendas' queue
        assert await meta.app.post_webhook(webhooks.inbound_message(
            PNID, MARIA, webhooks.text_message("Oi, qual o cardápio?"), profile_name="Maria"), PNID)

        async def handed_over() -> bool:
            items = (await admin.call("GET", "/conversations?status=waiting_in_queue"))["items"]
            return bool(items)
        await until(handed_over, "the bot handed Maria to Vendas")

        violations, console = await watch_policy(page)

        async def cdn(route: Route) -> None:  # the picture's host, as the browser reaches it
            await route.fulfill(status=200, content_type="image/png", body=MENU)
        await page.route("https://cdn.pizza.example/**", cdn)

        # the login page, used for real
        response = await page.goto(base + "/app/login")
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, policy
        assert response.headers.get("x-content-type-options") == "nosniff"
        assert response.headers.get("referrer-policy") == "same-origin"
        await page.get_by_label("Email").fill("ana@pizza.example")
        await page.get_by_label("Password").fill(PASSWORD)
        await screenshot(page, "csp-01-login")
        await page.get_by_role("button", name="Log in").click()

        # the flows list, then the editor: a node's form, the live lint, a save
        await expect(page.get_by_role("heading", name="Flows")).to_be_visible()
        await expect(page.locator(".flow-row").filter(has_text="Menu")).to_be_visible()
        await screenshot(page, "csp-02-flows")
        await page.locator(".flow-row").filter(has_text="Menu").get_by_role("link", name="Open").click()
        await expect(page.get_by_test_id("node-menu")).to_be_visible()
        await page.get_by_test_id("node-menu").click()
        await expect(page.get_by_role("complementary", name="Properties")).to_be_visible()
        await page.get_by_role("toolbar").get_by_role("button", name="Save", exact=True).click()
        await expect(page.get_by_role("status").filter(has_text="Draft saved as version")).to_be_visible()
        await screenshot(page, "csp-03-editor")

        # the inbox: live, the bot's picture from its host, then the customer's photo from a blob: URL
        await page.goto(base + "/app/inbox")
        await expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
        await in_list(page, "queue").filter(has_text="Maria").click()
        menu = page.locator(".bubble.out").filter(has_text="Nosso cardápio da semana")
        await expect(menu.get_by_role("img", name="Image")).to_have_js_property("naturalWidth", 160)
        photo = meta.state.add_media(CUSTOMER_PHOTO, "image/png")
        assert await meta.app.post_webhook(webhooks.inbound_message(
            PNID, MARIA, webhooks.media_message("image", photo, caption="Essa pizza tem?"), profile_name="Maria"), PNID)
        inbound = page.locator(".bubble.in").filter(has_text="Essa pizza tem?")
        await expect(inbound.locator("img")).to_have_js_property("naturalWidth", 120, timeout=60_000)
        assert (await inbound.locator("img").get_attribute("src")).startswith("blob:")
        await screenshot(page, "csp-04-inbox")

        # templates (the list and the form), campaigns (the list and the form), analytics, logs
        await page.get_by_role("link", name="Templates").click()
        await expect(page.locator(".template-row")).to_have_count(1)
        await page.get_by_role("link", name="New template").click()
        await expect(page.get_by_label("Name", exact=True)).to_be_visible()
        await screenshot(page, "csp-05-template-form")
        await page.get_by_role("link", name="Campaigns").click()
        await page.get_by_role("link", name="New campaign").click()
        await expect(page.get_by_label("Name", exact=True)).to_be_visible()
        await screenshot(page, "csp-06-campaign-form")
        await page.get_by_role("link", name="Analytics").click()
        await expect(page.get_by_role("heading", name="Analytics")).to_be_visible()
        await page.get_by_role("link", name="Logs").click()
        await expect(page.get_by_role("heading", name="Logs")).to_be_visible()
        await screenshot(page, "csp-07-logs")

        assert violations == [], violations
        assert console == [], console

        # the policy is enforced: an injected script and an eval() do not run, and both are reported
        # (the eval in a task of the page's own: the test's evaluate() itself is exempt from the policy)
        await page.evaluate("""() => {
            const s = document.createElement('script');
            s.textContent = 'window.injected = true';
            document.body.appendChild(s);
            setTimeout(() => {
                try { eval('1 + 1'); window.evaluated = 'ran'; } catch (e) { window.evaluated = e.name; }
            });
        }""")
        await page.wait_for_function("() => window.evaluated !== undefined")
        assert await page.evaluate("() => [window.injected === true, window.evaluated]") == [False, "EvalError"]

        async def both_reported() -> bool:
            return {v.split(" ")[0] for v in violations} == {"script-src-elem", "script-src"}
        await until(both_reported, f"the injected script and the eval() reported as violations: {violations}")
