"""Contact full-text search uses SCHEMA.md's Portuguese index."""

from __future__ import annotations

from sqlalchemy import func, select, text

from api.db.models import CONTACT_SEARCH_SQL, Contact, contact_search_document


def _matching(q: str):
    return contact_search_document().bool_op("@@")(func.plainto_tsquery("portuguese", q))


async def _add_contacts(db, tenant):
    async with db.transaction() as s:
        s.add_all([
            Contact(organization_id=tenant.organization.id, whatsapp_id="5511900000001",
                    name="Maria Aparecida Santos", email="maria.santos@exemplo.com.br"),
            Contact(organization_id=tenant.organization.id, whatsapp_id="5511900000002",
                    name="Pedro Carvalho"),
        ])


async def test_search_finds_contacts_by_name_and_email(db, tenant):
    await _add_contacts(db, tenant)
    async with db.session() as s:
        by_name = (await s.execute(select(Contact.name).where(_matching("santos")))).scalars().all()
        by_word_form = (await s.execute(select(Contact.name).where(_matching("carvalhos")))).scalars().all()
    assert by_name == ["Maria Aparecida Santos"]
    assert by_word_form == ["Pedro Carvalho"]  # Portuguese stemming


async def test_search_expression_uses_the_index(db, tenant):
    await _add_contacts(db, tenant)
    async with db.session() as s:
        await s.execute(text("SET enable_seqscan = off"))  # the table is tiny
        plan = "\n".join(r[0] for r in await s.execute(text(
            f"EXPLAIN SELECT id FROM contacts WHERE {CONTACT_SEARCH_SQL} "
            "@@ plainto_tsquery('portuguese', 'maria')")))
    assert "idx_contacts_search" in plan
