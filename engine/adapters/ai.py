"""The ``AIClient`` port over the official SDKs: OpenAI chat completions, Anthropic messages.

Credentials and ``base_url`` come from the constructor (configuration), never
from flows; any server speaking the provider's HTTP API works. Every failure
(HTTP error status, timeout, connection error, missing credentials, an empty
answer) becomes ``AIError`` so the `ai_prompt` node takes its `error` branch.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping, Sequence

import anthropic
import openai

from engine.ports import AIAnswer, AIError
from engine.values import without_nul  # a model can be talked into emitting U+0000

# Newer Anthropic SDKs dropped `temperature` from messages.create; send it only
# where the installed SDK still takes it.
_ANTHROPIC_TEMPERATURE = "temperature" in inspect.signature(
    anthropic.resources.messages.AsyncMessages.create).parameters


class ProviderAIClient:
    def __init__(
        self,
        *,
        openai_api_key: str | None = None,
        openai_base_url: str | None = None,
        anthropic_api_key: str | None = None,
        anthropic_base_url: str | None = None,
        max_retries: int = 0,
    ) -> None:
        self._openai = (
            openai.AsyncOpenAI(api_key=openai_api_key, base_url=openai_base_url, max_retries=max_retries)
            if openai_api_key else None
        )
        self._anthropic = (
            anthropic.AsyncAnthropic(api_key=anthropic_api_key, base_url=anthropic_base_url,
                                     max_retries=max_retries)
            if anthropic_api_key else None
        )

    async def aclose(self) -> None:
        for client in (self._openai, self._anthropic):
            if client is not None:
                await client.close()

    async def complete(
        self,
        provider: str,
        model: str,
        *,
        system: str | None,
        messages: Sequence[Mapping[str, str]],
        temperature: float,
        max_tokens: int,
        timeout: float,
    ) -> AIAnswer:
        if provider == "openai":
            return await self._complete_openai(model, system, messages, temperature, max_tokens, timeout)
        if provider == "anthropic":
            return await self._complete_anthropic(model, system, messages, temperature, max_tokens, timeout)
        raise AIError(f"unknown AI provider {provider!r}")

    async def _complete_openai(self, model: str, system: str | None, messages: Sequence[Mapping[str, str]],
                               temperature: float, max_tokens: int, timeout: float) -> AIAnswer:
        if self._openai is None:
            raise AIError("OpenAI is not configured (no API key)")
        chat: list[Any] = [{"role": "system", "content": system}] if system else []
        chat += [{"role": m["role"], "content": m["content"]} for m in messages]
        try:
            completion = await self._openai.chat.completions.create(
                model=model, messages=chat, temperature=temperature, max_tokens=max_tokens, timeout=timeout,
            )
        except openai.APITimeoutError:
            raise AIError(f"OpenAI: no answer within {timeout:g}s") from None
        except openai.APIStatusError as exc:
            raise AIError(f"OpenAI: HTTP {exc.status_code}: {_short(exc.message)}") from None
        except openai.OpenAIError as exc:
            raise AIError(f"OpenAI: {_short(str(exc))}") from None
        try:
            text = completion.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            text = None
        if not text:
            raise AIError("OpenAI: empty answer")
        usage = getattr(completion, "usage", None)
        return AIAnswer(without_nul(text), model=without_nul(getattr(completion, "model", None) or model),
                        input_tokens=_count(usage, "prompt_tokens"), output_tokens=_count(usage, "completion_tokens"))

    async def _complete_anthropic(self, model: str, system: str | None, messages: Sequence[Mapping[str, str]],
                                  temperature: float, max_tokens: int, timeout: float) -> AIAnswer:
        if self._anthropic is None:
            raise AIError("Anthropic is not configured (no API key)")
        turns: list[dict[str, Any]] = []
        for m in messages:  # the Messages API wants alternating turns, starting with the user
            if turns and turns[-1]["role"] == m["role"]:
                turns[-1]["content"] += "\n\n" + m["content"]
            else:
                turns.append({"role": m["role"], "content": m["content"]})
        if turns and turns[0]["role"] != "user":
            turns.insert(0, {"role": "user", "content": "…"})
        kwargs: dict[str, Any] = {"system": system} if system else {}
        if _ANTHROPIC_TEMPERATURE:
            kwargs["temperature"] = min(temperature, 1.0)  # Anthropic's range is 0–1
        try:
            reply = await self._anthropic.messages.create(
                model=model, messages=turns, max_tokens=max_tokens, timeout=timeout, **kwargs,
            )
        except anthropic.APITimeoutError:
            raise AIError(f"Anthropic: no answer within {timeout:g}s") from None
        except anthropic.APIStatusError as exc:
            raise AIError(f"Anthropic: HTTP {exc.status_code}: {_short(exc.message)}") from None
        except anthropic.AnthropicError as exc:
            raise AIError(f"Anthropic: {_short(str(exc))}") from None
        text = "".join(getattr(block, "text", "") for block in (reply.content or []))
        if not text:
            raise AIError("Anthropic: empty answer")
        usage = getattr(reply, "usage", None)
        return AIAnswer(without_nul(text), model=without_nul(getattr(reply, "model", None) or model),
                        input_tokens=_count(usage, "input_tokens"), output_tokens=_count(usage, "output_tokens"))


def _count(usage: Any, name: str) -> int | None:
    """A token count of the provider's ``usage`` object (None when absent or not a count)."""
    value = getattr(usage, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _short(text: str, limit: int = 200) -> str:
    text = without_nul(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"

