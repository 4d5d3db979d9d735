"""`ai_prompt`: asks an AI model; the answer goes to `variable` (and is sent when `send_response`).

    {"provider": "openai", "model": "gpt-4o-mini",
     "system_prompt": "Você é o assistente da Pizzaria Napoli.", "variable": "answer"}

`prompt` defaults to the customer's last message (the ``message`` namespace).
The ``ai_called`` event carries the usage the provider reported
(``prompt_tokens``, ``completion_tokens``, ``tokens_used`` = their sum, null
when the provider sent none), the model that answered and the latency.
History: the last `history_messages` items of ``scope_data["history"]``
(``{"role": "user"|"assistant", "content"}``). Any failure of the AI port
(HTTP error, timeout, missing credentials) takes `error`.
"""

from __future__ import annotations

import time
from typing import Any

from engine import events as ev
from engine.context import Run
from engine.ports import AIAnswer, OutboundMessage
from engine.program import Instruction, Op

MAX_TIMEOUT = 120.0
MAX_TOKENS = 4096
LOGGED_TEXT = 2000  # characters of the prompt and the answer the ai_called event keeps (the log store's)


def _history(run: Run, count: int) -> list[dict[str, str]]:
    if count <= 0:
        return []
    out = []
    for item in run.history[-count:]:
        role = item.get("role")
        if role not in ("user", "assistant"):
            role = "user" if item.get("direction") == "inbound" else "assistant"
        content = item.get("content", item.get("text"))
        if isinstance(content, str) and content:
            out.append({"role": role, "content": content})
    return out


async def execute(run: Run, ins: Instruction) -> int:
    arg = ins.arg
    node = ins.node
    provider = arg.get("provider")
    model = arg.get("model")
    prompt = run.render_text(arg.get("prompt")) if arg.get("prompt") is not None else run.message.get("text")
    system = run.render_text(arg.get("system_prompt"))
    variable = arg.get("variable") or "ai_response"
    messages: list[dict[str, Any]] = _history(run, int(arg.get("history_messages", 10)))
    if prompt:
        messages.append({"role": "user", "content": prompt})
    if not messages:
        run.emit(ev.AI_CALLED, node, {"provider": provider, "model": model, "ok": False, "error": "empty prompt"})
        return run.follow(ins, "error")
    started = time.perf_counter()
    try:
        reply = await run.ports.ai.complete(
            provider, model, system=system or None, messages=messages,
            temperature=float(arg.get("temperature", 0.7)),
            max_tokens=min(int(arg.get("max_tokens", 500)), MAX_TOKENS),
            timeout=min(float(arg.get("timeout_seconds", 30)), MAX_TIMEOUT),
        )
    except Exception as exc:  # AIError, timeouts, adapter bugs: all take `error`
        run.emit(ev.AI_CALLED, node, {"provider": provider, "model": model, "ok": False, "error": str(exc) or repr(exc),
                                      "prompt": _clip(prompt), "latency_ms": _since(started)})
        return run.follow(ins, "error")
    latency = _since(started)
    if not isinstance(reply, AIAnswer):  # an AI port without usage (a plain text answer)
        reply = AIAnswer(str(reply))
    answer = reply.text
    run.emit(ev.AI_CALLED, node, {"provider": provider, "model": reply.model or model, "ok": True,
                                  "prompt": _clip(prompt), "response": _clip(answer), "latency_ms": latency,
                                  "prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
                                  "tokens_used": reply.total_tokens})
    run.set_var(node, variable, answer)
    if arg.get("send_response", True) and answer:
        run.send(node, OutboundMessage("text", {"text": answer}))
    return run.follow(ins, "success")


HANDLERS = {Op.AI_PROMPT: execute}


def _clip(text: Any) -> str | None:
    return text[:LOGGED_TEXT] if isinstance(text, str) else None


def _since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
