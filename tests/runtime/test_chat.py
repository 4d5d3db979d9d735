"""`pytake chat` shows the bot's messages, buttons and lists as numbered choices."""

from __future__ import annotations

from api.whatsapp.graph_client import build_message
from pytake.commands.chat import render


def record(msg_type, content):
    return {"payload": build_message("5511", msg_type, content)}


def test_buttons_are_numbered_choices():
    text, choices = render(record("button", {"text": "Escolha", "buttons": [{"id": "a", "title": "Pizza"},
                                                                            {"id": "b", "title": "Atendente"}]}))
    assert "  1) Pizza" in text and "  2) Atendente" in text
    assert choices == [("button", "a", "Pizza"), ("button", "b", "Atendente")]


def test_list_rows_are_numbered_choices_with_descriptions():
    text, choices = render(record("list", {"text": "Sabores", "button": "Ver", "rows": [
        {"id": "c", "title": "Calabresa", "description": "com cebola"}]}))
    assert "[Ver]" in text and "  1) Calabresa — com cebola" in text
    assert choices[0][:2] == ("list", "c")


def test_text_and_media_are_shown_plainly():
    assert render(record("text", {"text": "Olá"}))[0] == "Olá"
    assert render(record("image", {"media_url": "https://x/y.jpg", "caption": "Menu"}))[0] == "[image] https://x/y.jpg Menu"
