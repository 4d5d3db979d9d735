"""A chatbot's own AI settings (``chatbots.ai_*``), used while ``ai_enabled`` is true:

- **answering what no flow handles**: a message that would get the chatbot's
  ``fallback_message`` (no flow to start or resume, no handoff keyword) is answered by
  ``ai_provider``'s ``ai_model`` instead, with ``ai_system_prompt`` as its instructions,
  ``ai_temperature`` (0.7 when unset) and the conversation's recent messages as the
  exchange; if the call fails (no key, the provider's error, no answer in time) the
  ``fallback_message`` goes out as before, and the failure is the step's ``flow.error``
  (code ``ai_failed``). The call is logged like an ``ai_prompt`` node's (``flow.step``'s
  ``ai``, with no node): the conversation's log and the chatbot's token counts show it.
- **the organization's own key**: with ``ai_api_key``, every call of the chatbot's
  conversations to ``ai_provider`` (that answer, and its flows' ``ai_prompt`` nodes naming
  that provider) uses it instead of the deployment's key; the base URL stays the
  deployment's (``OPENAI_BASE_URL``...: operator configuration, never an organization's).

With ``ai_enabled`` false the settings are kept, and none of this happens.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any

from api.conversations import load
from api.conversations.ai_client import LazyAIClient
from api.conversations.flow_selection import ChatbotInfo
from api.runtime_context import Runtime
from engine.nodes.ai_prompt import LOGGED_TEXT
from engine.ports import AIAnswer, AIClient

log = logging.getLogger("pytake.conversations.ai")

DEFAULT_TEMPERATURE = 0.7
MAX_TOKENS = 500
TIMEOUT = 30.0
_KEYS: dict[str, str | None] = {}  # encrypted key -> the key (None: it cannot be decrypted)


def ai_port(rt: Runtime, chatbot: ChatbotInfo | None) -> AIClient:
    """The AI port of a conversation of ``chatbot``: its organization's key for its provider
    when it brings one (and its AI is enabled), else the deployment's."""
    if rt.ai is None:
        rt.ai = LazyAIClient(rt.settings)
    if chatbot is None or not chatbot.ai_enabled or not chatbot.ai_provider or not chatbot.ai_api_key_encrypted \
            or not isinstance(rt.ai, LazyAIClient):
        return rt.ai
    key = _key(rt, chatbot.ai_api_key_encrypted)
    return rt.ai.with_key(chatbot.ai_provider, key) if key else rt.ai


def _key(rt: Runtime, encrypted: str) -> str | None:
    if encrypted not in _KEYS:
        from api.crypto import decrypt_secret

        if len(_KEYS) >= 1024:
            _KEYS.clear()
        try:
            _KEYS[encrypted] = decrypt_secret(rt.settings, encrypted)
        except ValueError:  # another deployment's key, or a rotated secret: the deployment's key then
            log.warning("a chatbot's ai_api_key cannot be decrypted with this deployment's key")
            _KEYS[encrypted] = None
    return _KEYS[encrypted]


async def answer(rt: Runtime, conversation_id: Any, chatbot: ChatbotInfo) -> tuple[str | None, dict[str, Any]]:
    """The chatbot's AI answer to the conversation's latest message: ``(text or None when the
    call failed, the call as flow.step's ``ai`` records it)``."""
    messages = await load.history(rt, conversation_id)
    while messages and messages[0]["role"] == "assistant":  # the exchange opens with the customer
        messages.pop(0)
    prompt = next((m["content"] for m in reversed(messages) if m["role"] == "user"), None)
    record: dict[str, Any] = {"node_id": None, "provider": chatbot.ai_provider, "model": chatbot.ai_model,
                              "ok": False, "error": None, "prompt": _clip(prompt), "response": None,
                              "prompt_tokens": None, "completion_tokens": None, "tokens_used": None,
                              "latency_ms": None, "timestamp": datetime.now(timezone.utc).isoformat()}
    if not messages or not chatbot.ai_provider or not chatbot.ai_model:
        record["error"] = "nothing to answer" if not messages else "the chatbot's ai_provider and ai_model are not set"
        return None, record
    started = time.perf_counter()
    try:
        reply = await ai_port(rt, chatbot).complete(
            chatbot.ai_provider, chatbot.ai_model, system=chatbot.ai_system_prompt or None, messages=messages,
            temperature=chatbot.ai_temperature if chatbot.ai_temperature is not None else DEFAULT_TEMPERATURE,
            max_tokens=MAX_TOKENS, timeout=TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - AIError, timeouts, adapter bugs: the fallback text answers
        record.update(error=str(exc) or repr(exc), latency_ms=_since(started))
        return None, record
    if not isinstance(reply, AIAnswer):
        reply = AIAnswer(str(reply))
    record.update(ok=bool(reply.text), model=reply.model or chatbot.ai_model, response=_clip(reply.text),
                  prompt_tokens=reply.input_tokens, completion_tokens=reply.output_tokens,
                  tokens_used=reply.total_tokens, latency_ms=_since(started),
                  error=None if reply.text else "an empty answer")
    return (reply.text or None), record


def _clip(text: Any) -> str | None:
    return text[:LOGGED_TEXT] if isinstance(text, str) else None


def _since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
