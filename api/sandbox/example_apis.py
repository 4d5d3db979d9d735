"""What the demo's example flows call, served by the sandbox so every example finishes.

The example flows name made-up hosts (``https://crm.example.com/...``);
`pytake demo` points them at ``<sandbox>/examples/<host>/...`` (`demo_url`). When
no AI key is set, the demo also points the AI provider at the sandbox, which
answers OpenAI's ``POST /v1/chat/completions`` and Anthropic's ``POST /v1/messages``
in their wire formats with a short canned answer and a usage
(``usage.prompt_tokens``/``completion_tokens``, ``usage.input_tokens``/``output_tokens``)
counted as one token per 4 characters.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import secrets
import time
from typing import Any

EXAMPLE_HOSTS = ("agenda", "crm", "feedback", "loja")
_EXAMPLE_URL = re.compile(r"https://(" + "|".join(EXAMPLE_HOSTS) + r")\.example\.com/")
_codes = itertools.count(1001)

DEMO_AI_ANSWER = ("(Resposta de demonstração: nenhuma chave de IA configurada.) Entregamos em até 7 dias úteis "
                  "nas capitais, trocas em até 30 dias, e aceitamos Pix, boleto ou cartão em até 6x sem juros.")


def demo_url(text: str, sandbox_url: str) -> str:
    """``https://crm.example.com/api`` → ``<sandbox_url>/examples/crm/api`` (other text unchanged)."""
    return _EXAMPLE_URL.sub(lambda m: f"{sandbox_url.rstrip('/')}/examples/{m.group(1)}/", text)


def _body(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return None


def example_api(method: str, path: str, raw: bytes) -> tuple[int, Any] | None:
    """The answer of an example API or of the AI stand-in, or None when ``path`` is neither."""
    body = _body(raw)
    if method == "POST" and path == "/examples/agenda/api/appointments":
        if not isinstance(body, dict) or not body.get("date") or not body.get("time"):
            return 422, {"error": "date and time are required"}
        return 201, {"appointment": {"code": f"AG-{next(_codes)}", "date": body["date"], "time": body["time"]}}
    if method == "POST" and path == "/examples/crm/api/v1/leads":
        if not isinstance(body, dict) or not body.get("email"):
            return 422, {"error": "email is required"}
        big = str(body.get("size") or "") not in ("", "ate_10")
        return 201, {"data": {"id": f"L-{next(_codes)}", "score": 85 if big else 30}}
    if method == "POST" and path == "/examples/feedback/api/nps":
        return 201, {"ok": True}
    match = re.fullmatch(r"/examples/loja/api/orders/([0-9A-Za-z-]{1,40})", path)
    if method == "GET" and match:
        eta = (dt.date.today() + dt.timedelta(days=3)).isoformat()
        return 200, {"order": {"id": match.group(1), "status": "in_transit", "delivery": {"estimated_date": eta}}}
    if method == "POST" and path == "/v1/chat/completions":
        return 200, _openai_answer(body if isinstance(body, dict) else {})
    if method == "POST" and path == "/v1/messages":
        return 200, _anthropic_answer(body if isinstance(body, dict) else {})
    return None


def _tokens(text: str) -> int:
    """About what a provider's tokenizer counts: one token per 4 characters, at least one."""
    return max(1, -(-len(text) // 4))


def _prompt_tokens(request: dict[str, Any]) -> int:
    """The prompt's tokens: the system prompt and every message's text."""
    parts = [request.get("system")] + [m.get("content") for m in request.get("messages") or [] if isinstance(m, dict)]
    return sum(_tokens(p) for p in parts if isinstance(p, str) and p)


def _openai_answer(request: dict[str, Any]) -> dict[str, Any]:
    prompt, completion = _prompt_tokens(request), _tokens(DEMO_AI_ANSWER)
    return {
        "id": "chatcmpl-" + secrets.token_hex(8), "object": "chat.completion", "created": int(time.time()),
        "model": request.get("model") or "demo",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": DEMO_AI_ANSWER},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }


def _anthropic_answer(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_" + secrets.token_hex(8), "type": "message", "role": "assistant",
        "model": request.get("model") or "demo", "content": [{"type": "text", "text": DEMO_AI_ANSWER}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": _prompt_tokens(request), "output_tokens": _tokens(DEMO_AI_ANSWER)},
    }
