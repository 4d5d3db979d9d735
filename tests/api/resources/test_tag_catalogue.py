"""A tag renamed in the catalogue is renamed on the contacts and conversations that carry it
(a search by the new name finds them); a tag deleted is taken off them. Only the
organization's own rows change."""

from __future__ import annotations


async def _tags(api, path: str) -> list[str]:
    status, body = await api.get(path)
    assert status == 200, body
    return body["tags"]


async def _names(api, query: str) -> list[str]:
    status, body = await api.get(f"/contacts?{query}&sort=name")
    assert status == 200, body
    return [c["name"] for c in body["items"]]


async def test_renaming_a_tag_renames_it_where_it_is_used(seed, admin_api, other_seed, other_api) -> None:
    tag = await admin_api.created("/tags", {"name": "vip"})
    ana = await seed.contact(name="Ana", tags=["vip", "lead"])
    bia = await seed.contact(name="Bia", tags=["gold", "vip"])  # had both: keeps one "gold"
    await seed.contact(name="Caio", tags=["lead"])
    conversation = await seed.conversation(contact_id=ana["id"], tags=["vip"])
    theirs = await other_seed.contact(name="Outra", tags=["vip"])  # another organization's

    status, body = await admin_api.patch(f"/tags/{tag['id']}", {"name": "gold"})
    assert status == 200 and body["name"] == "gold", body

    assert await _names(admin_api, "tag=gold") == ["Ana", "Bia"]
    assert await _names(admin_api, "tag=vip") == []
    assert await _tags(admin_api, f"/contacts/{ana['id']}") == ["lead", "gold"]
    assert await _tags(admin_api, f"/contacts/{bia['id']}") == ["gold"]
    assert await _tags(admin_api, f"/conversations/{conversation['id']}") == ["gold"]
    assert await _tags(other_api, f"/contacts/{theirs['id']}") == ["vip"]


async def test_deleting_a_tag_takes_it_off_contacts_and_conversations(seed, admin_api, other_seed,
                                                                      other_api) -> None:
    tag = await admin_api.created("/tags", {"name": "churn"})
    ana = await seed.contact(name="Ana", tags=["churn", "lead"])
    conversation = await seed.conversation(contact_id=ana["id"], tags=["churn"])
    theirs = await other_seed.contact(name="Outra", tags=["churn"])

    status, _ = await admin_api.delete(f"/tags/{tag['id']}")
    assert status == 204
    assert await _tags(admin_api, f"/contacts/{ana['id']}") == ["lead"]
    assert await _tags(admin_api, f"/conversations/{conversation['id']}") == []
    assert await _names(admin_api, "tag=churn") == []
    assert await _tags(other_api, f"/contacts/{theirs['id']}") == ["churn"]
