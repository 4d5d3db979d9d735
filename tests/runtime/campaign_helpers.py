"""Shared by the campaign tests and bench/campaign.py: an API client with a user's token,
an approved template, bulk contacts, and the campaign's counters beside its recipients'."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from tests.runtime.conftest import user_headers  # noqa: F401 - re-exported for the campaign tests

WABA = "waba-campaigns"
PROMO = {"name": "promo_week", "language": "pt_BR", "category": "MARKETING",
         "body_text": "Oferta da semana: {{1}} de desconto!", "variables": [{"name": "1", "example": "10%"}],
         "buttons": [{"type": "QUICK_REPLY", "text": "Quero"}, {"type": "QUICK_REPLY", "text": "Parar"}]}

# the campaign's counters and the same figures counted from its recipients, in one snapshot
COUNTS = """
SELECT c.status, c.total_recipients, c.sent_count, c.delivered_count, c.read_count, c.failed_count,
       c.skipped_count, c.replied_count,
       (SELECT count(*) FROM campaign_recipients r WHERE r.campaign_id = c.id) AS recipients,
       (SELECT count(sent_at) FROM campaign_recipients r WHERE r.campaign_id = c.id) AS sent,
       (SELECT count(delivered_at) FROM campaign_recipients r WHERE r.campaign_id = c.id) AS delivered,
       (SELECT count(read_at) FROM campaign_recipients r WHERE r.campaign_id = c.id) AS read,
       (SELECT count(failed_at) FROM campaign_recipients r WHERE r.campaign_id = c.id) AS failed,
       (SELECT count(*) FROM campaign_recipients r WHERE r.campaign_id = c.id AND r.status = 'skipped') AS skipped,
       (SELECT count(replied_at) FROM campaign_recipients r WHERE r.campaign_id = c.id) AS replied,
       (SELECT count(*) FROM campaign_recipients r WHERE r.campaign_id = c.id AND r.status = 'pending') AS pending
  FROM campaigns c WHERE c.id = :id
"""
PAIRS = (("sent_count", "sent"), ("delivered_count", "delivered"), ("read_count", "read"),
         ("failed_count", "failed"), ("skipped_count", "skipped"), ("replied_count", "replied"))


async def counts(db: Any, campaign_id: Any) -> dict[str, Any]:
    async with db.session() as s:
        return dict((await s.execute(text(COUNTS), {"id": str(campaign_id)})).mappings().one())


def mismatches(row: dict[str, Any]) -> list[str]:
    """The counters that differ from their recipients' count (none: consistent)."""
    return [f"{c}={row[c]} but {r}={row[r]}" for c, r in PAIRS if row[c] != row[r]]


class Api:
    def __init__(self, client: httpx.AsyncClient, base: str, headers: dict[str, str]) -> None:
        self.client, self.base, self.headers = client, base, headers

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.client.request(method, self.base + path, json=body, headers=self.headers)

    async def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = await self.call(method, path, body)
        assert response.status_code == status, response.text
        return response.json() if response.content else None


async def prepare_number(db: Any, number_id: Any, org_id: Any, *, rate: int = 1000,
                         monthly_messages: int | None = 10_000_000) -> None:
    """The number's WABA (for templates) and tier; the organization's monthly message limit."""
    async with db.transaction() as s:
        await s.execute(text("UPDATE whatsapp_numbers SET whatsapp_business_account_id = :w, "
                             "settings = settings || jsonb_build_object('rate_limit_per_second', CAST(:r AS int)) "
                             "WHERE id = :id"), {"w": WABA, "r": rate, "id": number_id})
        await s.execute(text("UPDATE organizations SET monthly_message_limit = :m WHERE id = :id"),
                        {"m": monthly_messages, "id": org_id})


async def approved_template(api: Api, number_id: Any, wait_for: Any, definition: dict | None = None) -> str:
    """Create, submit (the sandbox reviews it) and wait until APPROVED; its id."""
    created = await api.ok("POST", "/templates", {**(definition or PROMO), "whatsapp_number_id": str(number_id)},
                           status=201)
    await api.ok("POST", f"/templates/{created['id']}/submit", {})

    async def approved() -> bool:
        row = await api.ok("GET", f"/templates/{created['id']}")
        return row["meta_status"] == "APPROVED"
    await wait_for(approved)
    return created["id"]


async def add_contacts(db: Any, org_id: Any, n: int, *, prefix: str, tags: list[str],
                       opt_in: bool = True) -> None:
    """``n`` contacts with WhatsApp ids ``prefix`` + a 6-digit number, written by the database."""
    async with db.transaction() as s:
        await s.execute(text(
            "INSERT INTO contacts (organization_id, whatsapp_id, name, tags, opt_in) "
            "SELECT :org, :prefix || lpad(g::text, 6, '0'), 'C' || g, CAST(:tags AS text[]), :opt_in "
            "FROM generate_series(1, :n) g"), {"org": org_id, "prefix": prefix, "tags": tags, "opt_in": opt_in,
                                                "n": n})
