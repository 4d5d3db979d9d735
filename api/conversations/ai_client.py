"""The AI port of the platform's runs: provider SDK clients built from `Settings`."""

from __future__ import annotations

from typing import Any

from api.settings import Settings
from engine.ports import AIAnswer


class LazyAIClient:
    """Builds the provider SDK clients on the first AI call (importing them is slow);
    keys and base URLs come from `Settings` (OPENAI_API_KEY, ANTHROPIC_BASE_URL...)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None

    async def complete(self, provider: str, model: str, **kwargs: Any) -> AIAnswer:
        if self._client is None:
            from engine.adapters.ai import ProviderAIClient

            s = self.settings
            self._client = ProviderAIClient(
                openai_api_key=s.openai_api_key, openai_base_url=s.openai_base_url,
                anthropic_api_key=s.anthropic_api_key, anthropic_base_url=s.anthropic_base_url,
            )
        return await self._client.complete(provider, model, **kwargs)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
