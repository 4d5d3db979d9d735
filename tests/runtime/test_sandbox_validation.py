"""The sandbox Graph API refuses what Meta refuses, with Meta's error object.

Each case starts from a valid request of its kind, changes one thing, and
states Meta's code and a part of ``error_data.details``.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from api.sandbox.server import SandboxApp

HEADERS = {"authorization": "Bearer token"}
PATH = "/v27.0/100200300/messages"


def request(mtype: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "5511987654321",
            "type": mtype, mtype: body}


BUTTONS = request("interactive", {
    "type": "button", "header": {"type": "text", "text": "Cardápio"}, "body": {"text": "Escolha"},
    "footer": {"text": "PyTake"},
    "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "Pizza"}},
                           {"type": "reply", "reply": {"id": "b", "title": "Bebida"}}]}})
LIST = request("interactive", {
    "type": "list", "body": {"text": "Escolha"},
    "action": {"button": "Ver opções", "sections": [{"title": "Menu", "rows": [
        {"id": "r1", "title": "Pizza", "description": "Grande"}, {"id": "r2", "title": "Bebida"}]}]}})
TEMPLATE = request("template", {"name": "boas_vindas", "language": {"code": "pt_BR"}, "components": [
    {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://example.com/a.jpg"}}]},
    {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]},
    {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "x"}]}]})

VALID = {
    "text": request("text", {"body": "olá", "preview_url": False}),
    "image link": request("image", {"link": "https://example.com/a.jpg", "caption": "c" * 1024}),
    "image id": request("image", {"id": "1013859600285441"}),
    "document": request("document", {"link": "https://example.com/a.pdf", "filename": "a.pdf", "caption": "PDF"}),
    "audio": request("audio", {"link": "https://example.com/a.ogg"}),
    "sticker": request("sticker", {"id": "123"}),
    "buttons": BUTTONS,
    "list": LIST,
    "template": TEMPLATE,
    "template without components": request("template", {"name": "hello_world", "language": {"code": "en_US"}}),
    "reaction": request("reaction", {"message_id": "wamid.X", "emoji": "👍"}),
    "location": request("location", {"latitude": -23.5, "longitude": -46.6}),
    "reply context and callback": {**request("text", {"body": "oi"}), "context": {"message_id": "wamid.Y"},
                                   "biz_opaque_callback_data": "x" * 512},
    "recipient with +": {**request("text", {"body": "oi"}), "to": "+5511987654321"},
}


def post(doc: Any) -> tuple[int, Any]:
    import asyncio

    return asyncio.run(SandboxApp().handle("POST", PATH, "", json.dumps(doc).encode(), HEADERS))


@pytest.mark.parametrize("name", VALID)
def test_a_request_meta_takes_is_accepted(name):
    status, answer = post(VALID[name])
    assert status == 200 and answer["messages"][0]["id"].startswith("wamid."), answer


def at(doc: dict[str, Any], path: str) -> tuple[Any, Any]:
    """The container and key of a dotted path (``interactive.action.buttons.0.reply``)."""
    *parents, last = path.split(".")
    node = doc
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    return node, (int(last) if isinstance(node, list) else last)


def setting(path: str, value: Any) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        node, key = at(doc, path)
        node[key] = value
    return change


def removing(path: str) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        node, key = at(doc, path)
        del node[key]
    return change


def reply(i: int, rid: str, title: str) -> dict[str, Any]:
    return {"type": "reply", "reply": {"id": rid, "title": title}}


REFUSED = [
    ("text", "no recipient", removing("to"), 131008, "to"),
    ("text", "recipient with spaces", setting("to", "+55 11 98765-4321"), 100, "phone number"),
    ("text", "recipient that is not a number", setting("to", "ana"), 100, "phone number"),
    ("text", "recipient too short", setting("to", "12345"), 100, "phone number"),
    ("text", "recipient_type group", setting("recipient_type", "group"), 131009, "recipient_type"),
    ("text", "no body", removing("text.body"), 131008, "text['body']"),
    ("text", "empty body", setting("text.body", ""), 131008, "text['body']"),
    ("text", "body of 4097", setting("text.body", "a" * 4097), 131009, "Max length: 4096"),
    ("text", "preview_url not a boolean", setting("text.preview_url", "yes"), 100, "preview_url"),
    ("text", "no text object", removing("text"), 131008, "text"),
    ("text", "callback data of 513", setting("biz_opaque_callback_data", "x" * 513), 131009, "512"),
    ("text", "context without message_id", setting("context", {}), 131008, "message_id"),
    ("image link", "neither id nor link", removing("image.link"), 131009, "exactly one of id"),
    ("image id", "both id and link", setting("image.link", "https://example.com/a.jpg"), 131009, "exactly one"),
    ("image link", "link that is not http(s)", setting("image.link", "ftp://example.com/a.jpg"), 131009, "URL"),
    ("image link", "caption of 1025", setting("image.caption", "c" * 1025), 131009, "Max length: 1024"),
    ("audio", "a caption on an audio", setting("audio.caption", "ouça"), 100, "caption"),
    ("sticker", "a caption on a sticker", setting("sticker.caption", "oi"), 100, "caption"),
    ("image link", "a filename on an image", setting("image.filename", "a.jpg"), 100, "filename"),
    ("buttons", "no body", removing("interactive.body"), 131008, "body"),
    ("buttons", "body of 1025", setting("interactive.body.text", "b" * 1025), 131009, "Max length: 1024"),
    ("buttons", "header of 61", setting("interactive.header.text", "h" * 61), 131009, "Max length: 60"),
    ("buttons", "footer of 61", setting("interactive.footer.text", "f" * 61), 131009, "Max length: 60"),
    ("buttons", "header of an unknown type", setting("interactive.header.type", "audio"), 131009, "Header type"),
    ("buttons", "four buttons", setting("interactive.action.buttons",
                                        [reply(i, str(i), f"B{i}") for i in range(4)]), 131009, "Max: 3"),
    ("buttons", "no buttons", setting("interactive.action.buttons", []), 131008, "buttons"),
    ("buttons", "title of 21", setting("interactive.action.buttons.0.reply.title", "t" * 21), 131009,
     "Button title length invalid. Min length: 1, Max length: 20"),
    ("buttons", "empty title", setting("interactive.action.buttons.0.reply.title", ""), 131008, "title"),
    ("buttons", "id of 257", setting("interactive.action.buttons.0.reply.id", "i" * 257), 131009, "Max length: 256"),
    ("buttons", "duplicate titles", setting("interactive.action.buttons.1.reply.title", "Pizza"), 131009, "unique"),
    ("buttons", "duplicate ids", setting("interactive.action.buttons.1.reply.id", "a"), 131009, "unique"),
    ("buttons", "a button that is not a reply", setting("interactive.action.buttons.0.type", "url"), 131009, "reply"),
    ("buttons", "an unknown interactive type", setting("interactive.type", "carousel_x"), 131009, "Interactive type"),
    ("list", "list button of 21", setting("interactive.action.button", "b" * 21), 131009, "Max length: 20"),
    ("list", "no list button", removing("interactive.action.button"), 131008, "button"),
    ("list", "row title of 25", setting("interactive.action.sections.0.rows.0.title", "t" * 25), 131009,
     "Max length: 24"),
    ("list", "row description of 73", setting("interactive.action.sections.0.rows.0.description", "d" * 73), 131009,
     "Max length: 72"),
    ("list", "row id of 201", setting("interactive.action.sections.0.rows.0.id", "i" * 201), 131009,
     "Max length: 200"),
    ("list", "duplicate row ids", setting("interactive.action.sections.0.rows.1.id", "r1"), 131009, "unique"),
    ("list", "section title of 25", setting("interactive.action.sections.0.title", "s" * 25), 131009,
     "Max length: 24"),
    ("list", "eleven rows", setting("interactive.action.sections.0.rows",
                                    [{"id": str(i), "title": str(i)} for i in range(11)]), 131009, "10"),
    ("list", "two sections without titles", setting("interactive.action.sections", [
        {"rows": [{"id": "1", "title": "1"}]}, {"rows": [{"id": "2", "title": "2"}]}]), 131008, "title"),
    ("list", "a section without rows", setting("interactive.action.sections", [{"title": "x", "rows": []}]),
     131008, "rows"),
    ("template", "no name", removing("template.name"), 131008, "template['name']"),
    ("template", "no language", removing("template.language"), 131008, "language"),
    ("template", "no language code", setting("template.language", {}), 131008, "code"),
    ("template", "an unknown component", setting("template.components.1.type", "middle"), 131009, "type"),
    ("template", "a button component without sub_type", removing("template.components.2.sub_type"), 131008,
     "sub_type"),
    ("template", "a text parameter without text", removing("template.components.1.parameters.0.text"), 131008,
     "text"),
    ("template", "an unknown parameter type", setting("template.components.1.parameters.0.type", "txt"), 131009,
     "type"),
    ("template", "a header image with neither id nor link", setting("template.components.0.parameters.0.image", {}),
     131009, "exactly one"),
    ("text", "an unknown message type", setting("type", "hologram"), 131051, "not currently supported"),
]


@pytest.mark.parametrize("base, change, code, details", [(b, c, code, d) for b, _, c, code, d in REFUSED],
                         ids=[f"{b}: {n}" for b, n, *_ in REFUSED])
def test_a_request_meta_refuses_gets_metas_error(base, change, code, details):
    doc = copy.deepcopy(VALID[base])
    change(doc)
    status, answer = post(doc)
    assert status == 400, answer
    error = answer["error"]
    assert set(error) >= {"message", "type", "code", "error_data", "fbtrace_id"}
    assert error["type"] == "OAuthException" and error["code"] == code
    assert error["message"].startswith(f"(#{code})")
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert details in error["error_data"]["details"], error


def test_refused_requests_are_listed_and_nothing_is_sent():
    import asyncio

    app = SandboxApp()
    doc = copy.deepcopy(BUTTONS)
    doc["interactive"]["action"]["buttons"][0]["reply"]["title"] = "Maria Aparecida dos Santos Oliveira"

    async def run() -> tuple[int, Any]:
        await app.handle("POST", PATH, "", json.dumps(doc).encode(), HEADERS)
        return await app.handle("GET", "/_sandbox/messages", "", b"", {})

    status, listing = asyncio.run(run())
    assert listing["messages"] == [] and [r["code"] for r in listing["rejected"]] == [131009]
    assert app.state.inboxes == {}


def _typing(indicator: Any) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN",
            "typing_indicator": indicator}


@pytest.mark.parametrize("indicator", [{"type": "audio"}, {}, "text", True])
def test_a_typing_indicator_of_another_shape_is_refused(indicator):
    status, answer = post(_typing(indicator))
    assert status == 400 and answer["error"]["code"] == 131009
    assert "typing_indicator" in answer["error"]["error_data"]["details"]


def test_a_typing_indicator_is_shown_and_listed_with_its_read_receipt():
    import asyncio

    app = SandboxApp()

    async def run() -> tuple[tuple[int, Any], tuple[int, Any]]:
        shown = await app.handle("POST", PATH, "", json.dumps(_typing({"type": "text"})).encode(), HEADERS)
        return shown, await app.handle("GET", "/_sandbox/typing", "", b"", {})

    (status, answer), (_, listing) = asyncio.run(run())
    assert (status, answer) == (200, {"success": True})
    assert [(t["message_id"], t["phone_number_id"], t["type"]) for t in listing["typing_indicators"]] \
        == [("wamid.IN", "100200300", "text")]
    assert app.state.read_receipts == ["wamid.IN"]
