"""List pages: rows encoded straight to JSON, and cached totals of large lists.

- Every resource's list items are the same JSON its pydantic output model
  gives (`api.resources.page_json` must not change a byte a client sees).
- A total of a large list is reused for a few seconds (``total_cached``);
  small lists are always counted; a write through the API counts again.
"""

from __future__ import annotations

import sys
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Literal, get_args, get_origin

import asyncpg.pgproto.pgproto as pgproto
import pytest
from pydantic import BaseModel, TypeAdapter, field_serializer
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSON, JSONB

import api.routes
from api.db.models import Contact
from api.resources import Resource
from api.resources.page_json import encoder_for
from api.resources.rows import mapping_values
from api.resources.secrets import secret_flags
from tests.api.conftest import settings_for


def all_resources() -> list[Resource]:
    found: dict[int, Resource] = {}
    for name, module in sys.modules.items():
        if name.startswith("api.routes.") and module is not None:
            for value in vars(module).values():
                if isinstance(value, Resource):
                    found[id(value)] = value
    return sorted(found.values(), key=lambda r: r.name + r.label)


def _literal_choice(annotation: Any) -> Any:
    for arg in (annotation, *get_args(annotation)):
        if get_origin(arg) is Literal:
            return get_args(arg)[0]
    return None


def sample_value(column: Any, annotation: Any, variant: int) -> Any:
    """A value of the column's type as asyncpg returns it (variant 1: other edge cases)."""
    if variant == 2 and column.nullable:
        return None
    column_type = column.type
    if isinstance(column_type, ARRAY):
        return ["vip", "lead"] if variant == 0 else []
    if isinstance(column_type, (JSON, JSONB)):
        if "list" in str(annotation):
            return [{"type": "QUICK_REPLY", "text": "Sim"}, {"text": "Não"}] if variant == 0 else []
        return {"b": [1, "x", None, {"z": True}], "a": 1.5, "ü": "olá"} if variant == 0 else {}
    if isinstance(column_type, INET):
        return "10.0.0.1"
    python_type = column_type.python_type
    if python_type is uuid.UUID:
        return pgproto.UUID(str(uuid.uuid4())) if variant == 0 else uuid.uuid4()
    if python_type is datetime:
        return (datetime(2026, 11, 25, 15, 20, 22, 123456, tzinfo=timezone.utc) if variant == 0
                else datetime(2026, 1, 1, tzinfo=timezone.utc))
    if python_type is Decimal:
        return Decimal("0.70") if variant == 0 else Decimal("12.5")
    if python_type is bool:
        return variant == 0
    if python_type is int:
        return 3 if variant == 0 else 0
    if python_type is str:
        return _literal_choice(annotation) or ("texto com acentuação" if variant == 0 else "")
    return python_type()


def sample_rows(resource: Resource) -> list[dict[str, Any]]:
    fields = resource.out.model_fields
    rows = []
    for variant in (0, 1, 2):
        row = {}
        for column in resource.model.__table__.columns:
            field = fields.get(column.name)
            row[str(column.name)] = sample_value(column, field.annotation if field else None, variant)
        rows.append(secret_flags(mapping_values(resource.model, row), resource.secrets))
    return rows


@pytest.mark.parametrize("resource", [r for r in all_resources() if encoder_for(r.out, r.model) is not None],
                         ids=lambda r: f"{r.name}:{r.label}")
def test_fast_list_json_equals_the_pydantic_json(resource: Resource) -> None:
    encoder = encoder_for(resource.out, resource.model)
    rows = sample_rows(resource)
    adapter = TypeAdapter(list[resource.out])  # type: ignore[name-defined]
    try:
        expected = adapter.dump_python(adapter.validate_python(rows), mode="json")
    except Exception:  # noqa: BLE001 - a sample pydantic refuses (e.g. a constrained str)
        rows = rows[:1]
        expected = adapter.dump_python(adapter.validate_python(rows), mode="json")
    assert encoder.json_ready(rows) == expected


def test_a_model_that_is_not_a_flat_record_keeps_the_pydantic_path() -> None:
    class Inner(BaseModel):
        x: int

    class Nested(BaseModel):
        id: uuid.UUID
        inner: Inner

    class Shouting(BaseModel):
        name: str

        @field_serializer("name")
        def _upper(self, value: str) -> str:
            return value.upper()

    assert encoder_for(Nested) is None and encoder_for(Shouting) is None


def test_the_busy_lists_use_the_fast_encoder() -> None:
    names = {r.name for r in all_resources() if encoder_for(r.out, r.model) is not None}
    # (messages derive `error` and `media` from their metadata in a validator, so their pages go
    # through pydantic: the fast encoder covers flat outputs only)
    assert {"conversations", "contacts", "tags", "users"} <= names


async def test_a_listed_conversation_is_the_same_json_as_fetching_it(seed, admin_api, agent) -> None:
    conversation = await seed.conversation(tags=["vip", "lead"], priority="high", notes="ligar às 15h")
    status, _ = await admin_api.post(f"/conversations/{conversation['id']}/assign",
                                     {"user_id": str(agent.user_id)})
    assert status == 200
    _, page = await admin_api.get("/conversations?per_page=100")
    _, fetched = await admin_api.get(f"/conversations/{conversation['id']}")
    listed = next(item for item in page["items"] if item["id"] == conversation["id"])
    assert listed == fetched
    assert listed["assigned_at"].endswith("Z") and listed["tags"] == ["vip", "lead"]


# --- cached totals -----------------------------------------------------------------


@pytest.fixture
def api_settings(database_url: str, redis_url: str, tmp_path) -> Any:  # noqa: ANN001
    # totals of 3 rows or more are "large" here, so a test can make one cheaply
    return settings_for(database_url, redis_url, tmp_path, list_total_cache_seconds=60,
                        list_total_cache_min_rows=3)


async def _insert_contact_behind_the_api(db: Any, org_id: uuid.UUID) -> None:
    """A row written by another process (the runtime, another API worker)."""
    async with db.transaction() as session:
        await session.execute(insert(Contact).values(organization_id=org_id,
                                                     whatsapp_id=f"5511{uuid.uuid4().int % 10**9:09d}"))


async def test_a_large_total_is_reused_and_says_so(seed, admin_api, org_admin, db) -> None:
    for _ in range(3):
        await seed.contact()
    _, first = await admin_api.get("/contacts")
    assert (first["total"], first["total_cached"]) == (3, False)
    await _insert_contact_behind_the_api(db, org_admin.org_id)
    _, second = await admin_api.get("/contacts?per_page=10")
    assert (second["total"], second["total_cached"]) == (3, True)
    assert len(second["items"]) == 4  # the rows themselves are current


async def test_a_write_through_the_api_counts_again(seed, admin_api, org_admin, db) -> None:
    for _ in range(3):
        await seed.contact()
    await admin_api.get("/contacts")
    await _insert_contact_behind_the_api(db, org_admin.org_id)
    await seed.contact()
    _, page = await admin_api.get("/contacts")
    assert (page["total"], page["total_cached"]) == (5, False)


async def test_filters_have_their_own_totals_and_small_ones_are_exact(seed, admin_api, org_admin, db) -> None:
    for _ in range(3):
        await seed.contact(tags=["big"])
    await seed.contact(tags=["small"])
    await admin_api.get("/contacts")
    _, tagged = await admin_api.get("/contacts?tag=small")
    assert (tagged["total"], tagged["total_cached"]) == (1, False)
    await admin_api.get("/contacts?tag=small")
    async with db.transaction() as session:
        await session.execute(insert(Contact).values(organization_id=org_admin.org_id, tags=["small"],
                                                     whatsapp_id=f"5511{uuid.uuid4().int % 10**9:09d}"))
    _, again = await admin_api.get("/contacts?tag=small&page=1")
    assert (again["total"], again["total_cached"]) == (2, False)  # below the threshold: counted
    _, everything = await admin_api.get("/contacts?sort=created_at")
    assert (everything["total"], everything["total_cached"]) == (4, True)  # same filters, other sort


async def test_another_organization_never_sees_a_cached_total(seed, admin_api, other_api) -> None:
    for _ in range(3):
        await seed.contact()
    await admin_api.get("/contacts")
    _, other = await other_api.get("/contacts")
    assert (other["total"], other["total_cached"]) == (0, False)


# --- filters on the prepared-statement path ------------------------------------------


async def test_filters_with_several_values_dates_and_booleans(seed, admin_api, agent) -> None:
    from api.resources import list_sql

    first = await seed.conversation(priority="high", tags=["vip"])
    second = await seed.conversation(priority="urgent", tags=["vip", "lead"])
    third = await seed.conversation(priority="low")
    await admin_api.post(f"/conversations/{third['id']}/assign", {"user_id": str(agent.user_id)})

    async def ids(query: str) -> set[str]:
        status, page = await admin_api.get(f"/conversations?{query}")
        assert status == 200, page
        assert page["total"] == len(page["items"])
        return {item["id"] for item in page["items"]}

    assert await ids("priority=high,urgent") == {first["id"], second["id"]}
    assert await ids("tag=vip,lead") == {second["id"]}
    assert await ids("is_bot_active=false") == {third["id"]}
    assert await ids(f"assigned_to={agent.user_id}&priority=low") == {third["id"]}
    assert await ids("created_at_from=2000-01-01&created_at_to=2999-01-01") == {first["id"], second["id"], third["id"]}
    assert await ids("created_at_to=2000-01-01") == set()
    shapes = {key[2] for key in list_sql._compiled if key[0] == "Conversation"}
    assert (("priority", "any"),) in shapes and (("tag", "@>"),) in shapes


async def test_pages_sorts_and_a_page_past_the_end(seed, admin_api) -> None:
    made = [await seed.conversation(priority=p) for p in ("low", "normal", "high")]
    _, first = await admin_api.get("/conversations?per_page=2&sort=created_at")
    _, second = await admin_api.get("/conversations?per_page=2&page=2&sort=created_at")
    _, beyond = await admin_api.get("/conversations?per_page=2&page=9")
    assert [i["id"] for i in first["items"] + second["items"]] == [c["id"] for c in made]
    assert (first["total"], second["total"], beyond["total"], beyond["items"]) == (3, 3, 3, [])


async def test_the_compiled_shapes_stay_bounded_whatever_sorts_clients_send(seed, admin_api, monkeypatch) -> None:
    from api.resources import list_sql

    monkeypatch.setattr(list_sql, "MAX_SHAPES", 3)
    await seed.conversation()
    sorts = ["created_at", "-created_at", "priority", "-priority", "status,created_at", "-status,-priority"]
    for sort in sorts:
        status, page = await admin_api.get(f"/conversations?sort={sort}")
        assert status == 200 and page["total"] == 1
    assert len(list_sql._compiled) <= 3
