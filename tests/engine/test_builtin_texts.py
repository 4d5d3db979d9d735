"""Built-in texts (retry message, list button) follow the chatbot's language."""

from __future__ import annotations

import pytest

from compiler import compile_canvas
from engine import InboundMessage, Interpreter
from engine.texts import TEXTS, language_of

OPTIONS = [{"id": str(i), "title": f"Opção {i}"} for i in range(1, 5)]  # 4 options: a list
CANVAS = {
    "nodes": [
        {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
        {"id": "q", "type": "question", "position": {"x": 0, "y": 100},
         "data": {"text": "Qual?", "variable": "choice", "options": OPTIONS}},
        {"id": "end", "type": "end", "position": {"x": 0, "y": 200}, "data": {}},
    ],
    "edges": [{"id": "a", "source": "start", "target": "q"}, {"id": "b", "source": "q", "target": "end"}],
}


@pytest.mark.parametrize(("language", "button", "retry"), [
    ("en", "Options", "Sorry, that is not a valid answer. Please try again."),
    ("es-MX", "Opciones", "Respuesta no válida. Inténtalo de nuevo."),
    ("pt_BR", "Opções", "Resposta inválida. Tente novamente."),
    (None, "Opções", "Resposta inválida. Tente novamente."),
    ("xx", "Opções", "Resposta inválida. Tente novamente."),
])
async def test_list_button_and_retry_text_are_in_the_chatbots_language(kit, language, button, retry) -> None:
    program = compile_canvas(CANVAS).program
    interp = Interpreter(kit.make_ports())
    scope = {"language": language}
    started = await interp.start(program, "main", scope)
    assert started.messages[0]["content"]["button"] == button
    again = await interp.resume(started.state, InboundMessage(text="nenhuma"), kit.loader({"main": program}), scope)
    assert again.messages == [{"type": "text", "content": {"text": retry}}]


def test_every_language_has_every_text() -> None:
    keys = set(TEXTS["pt-BR"])
    assert all(set(texts) == keys for texts in TEXTS.values())
    assert language_of("en-GB") == "en" and language_of("pt-PT") == "pt-BR"
