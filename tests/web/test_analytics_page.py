"""The analytics page in a real browser: snapshots computed from rows inserted in SQL (in the
organization's timezone) are drawn as bar and line charts; the period switch asks for weeks."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from playwright.async_api import Page, expect
from sqlalchemy import text

from api.analytics import backfill_snapshots
from api.db.session import Database

from .browser import designer
from .conftest import screenshot

ZONE = ZoneInfo("America/Sao_Paulo")


def local_noon(days_ago: int) -> datetime:
    today = datetime.now(ZONE).date() - timedelta(days=days_ago)
    return datetime(today.year, today.month, today.day, 12, tzinfo=ZONE).astimezone(timezone.utc)


async def seed(database_url: str, org: str) -> None:
    """Two local days: 2 days ago 3 messages in, 2 out, 2 bot runs (one handed off); yesterday 1 in,
    1 out, 1 run that ended."""
    db = Database(database_url)
    try:
        async with db.transaction() as s:
            async def one(sql: str, **params):  # noqa: ANN202
                return (await s.execute(text(sql), params)).scalar()
            for days_ago, inbound, outbound, runs in ((2, 3, 2, ("handoff", None)), (1, 1, 1, ("ended",))):
                at = local_noon(days_ago)
                contact = await one("INSERT INTO contacts (organization_id, whatsapp_id, created_at) "
                                    "VALUES (:o, :w, :at) RETURNING id", o=org, w=f"5511900{days_ago}", at=at)
                conv = await one("INSERT INTO conversations (organization_id, contact_id, created_at) "
                                 "VALUES (:o, :c, :at) RETURNING id", o=org, c=contact, at=at)
                for i, direction in enumerate(["inbound"] * inbound + ["outbound"] * outbound):
                    await s.execute(text("INSERT INTO messages (conversation_id, direction, content, created_at) "
                                         "VALUES (:c, :d, '{}'::jsonb, :at)"),
                                    {"c": conv, "d": direction, "at": at + timedelta(minutes=i)})
                for outcome in runs:
                    await s.execute(text("INSERT INTO events (organization_id, type, payload, occurred_at) "
                                         "VALUES (:o, 'flow.started', '{}'::jsonb, :at)"), {"o": org, "at": at})
                    if outcome:
                        await s.execute(text("INSERT INTO events (organization_id, type, payload, occurred_at) "
                                             "VALUES (:o, 'flow.completed', CAST(:p AS jsonb), :at)"),
                                        {"o": org, "at": at, "p": json.dumps({"outcome": outcome, "duration_ms": 1000})})
        now = datetime.now(timezone.utc)
        await backfill_snapshots(db, now - timedelta(days=3), now, periods=("day", "week"))
    finally:
        await db.dispose()


async def test_the_analytics_page_draws_the_snapshots(web_server, database_url, browser_page: Page):
    async with asyncio.timeout(120):
        page = browser_page
        me = await designer(web_server, page)
        org = await me.call("PATCH", "/organization", {"settings": {"timezone": "America/Sao_Paulo"}})
        await seed(database_url, org["id"])

        await me.open("/app/flows")
        await page.get_by_role("link", name="Analytics").click()
        await expect(page.get_by_role("heading", name="Analytics")).to_be_visible()
        await expect(page.locator('.counter[data-counter="conversations"] dd')).to_have_text("2")
        await expect(page.locator('.counter[data-counter="messages"] dd')).to_have_text("7")
        await expect(page.locator('.counter[data-counter="executions"] dd')).to_have_text("3")
        messages = page.locator('[data-chart="messages"]')
        # one bar per series per local day, the tallest the 3 messages received two days ago
        days = await page.locator('[data-chart="conversations"] rect.bar').count()
        assert days >= 3
        await expect(messages.locator("rect.bar")).to_have_count(2 * days)
        label = datetime.fromtimestamp(local_noon(2).timestamp(), ZONE).strftime("%m/%d")
        await expect(messages.locator('rect.bar.s1[data-value="3"] title')).to_have_text(f"{label} Received: 3")
        # the handoff rate: 50% two days ago, 0% yesterday; days without runs have no point
        handoff = page.locator('[data-chart="handoff"] circle')
        await expect(handoff).to_have_count(2)
        assert [await c.get_attribute("data-value") for c in await handoff.all()] == ["0.5", "0"]
        await screenshot(page, "analytics_days")
        await page.locator('[data-chart="handoff"]').scroll_into_view_if_needed()
        await screenshot(page, "analytics_days_handoff")

        await page.get_by_label("Period").select_option("week")
        await expect(page.locator('.counter[data-counter="messages"] dd')).to_have_text("7")
        bars = await page.locator('[data-chart="conversations"] rect.bar').count()
        assert 1 <= bars <= 2  # the days fall in one or two local weeks
