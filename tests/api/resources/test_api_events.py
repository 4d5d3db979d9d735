"""API changes write their domain events in the same transaction: contacts
(create, update incl. tags, CSV import) and conversations (assign, transfer,
close, keyed by the conversation); a refused change writes none."""

from __future__ import annotations

import uuid

from sqlalchemy import text


async def _events(db) -> list[dict]:
    async with db.session() as s:
        rows = await s.execute(text("SELECT type, ordering_key, payload, organization_id FROM events ORDER BY id"))
        return [dict(r) for r in rows.mappings()]


async def test_contact_changes_are_events(seed, admin_api, org_admin, db) -> None:
    contact = await seed.contact(name="Ana")
    assert (await admin_api.patch(f"/contacts/{contact['id']}", {"tags": ["vip"]}))[0] == 200
    csv = "whatsapp_id,name\n5511988887777,Bruno\n" + f"{contact['whatsapp_id']},Ana Maria\n"
    status, report = await admin_api.call("post", "/contacts/import", data=csv, headers={"Content-Type": "text/csv"})
    assert status == 200 and report["inserted"] == 1 and report["updated"] == 1, report
    got = [(e["type"], e["payload"]["contact"]["name"], e["payload"]["contact"]["tags"]) for e in await _events(db)]
    assert got == [("contact.created", "Ana", []), ("contact.updated", "Ana", ["vip"]),
                   ("contact.created", "Bruno", []), ("contact.updated", "Ana Maria", ["vip"])]
    assert {e["organization_id"] for e in await _events(db)} == {org_admin.org_id}
    first = (await _events(db))[0]
    assert first["ordering_key"] == uuid.UUID(contact["id"])


async def test_assign_transfer_close_are_events_keyed_by_the_conversation(seed, admin_api, agent, db) -> None:
    conversation = await seed.conversation()
    path = f"/conversations/{conversation['id']}"
    await admin_api.post(f"{path}/assign", {"user_id": str(agent.user_id)})
    await admin_api.post(f"{path}/transfer", {"user_id": str(agent.user_id), "reason": "billing"})
    await admin_api.post(f"{path}/close")
    assert (await admin_api.post(f"{path}/close"))[0] == 409  # refused: no event
    events = [e for e in await _events(db) if e["type"].startswith("conversation.")]
    assert [e["type"] for e in events] == ["conversation.assigned", "conversation.transferred", "conversation.closed"]
    assert {e["ordering_key"] for e in events} == {uuid.UUID(conversation["id"])}
    assigned, transferred, closed = (e["payload"] for e in events)
    assert assigned["conversation"]["assigned_agent_id"] == str(agent.user_id)
    assert transferred["reason"] == "billing"
    assert closed["conversation"]["status"] == "closed"
