"""Every inbound payload type Meta documents is parsed into what we store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.whatsapp.payloads import PayloadError, parse_webhook

PAYLOADS = Path(__file__).parent / "payloads"


def load(name: str):
    return json.loads((PAYLOADS / name).read_text("utf-8"))


def only_message(name: str):
    batch = parse_webhook(load(name))
    assert len(batch.messages) == 1 and not batch.statuses
    return batch.messages[0]


def test_text_message_carries_number_sender_profile_and_body():
    m = only_message("text.json")
    assert (m.phone_number_id, m.wa_id, m.profile_name) == ("106540352242922", "16505551234", "Sheena Nelson")
    assert m.wamid.startswith("wamid.")
    assert (m.kind, m.column_type, m.text) == ("text", "text", "Does it come in another color?")
    assert m.timestamp.timestamp() == 1749416383


def test_button_reply_gives_reply_id_title_and_context():
    m = only_message("interactive_button_reply.json")
    assert (m.kind, m.column_type, m.reply_id, m.text) == ("button_reply", "button", "yes", "Sim")
    assert m.context_wamid == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NjNFQjM4RTY3QzQ3RDM0MDAA"


def test_list_reply_gives_row_id_title_and_description():
    m = only_message("interactive_list_reply.json")
    assert (m.kind, m.column_type, m.reply_id, m.text) == ("list_reply", "list", "pizza_calabresa", "Calabresa")
    assert m.content["description"] == "Calabresa, cebola e azeitona"


def test_template_quick_reply_button_gives_payload_as_reply_id():
    m = only_message("template_quick_reply_button.json")
    assert (m.kind, m.column_type, m.reply_id, m.text) == ("button", "button", "STOP_PROMOS", "Parar promoções")


@pytest.mark.parametrize("name,kind,column", [
    ("image.json", "image", "image"),
    ("audio.json", "audio", "audio"),
    ("video.json", "video", "video"),
    ("document.json", "document", "document"),
    ("sticker.json", "sticker", "image"),
])
def test_media_keeps_id_mime_type_and_sha256(name, kind, column):
    m = only_message(name)
    raw = load(name)["entry"][0]["changes"][0]["value"]["messages"][0][kind]
    assert (m.kind, m.column_type) == (kind, column)
    assert m.content["media_id"] == raw["id"]
    assert m.content["mime_type"] == raw["mime_type"]
    assert m.content["sha256"] == raw["sha256"]


def test_document_keeps_filename_and_caption():
    m = only_message("document.json")
    assert (m.content["filename"], m.content["caption"], m.text) == ("contrato.pdf", "Contrato", "Contrato")


def test_location_keeps_coordinates_and_name():
    m = only_message("location.json")
    assert (m.column_type, m.content["latitude"], m.content["longitude"]) == ("location", -23.561414, -46.655881)
    assert m.text == "MASP"


def test_shared_contacts_are_kept():
    m = only_message("contacts.json")
    assert m.column_type == "contacts"
    assert m.content["contacts"][0]["phones"][0]["wa_id"] == "5511987654321"


def test_reaction_keeps_emoji_and_reacted_message():
    m = only_message("reaction.json")
    assert (m.kind, m.content["emoji"]) == ("reaction", "👍")
    assert m.content["reacted_message_id"].startswith("wamid.")


def test_unsupported_message_keeps_meta_error():
    m = only_message("unsupported.json")
    assert m.kind == "unsupported"
    assert m.content["errors"][0]["code"] == 131051


def test_unknown_type_is_stored_as_such_not_dropped():
    m = only_message("unknown_type.json")
    assert (m.kind, m.column_type) == ("poll_vote", "text")
    assert m.content["raw"] == {"option": "A"}


@pytest.mark.parametrize("name,status", [
    ("status_sent.json", "sent"), ("status_delivered.json", "delivered"),
    ("status_read.json", "read"), ("status_failed.json", "failed")])
def test_statuses_are_parsed(name, status):
    batch = parse_webhook(load(name))
    assert not batch.messages and len(batch.statuses) == 1
    assert batch.statuses[0].status == status
    assert batch.statuses[0].recipient_id == "16505551234"


def test_sent_status_echoes_our_callback_data():
    s = parse_webhook(load("status_sent.json")).statuses[0]
    assert s.biz_opaque_callback_data == "3f6c0b5e-8d3a-4a59-9d7d-0f3b8f2f4a11"


def test_failed_status_carries_code_title_message_and_details():
    err = parse_webhook(load("status_failed.json")).statuses[0].errors[0]
    assert (err.code, err.title) == (131047, "Re-engagement message")
    assert "24 hours" in err.details
    assert err.describe().startswith("(131047)")


@pytest.mark.parametrize("doc", [[], "x", {"object": "whatsapp_business_account"}, {"entry": "nope"}])
def test_body_that_is_not_a_webhook_is_a_payload_error(doc):
    with pytest.raises(PayloadError):
        parse_webhook(doc)


def test_malformed_parts_are_skipped_not_fatal():
    doc = load("text.json")
    doc["entry"].append({"changes": [{"value": {"metadata": {}}}, "junk"]})
    doc["entry"][0]["changes"][0]["value"]["messages"].append({"type": "text"})  # no id / from
    assert len(parse_webhook(doc).messages) == 1


def test_shared_contacts_without_a_type_field_are_contacts():
    m = only_message("contacts_card.json")  # Meta's own example has no "type"
    assert (m.kind, m.column_type) == ("contacts", "contacts")
    card = m.content["contacts"][0]
    assert (card["org"]["company"], card["birthday"], card["urls"][0]["url"]) == (
        "WhatsApp", "2012-08-18", "https://www.facebook.com")


def test_a_removed_reaction_has_no_emoji_and_says_so():
    m = only_message("reaction_removed.json")
    assert (m.kind, m.text, m.content["emoji"], m.content["removed"]) == ("reaction", None, None, True)


def test_errors_keep_what_meta_sent_and_the_normalised_fields():
    err = only_message("unknown_errors.json").content["errors"][0]  # the older shape: details next to code
    assert (err["code"], err["details"], err["message"]) == (131051, "Message type is not currently supported", "")
    assert parse_webhook(load("unknown_errors.json")).messages[0].kind == "unknown"


def test_keys_this_version_does_not_model_are_kept_under_extra():
    m = only_message("text_bsuid.json")
    assert m.content["extra"] == {"from_user_id": "US.13491208655302741918"}
    assert m.content["sender"] == {"user_id": "US.13491208655302741918",
                                   "parent_user_id": "US.ENT.11815799212886844830",
                                   "profile": {"username": "@sheena"}}
    assert m.profile_name == "Sheena Nelson"


def test_a_plain_message_carries_nothing_extra():
    assert set(only_message("text.json").content) == {"text", "kind"}
