"""Users known by their business-scoped user id (BSUID) alone: a WhatsApp user who
adopted a username may hide their phone, and Meta's webhooks then carry only
``from_user_id`` / ``contacts[].user_id`` / ``statuses[].recipient_user_id``.

Each test posts Meta-shaped payloads, signed, to the webhook and reads back
PostgreSQL; the flow tests run over real HTTP through the sandbox (which accepts
a send addressed by ``recipient`` only when it is a BSUID, as Meta documents).
"""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import text

from api.sandbox import webhooks
from api.sandbox.validation import check_send
from tests.runtime.conftest import PNID
from tests.runtime.test_payload_storage import load, post  # noqa: F401  (the signed-webhook fixture)

BSUID = "US.13491208655302741918"
PHONE = "16505551234"


def _with_id(doc: dict, wamid: str) -> dict:
    doc = copy.deepcopy(doc)
    doc["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = wamid
    return doc


async def _contacts(query) -> list[dict]:
    return [dict(r) for r in await query(
        "SELECT id, whatsapp_id, bsuid, phone, whatsapp_name, total_messages FROM contacts ORDER BY created_at")]


async def test_a_message_without_a_phone_is_stored_on_a_contact_keyed_by_its_bsuid(post, query):  # noqa: F811
    await post(load("text_bsuid_only.json"))
    [contact] = await _contacts(query)
    assert (contact["whatsapp_id"], contact["bsuid"], contact["phone"]) == (BSUID, BSUID, None)
    assert contact["whatsapp_name"] == "Sheena Nelson"
    message = (await query("SELECT content, metadata FROM messages"))[0]
    assert message["content"]["text"] == "Oi, sem telefone"
    assert message["content"]["sender"]["user_id"] == BSUID
    assert message["content"]["sender"]["profile"]["username"] == "@sheena"
    assert message["metadata"]["from"] == BSUID


async def test_a_later_message_with_phone_and_bsuid_finds_the_same_contact_and_takes_the_phone(post, query):  # noqa: F811
    await post(load("text_bsuid_only.json"))
    [before] = await _contacts(query)
    await post(_with_id(load("text_bsuid.json"), "wamid.WITH_PHONE"))  # from + from_user_id
    [after] = await _contacts(query)
    assert after["id"] == before["id"]
    assert (after["whatsapp_id"], after["bsuid"], after["phone"]) == (PHONE, BSUID, "+" + PHONE)
    assert after["total_messages"] == 2
    assert len(await query("SELECT id FROM conversations")) == 1
    # and the BSUID alone still finds it
    await post(_with_id(load("text_bsuid_only.json"), "wamid.HIDDEN_AGAIN"))
    [again] = await _contacts(query)
    assert (again["id"], again["whatsapp_id"], again["total_messages"]) == (before["id"], PHONE, 3)


async def test_a_contact_known_by_phone_learns_its_bsuid_and_is_found_by_it(post, query):  # noqa: F811
    await post(load("text.json"))  # before Meta sent BSUIDs: the phone only
    [first] = await _contacts(query)
    assert first["bsuid"] is None
    await post(_with_id(load("text_bsuid.json"), "wamid.BOTH"))
    await post(_with_id(load("text_bsuid_only.json"), "wamid.ONLY_BSUID"))
    [contact] = await _contacts(query)
    assert (contact["id"], contact["whatsapp_id"], contact["bsuid"]) == (first["id"], PHONE, BSUID)
    assert contact["total_messages"] == 3
    assert len(await query("SELECT id FROM conversations")) == 1


async def test_a_first_message_with_phone_and_bsuid_on_a_closed_conversation_reuses_the_contact(
        post, query, db):  # noqa: F811
    """The locked path (no open conversation) finds the contact by its BSUID too."""
    await post(load("text_bsuid_only.json"))
    async with db.transaction() as s:
        await s.execute(text("UPDATE conversations SET status = 'closed'"))
    await post(_with_id(load("text_bsuid.json"), "wamid.NEW_CONVERSATION"))
    [contact] = await _contacts(query)
    assert (contact["whatsapp_id"], contact["bsuid"]) == (PHONE, BSUID)
    assert len(await query("SELECT id FROM conversations")) == 2


async def test_a_flow_answers_a_user_known_by_bsuid_through_recipient_and_its_statuses_apply(
        servers, add, flows, query):
    await add("cadastro", flows["name"])
    await servers.customer_says(BSUID, "oi", profile_name="Sheena")
    await servers.wait_for(lambda: servers.inbox(BSUID))
    sent = servers.inbox(BSUID)[0]
    assert sent["payload"]["recipient"] == BSUID and "to" not in sent["payload"]
    assert sent["payload"]["text"]["body"] == "Qual seu nome?"
    assert servers.sandbox.rejected == []

    async def read():  # the sandbox's status webhooks carry recipient_user_id, no recipient_id
        found = await query("SELECT status FROM messages WHERE whatsapp_message_id = :w", w=sent["id"])
        return found and found[0]["status"] == "read"

    await servers.wait_for(read)
    await servers.customer_says(BSUID, "Sheena Nelson")
    await servers.wait_for(lambda: len(servers.inbox(BSUID)) >= 2)
    assert servers.inbox(BSUID)[1]["payload"]["text"]["body"] == "Obrigado, Sheena Nelson!"


async def test_a_status_that_names_its_recipient_by_bsuid_alone_is_applied(servers, add, flows, query):
    servers.sandbox.config.send_statuses = False
    await add("cadastro", flows["name"])
    await servers.customer_says(BSUID, "oi")
    await servers.wait_for(lambda: servers.inbox(BSUID))
    wamid = servers.inbox(BSUID)[0]["id"]
    await servers.wait_for(lambda: query("SELECT id FROM messages WHERE whatsapp_message_id = :w", w=wamid))
    doc = webhooks.status_update(PNID, wamid, "delivered", BSUID)
    status = doc["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert status["recipient_user_id"] == BSUID and "recipient_id" not in status
    assert (await servers.post(doc)).status_code == 200

    async def delivered():
        found = await query("SELECT status, delivered_at FROM messages WHERE whatsapp_message_id = :w", w=wamid)
        return found and found[0]["status"] == "delivered" and found[0]["delivered_at"]

    await servers.wait_for(delivered)


@pytest.mark.parametrize("doc,code", [
    ({"recipient": BSUID}, None),
    ({"recipient": "US.ENT.11815799212886844830"}, None),  # a parent BSUID
    ({"to": PHONE, "recipient": BSUID}, None),  # both: "to" wins
    ({"recipient": "13491208655302741918"}, 100),  # digits are a phone, not a BSUID
    ({"recipient": "USA.123"}, 100),
    ({"recipient": "US." + "1" * 129}, 100),
    ({}, 131008),
])
def test_the_sandbox_takes_a_bsuid_recipient_as_meta_documents_it(doc, code):
    invalid = check_send({"messaging_product": "whatsapp", "type": "text", "text": {"body": "oi"}, **doc})
    assert (invalid.code if invalid else None) == code
