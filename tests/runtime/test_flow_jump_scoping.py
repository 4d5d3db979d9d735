"""A `jump` into another flow by name runs the flow of that name in the conversation's
own chatbot: never a flow of the same name in another chatbot (or organization)."""

from __future__ import annotations

from sqlalchemy import text

from api.inbound import ingest_messages
from api.sandbox import webhooks
from api.whatsapp.payloads import parse_webhook
from pytake.hosting.seed import add_flow, seed_organization
from tests.runtime.conftest import _canvas, rows

OTHER_PNID = "900800700"


def _main() -> dict:
    return _canvas(
        [{"id": "start", "type": "start"},
         {"id": "go", "type": "jump", "data": {"flow": "checkout", "return": False}}],
        [("start", "go", None)])


def _checkout(text: str) -> dict:
    return _canvas(
        [{"id": "start", "type": "start"},
         {"id": "say", "type": "message", "data": {"text": text}},
         {"id": "end", "type": "end"}],
        [("start", "say", None), ("say", "end", None)])


async def _replies(db, conversation_id) -> list[str]:
    found = await rows(db, "SELECT content->>'text' AS text FROM messages WHERE conversation_id = :c "
                           "AND direction = 'outbound' ORDER BY created_at", c=conversation_id)
    return [r["text"] for r in found]


async def test_a_jump_by_name_stays_in_the_conversation_s_chatbot(local, db, seeded):
    # organization A (the `local` fixture's) and organization B each have a "checkout" flow
    other = await seed_organization(db, phone_number_id=OTHER_PNID, phone_number="+5511988880000",
                                    chatbot={"welcome_message": None, "fallback_message": "?"})
    await add_flow(db, seeded, "checkout", _checkout("Checkout da loja A"), type="sub")
    await add_flow(db, seeded, "main", _main())
    await add_flow(db, other, "checkout", _checkout("Checkout da loja B"), type="sub")
    await add_flow(db, other, "main", _main())

    first = await local.say("5511933337001", "oi")  # A's customer, first
    assert await _replies(db, first.conversations[0]) == ["Checkout da loja A"]

    doc = webhooks.inbound_message(OTHER_PNID, "5511933337002", webhooks.text_message("oi"))
    second = await ingest_messages(db, parse_webhook(doc).messages)  # B's customer, a moment later
    await local.process(second.conversations[0])
    assert await _replies(db, second.conversations[0]) == ["Checkout da loja B"]


async def test_a_jump_by_id_never_runs_another_organization_s_flow(local, db, seeded):
    # B's main flow jumps by id to its "checkout"; that flow then moves to A's chatbot (as a
    # program saved before a check, or imported, may name any id): B's conversation must not
    # run A's flow, whatever the program says
    other = await seed_organization(db, phone_number_id=OTHER_PNID, phone_number="+5511988880000",
                                    chatbot={"welcome_message": None, "fallback_message": "?"})
    checkout = await add_flow(db, other, "checkout", _checkout("Checkout de A"), type="sub")
    await add_flow(db, other, "main", _canvas(
        [{"id": "start", "type": "start"},
         {"id": "go", "type": "jump", "data": {"flow": str(checkout), "return": False}}],
        [("start", "go", None)]))
    async with db.transaction() as s:
        await s.execute(text("UPDATE flows SET chatbot_id = :a WHERE id = :f"), {"a": seeded.chatbot_id, "f": checkout})

    doc = webhooks.inbound_message(OTHER_PNID, "5511933337003", webhooks.text_message("oi"))
    stored = await ingest_messages(db, parse_webhook(doc).messages)
    await local.process(stored.conversations[0])
    assert "Checkout de A" not in await _replies(db, stored.conversations[0])
    errors = await rows(db, "SELECT payload FROM events WHERE type = 'flow.error' AND organization_id = :o",
                        o=other.organization_id)
    assert len(errors) == 1 and "flow_not_found" in str(errors[0]["payload"]), errors


async def test_a_jump_to_a_flow_that_is_only_a_draft_says_so_not_that_it_is_missing(local, db, seeded):
    from api.db.models import Flow
    from api.services.flow_versions import save_canvas

    async with db.transaction() as s:  # "checkout" is saved, never published
        draft = Flow(chatbot_id=seeded.chatbot_id, name="checkout", type="sub", trigger_keywords=[], is_active=True)
        s.add(draft)
        await s.flush()
        assert (await save_canvas(s, draft, _checkout("Checkout"), None)).ok
    await add_flow(db, seeded, "main", _main())

    said = await local.say("5511933337004", "oi")
    assert "Checkout" not in await _replies(db, said.conversations[0])
    errors = await rows(db, "SELECT payload FROM events WHERE type = 'flow.error' AND organization_id = :o",
                        o=seeded.organization_id)
    assert [e["payload"]["error"] for e in errors] == [{
        "code": "flow_not_published",
        "message": "flow 'checkout' exists but has no published version: publish it in the editor (a draft never runs)"}]


async def test_a_jump_to_a_flow_that_is_gone_names_it_once(local, db, seeded):
    await add_flow(db, seeded, "checkout", _checkout("Checkout"), type="sub")
    await add_flow(db, seeded, "main", _main())
    async with db.transaction() as s:  # renamed after main was published: its jump finds nothing
        await s.execute(text("UPDATE flows SET name = 'pagamento' WHERE name = 'checkout'"))

    said = await local.say("5511933337005", "oi")
    assert "Checkout" not in await _replies(db, said.conversations[0])
    errors = await rows(db, "SELECT payload FROM events WHERE type = 'flow.error' AND organization_id = :o",
                        o=seeded.organization_id)
    assert [e["payload"]["error"] for e in errors] == [{
        "code": "flow_not_found", "message": "flow 'checkout' not found in this chatbot"}]
