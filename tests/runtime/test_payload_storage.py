"""What the webhook stores for each of Meta's documented inbound message shapes.

Each fixture in ``payloads/`` is posted, signed, to the app's webhook (the
route, the parser, `ingest_messages`), then the stored rows are read back:
the message (``content``), its contact and its conversation. A second table
checks the same payloads against pywa (a maintained WhatsApp Cloud API
library): every value pywa extracts must be somewhere in what PyTake stored.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import enum
import json
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest

from api.sandbox import webhooks
from tests.runtime.conftest import APP_SECRET, PNID

PAYLOADS = Path(__file__).parent / "payloads"
SENDER = "16505551234"


def load(name: str) -> dict[str, Any]:
    doc = json.loads((PAYLOADS / name).read_text("utf-8"))
    doc["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = PNID  # the seeded number
    return doc


@pytest.fixture
async def post(settings, seeded) -> AsyncIterator[Any]:
    """POST a webhook body, signed with the app secret, to a started app."""
    from api.app import create_app

    app = create_app(settings)
    async with app.test_app():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pytake") as client:
            async def run(doc: dict[str, Any]) -> httpx.Response:
                response = await webhooks.post_signed(client, "http://pytake/webhooks/whatsapp", APP_SECRET, doc)
                assert response.status_code == 200, response.text
                return response
            yield run


async def stored(query) -> dict[str, Any]:
    message = (await query("SELECT type, content, metadata, whatsapp_message_id FROM messages"))[0]
    contact = (await query("SELECT whatsapp_id, whatsapp_name, phone, attributes FROM contacts"))[0]
    conversation = (await query("SELECT flow_variables FROM conversations"))[0]
    return {"message": dict(message), "contact": dict(contact), "conversation": dict(conversation)}


def _first_message_id(doc: dict[str, Any], wamid: str) -> dict[str, Any]:
    doc["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = wamid
    return doc


def at(doc: Any, path: str) -> Any:
    for part in path.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


REFERRAL = {"source_url": "https://fb.me/3cr4Wqqkv", "source_id": "120226305854810726", "source_type": "ad",
            "headline": "Chat with us", "body": "We're excited to talk to you!", "media_type": "image",
            "image_url": "https://scontent.xx.fbcdn.net/v/t45.1600-4/518749108.png",
            "video_url": "https://video.xx.fbcdn.net/v/t42.1790-2/10000000_video.mp4",
            "thumbnail_url": "https://scontent.xx.fbcdn.net/v/t45.1600-4/thumb.png",
            "ctwa_clid": "Aff-n8ZTODiE79d22KtAwQKj9e_mIEOOj27vDVwFjN80dp4_0NiNhEgpGo0AHemvuSoifXaytfTzcchptiErTKCqTrJ5nW1h7IHYeYymGb5K5J5iB2gpPIKb9b3qGTKtA",
            "welcome_message": {"text": "Hi there! Let us know how we can help."}}
CTX = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NjNFQjM4RTY3QzQ3RDM0MDAA"

# fixture -> messages.type and {path in what was stored: the value Meta sent}
STORED = {
    "text.json": ("text", {"message.content.text": "Does it come in another color?",
                           "contact.whatsapp_name": "Sheena Nelson"}),
    "contacts_card.json": ("contacts", {  # Meta's example has no "type"
        "message.content.kind": "contacts",
        "message.content.contacts.0.name.formatted_name": "John Smith",
        "message.content.contacts.0.name.prefix": "Dr",
        "message.content.contacts.0.phones.1.wa_id": "16505551234",
        "message.content.contacts.0.emails.1.email": "test@whatsapp.com",
        "message.content.contacts.0.addresses.1.street": "200 Jefferson Dr",
        "message.content.contacts.0.addresses.0.country_code": "us",
        "message.content.contacts.0.org.company": "WhatsApp",
        "message.content.contacts.0.org.title": "Manager",
        "message.content.contacts.0.urls.0.url": "https://www.facebook.com",
        "message.content.contacts.0.birthday": "2012-08-18"}),
    "text_ad_referral.json": ("text", {
        **{f"message.content.referral.{k}": v for k, v in REFERRAL.items()},
        **{f"contact.attributes.whatsapp_referral.{k}": v for k, v in REFERRAL.items()},
        **{f"conversation.flow_variables.whatsapp_referral.{k}": v for k, v in REFERRAL.items()},
        "contact.attributes.whatsapp_referral.whatsapp_message_id":
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="}),
    "video_ad_referral.json": ("video", {
        "message.content.referral.source_type": "post", "message.content.referral.media_type": "video",
        "message.content.referral.ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-GABDLOPaOdRMv-_zfUQ2a",
        "conversation.flow_variables.whatsapp_referral.headline": "Nova coleção",
        "contact.attributes.whatsapp_referral.thumbnail_url": "https://scontent.xx.fbcdn.net/v/t45.1600-4/colecao.png",
        "message.content.caption": "Quero este", "message.content.media_id": "1166846181421424",
        "message.content.url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1166846181421424"}),
    "text_referred_product.json": ("text", {
        "message.content.context.referred_product.catalog_id": "194836987003835",
        "message.content.context.referred_product.product_retailer_id": "di9ozbzfi4",
        "message.content.context.from": "15550783881", "message.content.context.id": CTX,
        "message.content.context.message_id": CTX}),
    "text_forwarded.json": ("text", {"message.content.context.forwarded": True,
                                     "message.content.context.frequently_forwarded": True}),
    "unknown_errors.json": ("text", {"message.content.kind": "unknown",
                                     "message.content.errors.0.code": 131051,
                                     "message.content.errors.0.title": "Unsupported message type",
                                     "message.content.errors.0.details": "Message type is not currently supported"}),
    "unsupported.json": ("text", {"message.content.errors.0.code": 131051,
                                  "message.content.errors.0.error_data.details": "Message type is currently not supported.",
                                  "message.content.errors.0.details": "Message type is currently not supported."}),
    "unknown_type.json": ("text", {"message.content.kind": "poll_vote", "message.content.raw.option": "A"}),
    "order.json": ("text", {"message.content.kind": "order", "message.content.catalog_id": "194836987003835",
                            "message.content.text": "Entregar depois das 18h",
                            "message.content.product_items.1.product_retailer_id": "nqryix03ez",
                            "message.content.product_items.0.quantity": 2,
                            "message.content.product_items.0.item_price": 30,
                            "message.content.product_items.0.currency": "USD",
                            "message.content.context.id": CTX}),
    "reaction.json": ("text", {"message.content.emoji": "👍", "message.content.reacted_message_id": CTX,
                               "message.content.removed": False}),
    "reaction_removed.json": ("text", {"message.content.emoji": None, "message.content.reacted_message_id": CTX,
                                       "message.content.removed": True}),
    "image.json": ("image", {"message.content.caption": "Minha nota fiscal", "message.content.mime_type": "image/jpeg",
                             "message.content.sha256": "NKyF3UpJ6uT1bT0xQvWJ3oYzHk0u1bPbE7ytcWfXk2A=",
                             "message.content.id": "1003383421387256", "message.content.media_id": "1003383421387256"}),
    "document.json": ("document", {"message.content.filename": "contrato.pdf", "message.content.caption": "Contrato"}),
    "sticker.json": ("image", {"message.content.kind": "sticker", "message.content.animated": False,
                               "message.content.mime_type": "image/webp"}),
    "audio.json": ("audio", {"message.content.voice": True, "message.content.mime_type": "audio/ogg; codecs=opus"}),
    "video.json": ("video", {"message.content.caption": "Vídeo do defeito"}),
    "location.json": ("location", {"message.content.latitude": -23.561414, "message.content.longitude": -46.655881,
                                   "message.content.name": "MASP", "message.content.url": "https://masp.org.br",
                                   "message.content.address": "Av. Paulista, 1578 - Bela Vista, São Paulo"}),
    "interactive_button_reply.json": ("button", {"message.content.reply_id": "yes", "message.content.text": "Sim"}),
    "interactive_list_reply.json": ("list", {"message.content.reply_id": "pizza_calabresa",
                                             "message.content.text": "Calabresa",
                                             "message.content.description": "Calabresa, cebola e azeitona"}),
    "interactive_nfm_reply.json": ("text", {
        "message.content.kind": "interactive:nfm_reply", "message.content.name": "flow",
        "message.content.body": "Sent",
        "message.content.response_json":
            "{\"flow_token\": \"AQAAAAACS5FpgQ_cAAAAAD0QI3s.\", \"appointment_date\": \"2026-12-03\"}"}),
    "interactive_call_permission_reply.json": ("text", {
        "message.content.kind": "interactive:call_permission_reply", "message.content.response": "accept",
        "message.content.expiration_timestamp": 1749675583, "message.content.response_source": "user_action"}),
    "template_quick_reply_button.json": ("button", {"message.content.reply_id": "STOP_PROMOS",
                                                    "message.content.text": "Parar promoções"}),
    "request_welcome.json": ("text", {"message.content.kind": "request_welcome"}),
    "text_identity.json": ("text", {"message.content.identity.hash": "Sjvjlx8G6Z0=",
                                    "message.content.identity.acknowledged": True,
                                    "message.content.identity.created_timestamp": 1602532300000,
                                    "message.content.sender.identity_key_hash": "DF2lS5v2W6x="}),
    "text_group.json": ("text", {"message.content.extra.group_id":
                                 "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD"}),
    "text_bsuid.json": ("text", {"message.content.sender.user_id": "US.13491208655302741918",
                                 "message.content.sender.parent_user_id": "US.ENT.11815799212886844830",
                                 "message.content.sender.profile.username": "@sheena",
                                 "message.content.extra.from_user_id": "US.13491208655302741918"}),
}


def test_every_message_fixture_is_in_the_table():
    names = {p.name for p in PAYLOADS.glob("*.json") if not p.name.startswith("status_")}
    names -= {"contacts.json", "system_changed_number.json", "system_changed_number_legacy.json"}  # tested below
    names -= {"text_bsuid_only.json"}  # tests/runtime/test_bsuid.py
    assert names == set(STORED)


@pytest.mark.parametrize("name", sorted(STORED))
async def test_what_the_webhook_stores(name, post, query):
    column_type, expected = STORED[name]
    await post(load(name))
    rows = await stored(query)
    assert rows["message"]["type"] == column_type
    assert rows["message"]["whatsapp_message_id"] == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert rows["contact"]["whatsapp_id"] == SENDER
    for path, value in expected.items():
        assert at(rows, path) == value, path


async def test_only_the_first_referral_is_attributed_to_contact_and_conversation(post, query):
    await post(load("text_ad_referral.json"))
    second = load("video_ad_referral.json")
    second["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "wamid.SECOND"
    await post(second)  # joins the open conversation (the one-statement path)
    rows = await query("SELECT content->'referral'->>'source_id' AS source FROM messages ORDER BY created_at")
    assert [r["source"] for r in rows] == ["120226305854810726", "120226305854810727"]
    contact = (await query("SELECT attributes FROM contacts"))[0]
    conversation = (await query("SELECT flow_variables FROM conversations"))[0]
    assert contact["attributes"]["whatsapp_referral"]["source_id"] == "120226305854810726"
    assert conversation["flow_variables"]["whatsapp_referral"]["source_id"] == "120226305854810726"


async def test_a_referral_on_an_open_conversation_is_attributed_to_it(post, query):
    await post(load("text.json"))
    later = load("text_ad_referral.json")
    later["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "wamid.LATER"
    await post(later)
    assert len(await query("SELECT id FROM conversations")) == 1
    conversation = (await query("SELECT flow_variables FROM conversations"))[0]
    contact = (await query("SELECT attributes FROM contacts"))[0]
    assert conversation["flow_variables"]["whatsapp_referral"]["ctwa_clid"] == REFERRAL["ctwa_clid"]
    assert contact["attributes"]["whatsapp_referral"]["whatsapp_message_id"] == "wamid.LATER"


@pytest.mark.parametrize("name,new_wa_id", [("system_changed_number.json", "12195555358"),
                                             ("system_changed_number_legacy.json", "12195555359")])
async def test_a_changed_number_moves_the_contact_to_it_with_its_history(name, new_wa_id, post, query):
    await post(load("text.json"))
    contact_id = (await query("SELECT id FROM contacts"))[0]["id"]
    await post(_first_message_id(load(name), "wamid.SYSTEM"))
    contact = (await query("SELECT id, whatsapp_id, phone, attributes FROM contacts"))
    assert len(contact) == 1
    assert (contact[0]["id"], contact[0]["whatsapp_id"], contact[0]["phone"]) == (contact_id, new_wa_id, "+" + new_wa_id)
    assert contact[0]["attributes"]["previous_whatsapp_ids"] == [SENDER]
    system = (await query("SELECT content FROM messages WHERE whatsapp_message_id = 'wamid.SYSTEM'"))[0]["content"]
    assert system["kind"] == "system" and new_wa_id in system["body"]
    # the customer's next message, from the new number, joins the same contact and conversation
    after = webhooks.inbound_message(PNID, new_wa_id, webhooks.text_message("oi, número novo"), profile_name="Sheena Nelson")
    await post(after)
    assert len(await query("SELECT id FROM contacts")) == 1
    assert len(await query("SELECT id FROM conversations")) == 1


async def test_a_changed_number_that_is_already_a_contact_is_linked_not_merged(post, query):
    await post(load("text.json"))
    await post(webhooks.inbound_message(PNID, "12195555358", webhooks.text_message("oi"), profile_name="Sheena"))
    await post(_first_message_id(load("system_changed_number.json"), "wamid.SYSTEM"))
    contacts = {r["whatsapp_id"]: r["attributes"] for r in await query("SELECT whatsapp_id, attributes FROM contacts")}
    assert set(contacts) == {SENDER, "12195555358"}  # the unique (organization, whatsapp_id) holds
    assert contacts[SENDER]["whatsapp_changed_to"] == "12195555358"
    assert contacts["12195555358"]["previous_whatsapp_ids"] == [SENDER]


async def test_a_redelivered_number_change_changes_nothing_twice(post, query):
    await post(load("text.json"))
    system = _first_message_id(load("system_changed_number.json"), "wamid.SYSTEM")
    await post(system)
    await post(system)
    contact = (await query("SELECT whatsapp_id, attributes FROM contacts"))
    assert len(contact) == 1 and contact[0]["attributes"]["previous_whatsapp_ids"] == [SENDER]


async def test_a_number_change_in_another_organization_is_not_touched(post, query, db):
    from pytake.hosting.seed import seed_organization

    await seed_organization(db, phone_number_id="900800700", phone_number="+5511999990001")
    other = webhooks.inbound_message("900800700", SENDER, webhooks.text_message("oi"))
    await post(other)
    await post(load("text.json"))
    await post(_first_message_id(load("system_changed_number.json"), "wamid.SYSTEM"))
    assert sorted(r["whatsapp_id"] for r in await query("SELECT whatsapp_id FROM contacts")) == ["12195555358", SENDER]


# ---- differential: what pywa reads from a payload, PyTake keeps ----------------

# pywa's own derived or envelope values, not something Meta sent about the message
_PYWA_SKIP = {"raw", "metadata", "id", "waba_id", "type", "chat", "shared_data", "country_code"}
_PYWA_SKIP_ANYWHERE = {"uploaded_by"}  # pywa's own marker (user or business), not in the payload


def _leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every non-empty scalar in a parsed pywa object, with its attribute path."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = []
        for f in dataclasses.fields(value):
            if (f.name in _PYWA_SKIP and not path) or f.name in _PYWA_SKIP_ANYWHERE:
                continue
            if f.name.startswith("_"):
                continue
            out += _leaves(getattr(value, f.name), f"{path}.{f.name}")
        return out
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}.{k}")]
    if isinstance(value, (list, tuple)):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}.{i}")]
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, datetime.datetime):
        value = int(value.timestamp())
    if value is None or value == "" or value is False:
        return []
    return [(path, value)]


def _haystack(value: Any, out: set[str]) -> set[str]:
    """Every scalar PyTake stored, as text (JSON strings inside are opened too)."""
    if isinstance(value, dict):
        for v in value.values():
            _haystack(v, out)
    elif isinstance(value, list):
        for v in value:
            _haystack(v, out)
    elif isinstance(value, datetime.datetime):
        out.add(str(int(value.timestamp())))
    elif value is not None:
        out.add(str(value))
        if isinstance(value, str) and value[:1] in "{[":
            try:
                _haystack(json.loads(value), out)
            except ValueError:
                pass
    return out


def parse_with_pywa(doc: dict[str, Any]) -> Any:
    from pywa import WhatsApp  # the dev extra: a missing pywa fails the test, never skips it
    from pywa.server import _handle_messages_field
    from pywa.types.base_update import RawUpdate

    doc = copy.deepcopy(doc)
    value = doc["entry"][0]["changes"][0]["value"]
    message = value["messages"][0]
    if "type" not in message and "contacts" in message:  # Meta's example has none; pywa needs it
        message["type"] = "contacts"
    for error in message.get("errors", []):  # Meta's older errors have no message; pywa needs one
        error.setdefault("message", error.get("title", ""))
    for contact in value.get("contacts", []):
        contact.setdefault("user_id", "US.0")  # pywa 4.5 needs a BSUID: not compared (it is ours)
    wa = WhatsApp(token="not-used", server=None)
    update = RawUpdate(json.dumps(doc).encode(), hmac_header=None, update_hash="test")
    handler = _handle_messages_field(wa, update)
    assert handler is not None and handler._update is not None, "pywa does not parse this payload"
    return handler._update.from_update(wa, update)


DIFFERENTIAL = sorted(set(STORED) | {"contacts.json", "system_changed_number.json"})


@pytest.mark.parametrize("name", DIFFERENTIAL)
async def test_pywa_finds_nothing_pytake_did_not_keep(name, post, query):
    doc = load(name)
    if name.startswith("system_"):
        await post(_first_message_id(load("text.json"), "wamid.FIRST"))
    parsed = parse_with_pywa(doc)
    await post(doc)
    haystack: set[str] = set()
    for table, sql in (("messages", "SELECT content, metadata, whatsapp_message_id FROM messages"),
                       ("contacts", "SELECT whatsapp_id, whatsapp_name, phone, attributes FROM contacts"),
                       ("conversations", "SELECT flow_variables FROM conversations")):
        for row in await query(sql):
            _haystack(dict(row), haystack)
    leaves = [(p, v) for p, v in _leaves(parsed) if v != "US.0"]
    assert leaves, "pywa extracted nothing"
    missing = [(p, v) for p, v in leaves if str(v) not in haystack]
    assert not missing, f"pywa read these, PyTake did not keep them: {missing}"


# ---- what the flow step does with them ------------------------------------------

async def test_a_number_change_notice_is_not_answered(local, query):
    system = load("system_changed_number.json")["entry"][0]["changes"][0]["value"]["messages"][0]
    await local.say(SENDER, {"type": "system", "system": system["system"]})
    assert await query("SELECT id FROM messages WHERE direction = 'outbound'") == []
    inbound = (await query("SELECT metadata FROM messages WHERE direction = 'inbound'"))[0]
    assert inbound["metadata"]["processed"] is True and inbound["metadata"]["run"]["status"] == "ignored"
    await local.say("12195555358", "oi")  # the same customer, from the new number: answered as before
    assert len(await query("SELECT id FROM messages WHERE direction = 'outbound'")) == 1


async def test_a_step_loaded_before_an_ad_referral_does_not_write_it_away(local, query):
    from api import conversations

    first = await local.receive(SENDER, "oi")
    loaded = await conversations.load_step(local.rt, first.conversations[0])
    decision = await conversations.decide(local.rt, loaded)
    referral = load("text_ad_referral.json")["entry"][0]["changes"][0]["value"]["messages"][0]["referral"]
    await local.receive(SENDER, {**webhooks.text_message("vi o anúncio"), "referral": referral})  # meanwhile
    assert await conversations.apply(local.rt, loaded, decision) is not None  # the step is applied
    fv = (await query("SELECT flow_variables FROM conversations"))[0]["flow_variables"]
    assert fv["whatsapp_referral"]["ctwa_clid"] == REFERRAL["ctwa_clid"]
    assert fv["rev"] == 1  # and the step's own state is there too
