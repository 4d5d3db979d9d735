"""Contact search finds contacts without a name (by e-mail or phone) and anyone by phone,
through indexes (migration 0004), never by scanning the organization's contacts."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select, text

from api.db.models import Contact
from api.services.contacts_search import contact_search


async def _found(api, q: str) -> list[str]:  # noqa: ANN001
    status, body = await api.get(f"/contacts?q={quote(q)}&per_page=100&sort=created_at")
    assert status == 200, body
    return [c["id"] for c in body["items"]]


async def test_a_contact_without_a_name_is_found_by_its_email(seed, admin_api) -> None:
    unnamed = await seed.contact(email="joana.prado@napoli.com.br")
    named = await seed.contact(name="Joana Lima")
    assert await _found(admin_api, "joana") == [unnamed["id"], named["id"]]
    assert await _found(admin_api, "joana.pra") == [unnamed["id"]]
    assert await _found(admin_api, "joana.prado@napoli") == [unnamed["id"]]
    assert await _found(admin_api, "joana.prado@napoli.com.br") == [unnamed["id"]]
    assert await _found(admin_api, "napoli") == []  # a word must start the e-mail
    assert await _found(admin_api, "pedro") == []
    assert await _found(admin_api, "joana lima") == [named["id"]]


async def test_a_contact_without_a_name_or_email_is_found_by_its_phone(seed, admin_api) -> None:
    unnamed = await seed.contact(whatsapp_id="5511987654321")
    other = await seed.contact(whatsapp_id="5521912345678", phone="+552133334444")
    assert await _found(admin_api, "5511987654321") == [unnamed["id"]]
    assert await _found(admin_api, "+55 (11) 98765-4321") == [unnamed["id"]]
    assert await _found(admin_api, "11 98765") == [unnamed["id"]]  # without the country code
    assert await _found(admin_api, "98765") == [unnamed["id"]]  # without country and area code
    assert await _found(admin_api, "3333-4444") == [other["id"]]  # the phone column, not only whatsapp_id
    assert await _found(admin_api, "55") == [unnamed["id"], other["id"]]
    assert await _found(admin_api, "0000") == []
    assert await _found(admin_api, "4321") == []  # digits in the middle or at the end do not match


async def test_email_and_phone_words_combine_for_an_unnamed_contact(seed, admin_api) -> None:
    unnamed = await seed.contact(email="caio@example.com", whatsapp_id="5511911112222")
    await seed.contact(email="caio.b@example.com", whatsapp_id="5511933334444")
    assert await _found(admin_api, "caio 9111") == [unnamed["id"]]
    assert await _found(admin_api, "caio 11 91111-2") == [unnamed["id"]]
    assert await _found(admin_api, "caio 9999") == []


async def test_a_phone_query_finds_named_contacts_too(seed, admin_api) -> None:
    named = await seed.contact(name="Rita", whatsapp_id="5581955556666")
    assert await _found(admin_api, "955556666") == [named["id"]]
    assert await _found(admin_api, "(81) 95555-6666") == [named["id"]]
    assert await _found(admin_api, "rita") == [named["id"]]


async def test_unnamed_contacts_of_another_organization_stay_hidden(seed, other_seed, admin_api) -> None:
    await other_seed.contact(email="ze@example.com", whatsapp_id="5511977778888")
    mine = await seed.contact(email="ze.meu@example.com")
    assert await _found(admin_api, "ze") == [mine["id"]]
    assert await _found(admin_api, "977778888") == []


@pytest.mark.parametrize("q", ["a\x00b", "\x00", "'; --", "12\x00 34", "x@\x00", "a:* & !b | (c)", "9" * 400])
async def test_odd_queries_never_fail(seed, admin_api, q) -> None:
    status, body = await admin_api.get(f"/contacts?q={quote(q)}")
    assert status in (200, 422), body  # a NUL is refused as invalid input; nothing is a server error


@pytest.mark.parametrize("q, index", [
    ("joana.prado", "idx_contacts_unnamed_search"),  # words: unnamed contacts by e-mail
    ("caio 9111", "idx_contacts_unnamed_search"),
    ("98765-4321", "idx_contacts_phone_search"),  # numbers only: any contact by phone
    ("+55 (11) 98765-4321", "idx_contacts_phone_search"),
])
async def test_every_branch_of_the_search_uses_an_index(seed, db, q, index) -> None:
    await seed.contact(email="joana.prado@napoli.com.br")
    clause = contact_search(q)
    async with db.session() as session:
        await session.execute(text("SET enable_seqscan = off"))  # the table is tiny
        compiled = select(Contact.id).where(clause).compile(compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in await session.execute(text(f"EXPLAIN {compiled}")))
    assert "BitmapOr" in plan, plan
    assert "idx_contacts_search" in plan and index in plan, plan  # every OR branch from an index
    assert "Seq Scan" not in plan, plan
