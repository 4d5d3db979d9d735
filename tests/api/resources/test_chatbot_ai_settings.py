"""A chatbot's AI, once enabled, answers for it (api/conversations/chatbot_ai.py): the API
refuses to enable it without the provider and model that would answer, names the missing
field, and writes nothing; a provider PyTake cannot call is refused when given."""

from __future__ import annotations


async def test_enabling_the_ai_needs_a_provider_and_a_model(seed, admin_api) -> None:
    status, body = await admin_api.post("/chatbots", {"name": "Bot IA", "ai_enabled": True, "ai_provider": "openai"})
    assert status == 422 and body["error"]["field"] == "ai_model", body
    status, body = await admin_api.post("/chatbots", {"name": "Bot IA", "ai_enabled": True, "ai_model": "gpt-4o"})
    assert status == 422 and body["error"]["field"] == "ai_provider", body
    _, listed = await admin_api.get("/chatbots?per_page=100")
    assert "Bot IA" not in [b["name"] for b in listed["items"]]  # nothing written

    bot = await seed.chatbot(name="Bot IA", ai_provider="anthropic")  # disabled: incomplete is fine
    status, body = await admin_api.patch(f"/chatbots/{bot['id']}", {"ai_enabled": True})
    assert status == 422 and body["error"]["field"] == "ai_model", body
    status, body = await admin_api.patch(f"/chatbots/{bot['id']}", {"ai_enabled": True,
                                                                   "ai_model": "claude-3-5-haiku-latest"})
    assert status == 200 and body["ai_enabled"] is True, body
    status, body = await admin_api.patch(f"/chatbots/{bot['id']}", {"ai_model": None})  # would leave it unusable
    assert status == 422 and body["error"]["field"] == "ai_model", body
    _, kept = await admin_api.get(f"/chatbots/{bot['id']}")
    assert kept["ai_model"] == "claude-3-5-haiku-latest"


async def test_a_provider_pytake_cannot_call_is_refused(seed, admin_api) -> None:
    status, body = await admin_api.post("/chatbots", {"name": "Bot G", "ai_provider": "google"})
    assert status == 422 and body["error"]["field"] == "ai_provider", body
