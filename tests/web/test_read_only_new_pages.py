"""A role that may not create templates or campaigns (an agent; a viewer likewise, docs/permissions.md)
is not linked to their forms (test_read_only_roles.py). One who types the address in is told plainly
that their role cannot create them, and gets no form that the API would refuse on submit (403)."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from .browser import designer
from .conftest import screenshot
from .test_read_only_roles import PASSWORD, sign_in

NEW_PAGES = [  # address, the form's name, what a role that may not create is told
    ("/app/templates/new", "New template", "Your role can look at templates, not create them."),
    ("/app/campaigns/new", "New campaign", "Your role can look at campaigns, not create them."),
]


async def test_an_agent_who_types_a_new_template_or_campaign_address_is_told_they_may_not_create_one(
        web_server, browser_page: Page):
    async with asyncio.timeout(150):
        page = browser_page
        admin = await designer(web_server, page)
        await admin.call("POST", "/users", {"email": "bia@pizza.example", "password": PASSWORD,
                                            "full_name": "Bia Lima", "role": "agent"})

        # the admin gets the forms (so the agent's pages below are missing them because of its role)
        for path, form, _ in NEW_PAGES:
            await admin.open(path)
            await expect(page.get_by_role("form", name=form)).to_be_visible()
            await expect(page.get_by_role("note")).to_have_count(0)

        await sign_in(page, web_server, "bia@pizza.example")
        for path, form, told in NEW_PAGES:
            await page.goto(web_server + path)
            await expect(page.locator("header.app-header")).to_have_attribute("data-role", "agent")  # /auth/me answered
            await expect(page.get_by_role("heading", name=form)).to_be_visible()
            await expect(page.get_by_role("note")).to_have_text(told)
            await expect(page.get_by_role("form")).to_have_count(0)
            await expect(page.get_by_role("textbox")).to_have_count(0)
            await screenshot(page, "read-only-" + path.split("/")[2] + "-new")
