"""The generic CRUD suite: every resource of the table below goes through the same checks.

One `Case` per resource.

Each case says how to make a valid body (``make(seed)``, unique per call),
a change to apply, one bad input and the field the 422 must name, the field
a duplicate must be reported on (409), a declared sort field, a filter that
must keep the row (and a value that must drop it), and whether delete is soft.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from api.db import models as m


def _hex() -> str:
    return uuid.uuid4().hex[:8]


@dataclass
class Case:
    id: str
    path: str
    model: type
    make: Callable[[Any], Awaitable[dict[str, Any]]]
    change: dict[str, Any]
    bad: dict[str, Any]  # merged over a valid body
    bad_field: str
    duplicate_field: str | None
    sort: str
    filter_param: str
    filter_value: Callable[[dict[str, Any]], str]
    filter_miss: str
    soft_delete: bool = False


async def _tag(seed: Any) -> dict[str, Any]:
    return {"name": f"tag-{_hex()}", "color": "#AABBCC"}


async def _quick_reply(seed: Any) -> dict[str, Any]:
    return {"shortcut": f"/q{_hex()}", "title": "Preço", "content": "Nossos preços: ..."}


async def _user(seed: Any) -> dict[str, Any]:
    return {"email": f"user-{_hex()}@example.com", "password": "s3cret-passw0rd", "full_name": f"Ana {_hex()}",
            "role": "viewer"}


async def _number(seed: Any) -> dict[str, Any]:
    digits = seed.digits()
    return {"phone_number": "+" + digits, "phone_number_id": f"pnid-{digits}", "display_name": "Loja"}


async def _department(seed: Any) -> dict[str, Any]:
    return {"name": f"Vendas {_hex()}"}


async def _greeting(seed: Any) -> dict[str, Any]:
    user = await seed.api.created("/users", await _user(seed))
    return {"user_id": user["id"], "message_template": "Olá {{contact_name}}, sou {{agent_name}}"}


async def _chatbot(seed: Any) -> dict[str, Any]:
    return {"name": f"Bot {_hex()}", "ai_provider": "openai", "ai_temperature": 0.5}


async def _flow(seed: Any) -> dict[str, Any]:
    chatbot = await seed.chatbot()
    return {"chatbot_id": chatbot["id"], "name": f"Main {_hex()}", "trigger_keywords": ["oi"]}


async def _contact(seed: Any) -> dict[str, Any]:
    return {"whatsapp_id": seed.digits(), "name": f"Maria {_hex()}", "email": f"m{_hex()}@example.com",
            "tags": ["lead"], "attributes": {"city": "São Paulo"}}


async def _conversation(seed: Any) -> dict[str, Any]:
    contact = await seed.contact()
    return {"contact_id": contact["id"], "priority": "normal", "tags": ["suporte"]}


async def _campaign(seed: Any) -> dict[str, Any]:
    return {"name": f"Black Friday {_hex()}", "message_content": {"text": "Promo!"}, "target_type": "all"}


async def _template(seed: Any) -> dict[str, Any]:
    number = await seed.whatsapp_number()
    return {"name": f"pedido_{_hex()}", "body_text": "Seu pedido {{1}} saiu", "category": "UTILITY",
            "whatsapp_number_id": number["id"]}


async def _integration(seed: Any) -> dict[str, Any]:
    return {"type": "custom_api", "name": f"CRM {_hex()}",
            "config": {"url": "https://crm.example.com/hook", "events": ["contact.created"]},
            "credentials": {"api_key": f"sk-{_hex()}"}}


async def _webhook(seed: Any) -> dict[str, Any]:
    return {"name": f"hook {_hex()}", "url": "https://example.com/hooks", "events": ["message.received"],
            "secret": f"whsec-{_hex()}{_hex()}"}


CASES = [
    Case("tags", "/tags", m.Tag, _tag, {"color": "#00FF00"}, {"color": "red"}, "color", "name",
         "name", "name", lambda row: row["name"][:6], "zzz-no-such"),
    Case("quick_replies", "/quick-replies", m.QuickReply, _quick_reply, {"title": "Horário"},
         {"media_url": "ftp://files.example.com/x"}, "media_url", "shortcut",
         "shortcut", "shortcut", lambda row: row["shortcut"], "/nope"),
    Case("users", "/users", m.User, _user, {"full_name": "Ana Beatriz"}, {"email": "not-an-email"}, "email",
         "email", "full_name", "email", lambda row: row["email"], "nobody@example.com", soft_delete=True),
    Case("whatsapp_numbers", "/whatsapp-numbers", m.WhatsAppNumber, _number, {"display_name": "Loja Centro"},
         {"phone_number": "abc"}, "phone_number", "phone_number",
         "phone_number", "phone_number", lambda row: row["phone_number"], "+5500000000", soft_delete=True),
    Case("departments", "/departments", m.Department, _department, {"color": "#112233"},
         {"assignment_strategy": "random"}, "assignment_strategy", "name",
         "name", "is_active", lambda row: "true", "false"),
    Case("agent_greetings", "/agent-greetings", m.AgentGreeting, _greeting, {"auto_send": False},
         {"message_template": ""}, "message_template", "user_id",
         "created_at", "user_id", lambda row: row["user_id"], str(uuid.UUID(int=1))),
    Case("chatbots", "/chatbots", m.Chatbot, _chatbot, {"ai_model": "gpt-4o-mini"},
         {"ai_temperature": 5}, "ai_temperature", None,
         "name", "is_active", lambda row: "true", "false", soft_delete=True),
    Case("flows", "/flows", m.Flow, _flow, {"trigger_keywords": ["menu"]}, {"type": "weird"}, "type", None,
         "name", "chatbot_id", lambda row: row["chatbot_id"], str(uuid.UUID(int=1))),
    Case("contacts", "/contacts", m.Contact, _contact, {"tags": ["vip"]}, {"email": "maria@"}, "email",
         "whatsapp_id", "name", "whatsapp_id", lambda row: row["whatsapp_id"], "5500000000", soft_delete=True),
    Case("conversations", "/conversations", m.Conversation, _conversation, {"priority": "high"},
         {"priority": "extreme"}, "priority", None,
         "created_at", "status", lambda row: "open", "closed"),
    Case("campaigns", "/campaigns", m.Campaign, _campaign, {"description": "Descontos"},
         {"send_rate_limit": 0}, "send_rate_limit", None,
         "name", "status", lambda row: "draft", "cancelled"),
    Case("templates", "/templates", m.WhatsAppTemplate, _template, {"footer_text": "Loja Napoli"},
         {"name": "Not A Valid Name"}, "name", "name",
         "name", "category", lambda row: "UTILITY", "MARKETING"),
    Case("integrations", "/integrations", m.Integration, _integration, {"description": "CRM principal"},
         {"type": "ftp"}, "type", None,
         "name", "type", lambda row: "custom_api", "shopify"),
    Case("webhooks", "/webhooks", m.Webhook, _webhook, {"is_active": False}, {"url": "ftp://example.com"}, "url",
         None, "name", "is_active", lambda row: "true", "false"),
]


# --- the suite -------------------------------------------------------------------

from urllib.parse import quote  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy import select  # noqa: E402

from api.db.models import AuditLog  # noqa: E402

by_case = pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])


async def make_row(case: Case, seed: Any) -> dict[str, Any]:
    return await seed.api.created(case.path, await case.make(seed))


@by_case
async def test_created_row_is_returned_and_readable(case: Case, seed, admin_api) -> None:
    body = await case.make(seed)
    status, created = await admin_api.post(case.path, body)
    assert status == 201, created
    for key, value in body.items():
        if key in created and not isinstance(value, float):
            assert created[key] == value or key == "email", (key, created[key], value)
    status, fetched = await admin_api.get(f"{case.path}/{created['id']}")
    assert status == 200
    assert fetched == created


@by_case
async def test_list_is_paginated_with_total(case: Case, seed, admin_api) -> None:
    ids = {(await make_row(case, seed))["id"] for _ in range(3)}
    status, first = await admin_api.get(f"{case.path}?per_page=2&page=1&sort=created_at")
    assert status == 200, first
    status, second = await admin_api.get(f"{case.path}?per_page=2&page=2&sort=created_at")
    listed = {row["id"] for row in first["items"] + second["items"]}
    assert ids <= listed
    assert first["per_page"] == 2 and first["page"] == 1 and len(first["items"]) == 2
    assert first["total"] == second["total"] >= 3
    assert not {r["id"] for r in first["items"]} & {r["id"] for r in second["items"]}


@by_case
async def test_list_sorts_by_a_declared_field_both_ways(case: Case, seed, admin_api) -> None:
    for _ in range(3):
        await make_row(case, seed)
    _, ascending = await admin_api.get(f"{case.path}?sort={case.sort}&per_page=100")
    _, descending = await admin_api.get(f"{case.path}?sort=-{case.sort}&per_page=100")
    values = [row[case.sort] for row in ascending["items"]]
    assert values == sorted(values)
    assert [row[case.sort] for row in descending["items"]] == sorted(values, reverse=True)


@by_case
async def test_sorting_by_an_undeclared_field_is_422_naming_sort(case: Case, seed, admin_api) -> None:
    status, body = await admin_api.get(f"{case.path}?sort=-no_such_field")
    assert status == 422
    assert body["error"]["field"] == "sort"


@by_case
async def test_declared_filter_keeps_matching_rows_and_drops_others(case: Case, seed, admin_api) -> None:
    row = await make_row(case, seed)
    hit_value, miss_value = quote(case.filter_value(row)), quote(case.filter_miss)
    _, hit = await admin_api.get(f"{case.path}?{case.filter_param}={hit_value}&per_page=100")
    _, miss = await admin_api.get(f"{case.path}?{case.filter_param}={miss_value}&per_page=100")
    assert row["id"] in {r["id"] for r in hit["items"]}
    assert row["id"] not in {r["id"] for r in miss["items"]}


@by_case
async def test_update_changes_only_the_given_fields(case: Case, seed, admin_api) -> None:
    row = await make_row(case, seed)
    status, updated = await admin_api.patch(f"{case.path}/{row['id']}", case.change)
    assert status == 200, updated
    for key, value in case.change.items():
        assert updated[key] == value
    untouched = {k: v for k, v in row.items() if k not in case.change and k != "updated_at"}
    assert {k: updated[k] for k in untouched} == untouched


@by_case
async def test_deleted_row_is_gone_from_reads(case: Case, seed, admin_api, db) -> None:
    row = await make_row(case, seed)
    status, _ = await admin_api.delete(f"{case.path}/{row['id']}")
    assert status == 204
    assert (await admin_api.get(f"{case.path}/{row['id']}"))[0] == 404
    _, listed = await admin_api.get(f"{case.path}?per_page=100")
    assert row["id"] not in {r["id"] for r in listed["items"]}
    async with db.session() as session:
        kept = await session.get(case.model, uuid.UUID(row["id"]))
    if case.soft_delete:
        assert kept is not None and kept.deleted_at is not None
    else:
        assert kept is None


@by_case
async def test_bad_input_is_422_naming_the_field(case: Case, seed, admin_api, db) -> None:
    body = {**(await case.make(seed)), **case.bad}
    async with db.session() as session:
        before = len((await session.execute(select(case.model))).scalars().all())
    status, error = await admin_api.post(case.path, body)
    assert status == 422, error
    assert error["error"]["code"] == "validation_error"
    assert error["error"]["field"] == case.bad_field
    async with db.session() as session:
        assert len((await session.execute(select(case.model))).scalars().all()) == before


@by_case
async def test_bad_update_is_422_naming_the_field(case: Case, seed, admin_api) -> None:
    row = await make_row(case, seed)
    status, error = await admin_api.patch(f"{case.path}/{row['id']}", case.bad)
    assert status == 422, error
    assert error["error"]["field"] == case.bad_field
    assert (await admin_api.get(f"{case.path}/{row['id']}"))[1] == row


@by_case
async def test_unknown_body_field_is_422_naming_it(case: Case, seed, admin_api) -> None:
    status, error = await admin_api.post(case.path, {**(await case.make(seed)), "colour": "x"})
    assert status == 422
    assert error["error"]["field"] == "colour"


@pytest.mark.parametrize("case", [c for c in CASES if c.duplicate_field],
                         ids=[c.id for c in CASES if c.duplicate_field])
async def test_duplicate_is_409_naming_the_field(case: Case, seed, admin_api) -> None:
    body = await case.make(seed)
    assert (await admin_api.post(case.path, body))[0] == 201
    status, error = await admin_api.post(case.path, body)
    assert status == 409, error
    assert error["error"]["code"] == "conflict"
    assert error["error"]["field"] == case.duplicate_field


@by_case
async def test_another_organizations_row_is_404(case: Case, seed, admin_api, other_api) -> None:
    row = await make_row(case, seed)
    item = f"{case.path}/{row['id']}"
    assert (await other_api.get(item))[0] == 404
    assert (await other_api.patch(item, case.change))[0] == 404
    assert (await other_api.delete(item))[0] == 404
    _, listed = await other_api.get(f"{case.path}?per_page=100")
    assert row["id"] not in {r["id"] for r in listed["items"]}
    assert (await admin_api.get(item))[1] == row


@by_case
async def test_every_mutation_is_audited_with_before_and_after(case: Case, seed, admin_api, db) -> None:
    row = await make_row(case, seed)
    await admin_api.patch(f"{case.path}/{row['id']}", case.change)
    await admin_api.delete(f"{case.path}/{row['id']}")
    async with db.session() as session:
        entries = (await session.execute(
            select(AuditLog).where(AuditLog.resource_id == uuid.UUID(row["id"])).order_by(AuditLog.created_at)
        )).scalars().all()
    actions = [e.action.rsplit(".", 1)[1] for e in entries]
    assert actions == ["created", "updated", "deleted"]
    created, updated, deleted = entries
    assert created.changes["after"]["id"] == row["id"] and created.changes["before"] is None
    for key, value in case.change.items():
        assert updated.changes["after"][key] == value
    assert deleted.changes["before"]["id"] == row["id"]
    assert {e.organization_id for e in entries} == {admin_api.actor.org_id}


@by_case
async def test_viewer_cannot_create(case: Case, seed, viewer_api) -> None:
    status, error = await viewer_api.post(case.path, await case.make(seed))
    assert status == 403
    assert error["error"]["code"] == "forbidden"


WEIRD_VALUES = [None, 0, -1, 2**63, 1.5, True, "", "x" * 5000, "nul\x00byte", {"a": {"b": [1]}}, [1, "2"],
                "2026-13-45", "../../etc/passwd", "' OR 1=1 --"]


@by_case
async def test_any_value_in_any_field_is_answered_without_a_server_error(case: Case, seed, admin_api) -> None:
    body = await case.make(seed)
    row = await make_row(case, seed)
    for field in list(body) + list(case.change):
        for value in WEIRD_VALUES:
            status, answer = await admin_api.post(case.path, {**body, field: value})
            assert status < 500, (field, value, answer)
            status, answer = await admin_api.patch(f"{case.path}/{row['id']}", {field: value})
            assert status < 500, (field, value, answer)
    for param in (case.filter_param, "sort", "page", "per_page"):
        for value in ("%00", "-1", "'", "9" * 30):
            status, answer = await admin_api.get(f"{case.path}?{param}={value}")
            assert status < 500, (param, value, answer)
