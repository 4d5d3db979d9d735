"""Built-in texts a flow says when its designer wrote none, in the chatbot's language.

A chatbot's language (``chatbots.settings.language``: ``pt-BR`` by default,
``en``, ``es``) reaches the interpreter in ``scope_data["language"]``;
`builtin` picks the text, falling back to Brazilian Portuguese.
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "pt-BR"

TEXTS: dict[str, dict[str, str]] = {
    "pt-BR": {
        "retry_message": "Resposta inválida. Tente novamente.",
        "list_button": "Opções",
        "fallback_message": "Desculpe, não entendi. Pode reformular?",
    },
    "en": {
        "retry_message": "Sorry, that is not a valid answer. Please try again.",
        "list_button": "Options",
        "fallback_message": "Sorry, I didn't understand. Could you rephrase?",
    },
    "es": {
        "retry_message": "Respuesta no válida. Inténtalo de nuevo.",
        "list_button": "Opciones",
        "fallback_message": "Lo siento, no entendí. ¿Puedes reformularlo?",
    },
}


def language_of(value: object) -> str:
    """The supported language a tag like ``pt_BR``, ``en-US`` or ``es`` means (else the default)."""
    if not isinstance(value, str) or not value:
        return DEFAULT_LANGUAGE
    tag = value.replace("_", "-").lower()
    if tag.startswith("pt"):
        return "pt-BR"
    primary = tag.split("-", 1)[0]
    return primary if primary in TEXTS else DEFAULT_LANGUAGE


def builtin(language: object, key: str) -> str:
    return TEXTS[language_of(language)][key]
