"""The AI port of the platform's runs: provider SDK clients built from `Settings`, and
from an organization's own key (a chatbot's ``ai_api_key``: api/conversations/chatbot_ai.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from api.settings import Settings
from engine.ports import AIAnswer

MAX_KEYED = 256  # organizations' clients kept open per process (the oldest is closed beyond)
_closing: set[asyncio.Task] = set()


class LazyAIClient:
    """Builds the provider SDK clients on the first AI call (importing them is slow);
    keys and base URLs come from `Settings` (OPENAI_API_KEY, ANTHROPIC_BASE_URL...).
    `with_key` gives the port of an organization that brings its own key for one provider:
    the deployment's base URL (operator configuration, never an organization's), its key."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None
        self._keyed: dict[tuple[str, str], Any] = {}  # (provider, key) -> ProviderAIClient

    async def complete(self, provider: str, model: str, **kwargs: Any) -> AIAnswer:
        if self._client is None:
            self._client = self._build()
        return await self._client.complete(provider, model, **kwargs)

    def with_key(self, provider: str, key: str) -> "KeyedAIClient":
        return KeyedAIClient(self, provider, key)

    def keyed(self, provider: str, key: str) -> Any:
        client = self._keyed.pop((provider, key), None)
        if client is None:
            client = self._build(**{f"{provider}_api_key": key})
            if len(self._keyed) >= MAX_KEYED:  # the least recently used goes
                oldest = self._keyed.pop(next(iter(self._keyed)))
                _closing.add(task := asyncio.get_running_loop().create_task(oldest.aclose()))
                task.add_done_callback(_closing.discard)
        self._keyed[(provider, key)] = client  # most recently used last
        return client

    def _build(self, **keys: str) -> Any:
        from engine.adapters.ai import ProviderAIClient

        s = self.settings
        if keys:  # one provider, the organization's key
            return ProviderAIClient(openai_api_key=keys.get("openai_api_key"), openai_base_url=s.openai_base_url,
                                    anthropic_api_key=keys.get("anthropic_api_key"),
                                    anthropic_base_url=s.anthropic_base_url)
        return ProviderAIClient(openai_api_key=s.openai_api_key, openai_base_url=s.openai_base_url,
                                anthropic_api_key=s.anthropic_api_key, anthropic_base_url=s.anthropic_base_url)

    async def aclose(self) -> None:
        clients, self._keyed = [*self._keyed.values()], {}
        if self._client is not None:
            clients.append(self._client)
        for client in clients:
            await client.aclose()


class KeyedAIClient:
    """The AI port of one conversation whose chatbot brings its own key for ``provider``:
    calls to that provider use it, calls to another the deployment's."""

    def __init__(self, base: LazyAIClient, provider: str, key: str) -> None:
        self.base, self.provider, self.key = base, provider, key

    async def complete(self, provider: str, model: str, **kwargs: Any) -> AIAnswer:
        if provider == self.provider:
            return await self.base.keyed(provider, self.key).complete(provider, model, **kwargs)
        return await self.base.complete(provider, model, **kwargs)
