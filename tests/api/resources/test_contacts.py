"""Contacts: search, tag and date filters, and CSV import with a per-row report."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from sqlalchemy import select, text

from api.db.models import AuditLog, Contact


async def _names(api, query: str) -> list[str]:  # noqa: ANN001
    status, body = await api.get(f"/contacts?{query}&per_page=100&sort=name")
    assert status == 200, body
    return [c["name"] for c in body["items"]]


async def test_search_matches_word_prefixes_of_name_and_email(seed, admin_api) -> None:
    await seed.contact(name="Maria da Silva", email="maria@napoli.com.br")
    await seed.contact(name="João Souza", email="joao@example.com")
    await seed.contact(name="Mariana Lima")
    assert await _names(admin_api, "q=mari") == ["Maria da Silva", "Mariana Lima"]
    assert await _names(admin_api, "q=" + quote("silv mar")) == ["Maria da Silva"]
    assert await _names(admin_api, "q=" + quote("joão")) == ["João Souza"]
    assert await _names(admin_api, "q=joao@example") == ["João Souza"]
    assert await _names(admin_api, "q=pedro") == []


async def test_search_ignores_tsquery_syntax_in_the_query(seed, admin_api) -> None:
    await seed.contact(name="Ana")
    status, body = await admin_api.get("/contacts?q=" + quote("ana & ! ( ' :*"))
    assert status == 200
    assert [c["name"] for c in body["items"]] == ["Ana"]


async def test_search_uses_the_portuguese_search_index(seed, admin_api, db) -> None:
    from api.services.contacts_search import contact_search

    clause = contact_search("maria")
    async with db.session() as session:
        await session.execute(text("SET enable_seqscan = off"))
        compiled = select(Contact.id).where(clause).compile(compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in await session.execute(text(f"EXPLAIN {compiled}")))
    assert "idx_contacts_search" in plan


async def test_search_results_stay_inside_the_organization(seed, other_seed, admin_api) -> None:
    await other_seed.contact(name="Maria Outra")
    await seed.contact(name="Maria Minha")
    assert await _names(admin_api, "q=maria") == ["Maria Minha"]


async def test_tag_filter_requires_every_tag(seed, admin_api) -> None:
    await seed.contact(name="A", tags=["vip", "lead"])
    await seed.contact(name="B", tags=["vip"])
    await seed.contact(name="C", tags=["lead"])
    assert await _names(admin_api, "tag=vip") == ["A", "B"]
    assert await _names(admin_api, "tag=vip,lead") == ["A"]


async def test_date_range_filter_bounds_created_at(seed, admin_api) -> None:
    contact = await seed.contact(name="Hoje")
    day = contact["created_at"][:10]
    assert await _names(admin_api, f"created_at_from={day}") == ["Hoje"]
    assert await _names(admin_api, f"created_at_to={day}") == []
    status, error = await admin_api.get("/contacts?created_at_from=yesterday")
    assert status == 422 and error["error"]["field"] == "created_at_from"


async def test_tags_are_deduplicated_and_attributes_kept(seed, admin_api) -> None:
    contact = await seed.contact(tags=["vip", "vip", "lead"], attributes={"city": "Recife", "age": 30})
    assert contact["tags"] == ["vip", "lead"]
    assert contact["attributes"] == {"city": "Recife", "age": 30}


CSV = """whatsapp_id,name,email,tags,attributes.city
5511900000001,Maria,maria@example.com,vip|lead,São Paulo
5511900000002,João,not-an-email,,Recife
,Sem Número,x@example.com,,
5511900000003,Ana,ana@example.com,lead,
5511900000001,Maria Again,,,
"""


async def _import(client, actor, body: str, content_type: str = "text/csv"):  # noqa: ANN001, ANN202
    response = await client.post("/contacts/import", data=body.encode(), headers={**actor.headers,
                                                                                   "Content-Type": content_type})
    return response.status_code, await response.get_json()


async def test_csv_import_inserts_valid_rows_and_reports_bad_ones(seed, client, org_admin, admin_api) -> None:
    status, report = await _import(client, org_admin, CSV)
    assert status == 200, report
    assert report["inserted"] == 2
    assert report["updated"] == 0
    assert report["rejected"] == 3
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (3, "email"), (4, "whatsapp_id"), (6, "whatsapp_id")]
    _, listed = await admin_api.get("/contacts?sort=name")
    by_id = {c["whatsapp_id"]: c for c in listed["items"]}
    assert set(by_id) == {"5511900000001", "5511900000003"}
    assert by_id["5511900000001"]["tags"] == ["vip", "lead"]
    assert by_id["5511900000001"]["attributes"] == {"city": "São Paulo"}


async def test_csv_import_updates_existing_contacts_merging_tags(seed, client, org_admin, admin_api) -> None:
    existing = await seed.contact(whatsapp_id="5511900000009", name="Old", tags=["cliente"],
                                  attributes={"plan": "gold"})
    status, report = await _import(client, org_admin,
                                   "whatsapp_id;name;tags;attributes.city\n5511900000009;Novo;vip;Natal\n")
    assert status == 200, report
    assert (report["inserted"], report["updated"]) == (0, 1)
    _, contact = await admin_api.get(f"/contacts/{existing['id']}")
    assert contact["name"] == "Novo"
    assert contact["tags"] == ["cliente", "vip"]
    assert contact["attributes"] == {"plan": "gold", "city": "Natal"}


async def test_csv_import_accepts_a_multipart_upload(seed, client, org_admin) -> None:
    from quart.datastructures import FileStorage
    import io

    upload = FileStorage(io.BytesIO(b"whatsapp_id,name\n5511900000021,Bia\n"), filename="c.csv",
                         content_type="text/csv")
    response = await client.post("/contacts/import", files={"file": upload}, headers=org_admin.headers)
    report = await response.get_json()
    assert response.status_code == 200, report
    assert report["inserted"] == 1


async def test_csv_import_reports_rows_beyond_the_contact_limit(seed, client, org_admin, set_limits,
                                                               admin_api) -> None:
    await seed.contact()
    await set_limits(org_admin.org_id, max_contacts=3)
    rows = "".join(f"55119000001{i:02d},C{i}\n" for i in range(4))
    status, report = await _import(client, org_admin, "whatsapp_id,name\n" + rows)
    assert status == 200
    assert report["inserted"] == 2
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(4, "max_contacts"), (5, "max_contacts")]
    assert (await admin_api.get("/contacts"))[1]["total"] == 3


async def test_csv_without_whatsapp_id_column_is_422_naming_file(seed, client, org_admin) -> None:
    status, error = await _import(client, org_admin, "name,email\nAna,ana@example.com\n")
    assert status == 422
    assert error["error"]["field"] == "file"


async def test_csv_with_an_unknown_column_is_422_and_imports_nothing(seed, client, org_admin, admin_api) -> None:
    status, error = await _import(client, org_admin, "whatsapp_id,nmae\n5511900000031,Ana\n")
    assert status == 422
    assert "nmae" in error["error"]["message"]
    assert (await admin_api.get("/contacts"))[1]["total"] == 0


async def test_csv_import_is_audited_once(seed, client, org_admin, db) -> None:
    await _import(client, org_admin, "whatsapp_id\n5511900000041\n5511900000042\n")
    async with db.session() as session:
        entries = (await session.execute(select(AuditLog).where(AuditLog.action == "contact.imported"))).scalars().all()
    assert len(entries) == 1
    assert entries[0].changes["after"] == {"inserted": 2, "updated": 0, "rejected": 0}


async def test_csv_import_of_a_json_body_is_422(seed, admin_api) -> None:
    status, error = await admin_api.post("/contacts/import", {"rows": []})
    assert status == 422
    assert error["error"]["field"] == "file"


async def test_agents_may_edit_contacts_but_not_delete_them(seed, agent_api) -> None:
    contact = await seed.contact()
    assert (await agent_api.patch(f"/contacts/{contact['id']}", {"notes": "ligou"}))[0] == 200
    assert (await agent_api.delete(f"/contacts/{contact['id']}"))[0] == 403


async def test_deleted_contact_does_not_count_and_import_restores_it(seed, client, org_admin, admin_api,
                                                                    db) -> None:
    contact = await seed.contact(whatsapp_id="5511900000051")
    await admin_api.delete(f"/contacts/{contact['id']}")
    status, report = await _import(client, org_admin, "whatsapp_id,name\n5511900000051,Volta\n")
    assert (status, report["updated"]) == (200, 1)
    status, restored = await admin_api.get(f"/contacts/{contact['id']}")
    assert status == 200 and restored["name"] == "Volta"
    async with db.session() as session:
        row = await session.get(Contact, uuid.UUID(contact["id"]))
    assert row.deleted_at is None


async def test_creating_a_deleted_contacts_number_again_restores_it(seed, admin_api) -> None:
    contact = await seed.contact(whatsapp_id="5511900000061", name="Antes", tags=["antigo"])
    await admin_api.delete(f"/contacts/{contact['id']}")
    status, again = await admin_api.post("/contacts", {"whatsapp_id": "5511900000061", "name": "Depois"})
    assert status == 201, again
    assert again["id"] == contact["id"]
    assert again["name"] == "Depois"
    assert (await admin_api.get("/contacts"))[1]["total"] == 1


async def test_changing_opt_in_dates_the_change(seed, admin_api) -> None:
    """An agent records a customer's "no more promotions" and, later, their "yes again":
    each change carries its date (opt_out_date, then opt_in_date)."""
    contact = await seed.contact(name="Ana Opt")
    status, out = await admin_api.patch(f"/contacts/{contact['id']}", {"opt_in": False})
    assert status == 200 and out["opt_in"] is False and out["opt_out_date"] is not None, out
    status, back = await admin_api.patch(f"/contacts/{contact['id']}", {"opt_in": True})
    assert status == 200 and back["opt_in"] is True and back["opt_in_date"] is not None, back
    assert back["opt_in_date"] >= out["opt_out_date"]
