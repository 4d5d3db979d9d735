"""Which flow answers an inbound message (pure: data in, decision out).

Rules, in order:

1. ``conversations.is_bot_active = false``: agents own the conversation; the bot stays silent.
2. A handoff keyword of the chatbot (``chatbots.handoff_keywords``, when
   ``auto_handoff_enabled``) hands the conversation to a human, even mid-flow.
3. A conversation waiting in a flow resumes that flow, on the program version
   it started with.
4. A trigger keyword of an active flow of the chatbot serving this number
   (``flows.whatsapp_number_id`` NULL serves every number; a number-specific
   flow wins over a shared one, then the longer keyword).
5. Otherwise the chatbot's main flow (``type = 'main'``; number-specific
   first, then one without trigger keywords, then the oldest).
6. No flow at all: the chatbot's ``fallback_message``.

The chatbot's ``welcome_message`` goes before anything else on a
conversation's first message. A keyword matches when the whole message, or a
run of whole words in it, equals the keyword, ignoring case and accents.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime
from typing import Sequence


@dataclass(frozen=True)
class FlowInfo:
    id: uuid.UUID
    name: str
    type: str
    trigger_keywords: tuple[str, ...]
    whatsapp_number_id: uuid.UUID | None
    created_at: datetime | None = None


@dataclass(frozen=True)
class ChatbotInfo:
    id: uuid.UUID
    welcome_message: str | None = None
    fallback_message: str | None = None
    away_message: str | None = None
    auto_handoff_enabled: bool = True
    handoff_keywords: tuple[str, ...] = ()
    business_hours: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    # the chatbot's AI (api/conversations/chatbot_ai.py): used only when ai_enabled
    ai_enabled: bool = False
    ai_provider: str | None = None
    ai_model: str | None = None
    ai_api_key_encrypted: str | None = None
    ai_system_prompt: str | None = None
    ai_temperature: float | None = None


@dataclass(frozen=True)
class Selection:
    action: str  # "agent" | "handoff" | "resume" | "start" | "fallback"
    flow: FlowInfo | None = None
    keyword: str | None = None
    welcome: bool = False


def normalize(text: str | None) -> str:
    """Lower-case, accents removed, punctuation as spaces, whitespace collapsed."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", plain).split())


_NON_WORD = re.compile(r"[^\w]+")


@lru_cache(maxsize=4096)
def normalized_keyword(keyword: str) -> str:
    """`normalize` of a keyword (a chatbot's, a flow's, an opt-out word): the same few
    words are checked against every message, so each is normalized once per process."""
    return normalize(keyword)


@lru_cache(maxsize=256)
def normalized_keywords(keywords: tuple[str, ...]) -> frozenset[str]:
    """The set of `normalize`d keywords (``said in normalized_keywords(k)`` is
    ``any(normalize(w) == said for w in k)``). A word with no letter or digit ("🛑", "!!")
    normalizes to nothing and is left out, as `keyword_matches` ignores it: else it would
    match every message without words (a photo, a location, a sticker)."""
    return frozenset(word for word in map(normalize, keywords) if word)


def keyword_matches(keyword: str, text: str) -> bool:
    return _matches(normalized_keyword(keyword), normalize(text))


def _matches(kw: str, msg: str) -> bool:
    """Whether the normalized keyword ``kw`` is the normalized message ``msg`` or one of its words' runs."""
    if not kw or not msg:
        return False
    return msg == kw or f" {kw} " in f" {msg} "


def flows_for_number(flows: Sequence[FlowInfo], number_id: uuid.UUID | None) -> list[FlowInfo]:
    return [f for f in flows if f.whatsapp_number_id is None or f.whatsapp_number_id == number_id]


def select(
    *,
    bot_active: bool,
    chatbot: ChatbotInfo | None,
    flows: Sequence[FlowInfo],
    number_id: uuid.UUID | None,
    text: str | None,
    waiting: bool,
    first_message: bool,
    said: str | None = None,
) -> Selection:
    """``said``: ``normalize(text)`` when the caller has it already."""
    if not bot_active or chatbot is None:
        return Selection("agent")
    welcome = first_message and bool(chatbot.welcome_message)
    msg = normalize(text) if said is None else said  # once per message; each keyword's is cached
    if chatbot.auto_handoff_enabled:
        for kw in chatbot.handoff_keywords:
            if _matches(normalized_keyword(kw), msg):
                return Selection("handoff", keyword=kw, welcome=welcome)
    if waiting:
        return Selection("resume", welcome=welcome)
    candidates = flows_for_number(flows, number_id)
    best: tuple[tuple[int, int], FlowInfo, str] | None = None
    for flow in candidates:
        for kw in flow.trigger_keywords:
            norm = normalized_keyword(kw)
            if _matches(norm, msg):
                rank = (1 if flow.whatsapp_number_id is not None else 0, len(norm))
                if best is None or rank > best[0]:
                    best = (rank, flow, kw)
    if best is not None:
        return Selection("start", flow=best[1], keyword=best[2], welcome=welcome)
    mains = [f for f in candidates if f.type == "main"]
    if mains:
        mains.sort(key=lambda f: (f.whatsapp_number_id is None, bool(f.trigger_keywords),
                                  f.created_at or datetime.max, str(f.id)))
        return Selection("start", flow=mains[0], welcome=welcome)
    return Selection("fallback", welcome=welcome)
