"""The signup page's refusals, as the API words them, named by the field's label once: a short
password (422) and an e-mail already taken (409)."""

from __future__ import annotations

import asyncio

import httpx
from playwright.async_api import Page, expect

from .browser import API_TIMEOUT


async def test_a_refused_signup_names_the_field_once(web_server, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        async with httpx.AsyncClient(base_url=web_server, timeout=API_TIMEOUT) as client:
            r = await client.post("/auth/signup", json={"organization_name": "Pizza Napoli", "full_name": "Ana Souza",
                                                        "email": "ana@pizza.example", "password": "correct horse battery"})
            assert r.status_code == 201, r.text
        await page.goto(web_server + "/app/signup")
        await page.get_by_label("Organization name").fill("Outra Pizzaria")
        await page.get_by_label("Full name").fill("Bruno Dias")
        await page.get_by_label("Email").fill("ana@pizza.example")
        await page.get_by_label("Password").fill("short")
        await page.get_by_role("button", name="Sign up").click()
        await expect(page.get_by_role("alert")).to_have_text("Password: String should have at least 8 characters")

        await page.get_by_label("Password").fill("a long enough password")
        await page.get_by_role("button", name="Sign up").click()
        await expect(page.get_by_role("alert")).to_have_text("Email: an account with this email already exists")
