"""A chatbot's own AI settings (api/conversations/chatbot_ai.py), with the platform's AI port
pointed at a local server speaking OpenAI's HTTP API: while ``ai_enabled``, a message no flow
handles is answered by the chatbot's model with its instructions, temperature and the
conversation so far, on the organization's own key; its flows' ai_prompt nodes use that key
too; a failed call falls back to the fallback text; disabled, none of it happens."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from sqlalchemy import text

from api.analytics import update_chatbot_statistics
from api.crypto import encrypt_secret
from api.sandbox.server import SandboxApp, SandboxConfig, SandboxState
from tests.engine.conftest import LocalServer
from tests.runtime.conftest import Local, _canvas, sandbox_runtime

COMPLETIONS = "/v1/chat/completions"


def _completion(text_: str) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1767225600, "model": "gpt-org-2026",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text_}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}}


@pytest.fixture
def provider_server():
    server = LocalServer()
    yield server
    server.close()


@pytest.fixture
async def bot(provider_server, db, redis, settings, seeded):
    """The seeded organization's runtime, the deployment's OpenAI key "sk-deploy"."""
    settings = dataclasses.replace(settings, openai_api_key="sk-deploy", openai_base_url=provider_server.url + "/v1")
    sandbox = SandboxApp(SandboxState(SandboxConfig(send_statuses=False)))
    rt = sandbox_runtime(db, redis, settings, sandbox)
    try:
        yield Local(rt, sandbox, db, seeded), settings
    finally:
        await rt.graph._client.aclose()
        await rt.close()


async def _set_ai(db, settings, chatbot_id, *, enabled: bool, key: str | None = "sk-org") -> None:
    async with db.transaction() as s:
        await s.execute(text(
            "UPDATE chatbots SET ai_enabled = :e, ai_provider = 'openai', ai_model = 'gpt-org', "
            "ai_api_key_encrypted = :k, ai_system_prompt = 'Seja breve.', ai_temperature = 0.2, "
            "fallback_message = 'Não entendi.' WHERE id = :b"),
            {"e": enabled, "k": encrypt_secret(settings, key) if key else None, "b": chatbot_id})


async def _replies(db, conversation_id) -> list[str]:
    async with db.session() as s:
        return list((await s.execute(text(
            "SELECT content->>'text' FROM messages WHERE conversation_id = :c AND direction = 'outbound' "
            "ORDER BY created_at"), {"c": conversation_id})).scalars())


async def _events(db, conversation_id, type_: str) -> list[dict]:
    async with db.session() as s:
        return list((await s.execute(text("SELECT payload FROM events WHERE ordering_key = :c AND type = :t "
                                          "ORDER BY id"), {"c": conversation_id, "t": type_})).scalars())


async def test_an_enabled_chatbot_answers_what_no_flow_handles_with_its_own_ai(bot, provider_server, db, seeded):
    local, settings = bot
    await _set_ai(db, settings, seeded.chatbot_id, enabled=True)
    provider_server.routes[("POST", COMPLETIONS)] = (200, {}, _completion("Abrimos às 18h."))

    first = await local.say("5511944440001", "Que horas abre?")
    conversation = first.conversations[0]
    assert (await _replies(db, conversation))[-1:] == ["Abrimos às 18h."]
    (call,) = provider_server.requests
    assert call["headers"]["authorization"] == "Bearer sk-org"  # the organization's key, not the deployment's
    assert call["json"]["model"] == "gpt-org" and call["json"]["temperature"] == 0.2
    assert call["json"]["messages"] == [{"role": "system", "content": "Seja breve."},
                                        {"role": "user", "content": "Que horas abre?"}]

    provider_server.routes[("POST", COMPLETIONS)] = (200, {}, _completion("Sim, aos sábados também."))
    await local.say("5511944440001", "E no sábado?")
    assert provider_server.requests[1]["json"]["messages"][1:] == [  # the conversation so far
        {"role": "user", "content": "Que horas abre?"}, {"role": "assistant", "content": "Abrimos às 18h."},
        {"role": "user", "content": "E no sábado?"}]
    (step, _) = await _events(db, conversation, "flow.step")  # logged like an ai_prompt node's call
    assert step["ai"][0]["ok"] is True and step["ai"][0]["tokens_used"] == 25
    assert step["ai"][0]["model"] == "gpt-org-2026" and step["ai"][0]["node_id"] is None
    # the chatbot's statistics count its AI's calls and tokens: folded here, or by a worker's chore
    # holding the events consumer at that moment (then this call folds nothing), so wait for them
    async def stats() -> dict:
        await update_chatbot_statistics(db)
        async with db.session() as s:
            return (await s.execute(text("SELECT statistics FROM chatbots WHERE id = :b"),
                                    {"b": seeded.chatbot_id})).scalar() or {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while ((now := await stats()).get("ai_calls"), now.get("ai_tokens")) != (2, 50):
        assert loop.time() < deadline and now.get("ai_calls", 0) <= 2, now
        await asyncio.sleep(0.05)


async def test_a_failed_call_falls_back_to_the_fallback_text(bot, provider_server, db, seeded):
    local, settings = bot
    await _set_ai(db, settings, seeded.chatbot_id, enabled=True)
    provider_server.routes[("POST", COMPLETIONS)] = (500, {}, {"error": {"message": "overloaded"}})

    result = await local.say("5511944440002", "Que horas abre?")
    assert (await _replies(db, result.conversations[0]))[-1:] == ["Não entendi."]
    (error,) = await _events(db, result.conversations[0], "flow.error")
    assert error["error"]["code"] == "ai_failed" and "500" in error["error"]["message"]


async def test_its_flows_ai_prompt_nodes_use_the_organization_s_key(bot, provider_server, db, seeded, add):
    local, settings = bot
    await _set_ai(db, settings, seeded.chatbot_id, enabled=True)
    provider_server.routes[("POST", COMPLETIONS)] = (200, {}, _completion("Olá!"))
    await add("faq", _canvas(
        [{"id": "start", "type": "start"},
         {"id": "ai", "type": "ai_prompt", "data": {"provider": "openai", "model": "gpt-node"}},
         {"id": "end", "type": "end"}],
        [("start", "ai", None), ("ai", "end", "success"), ("ai", "end", "error")]))

    result = await local.say("5511944440003", "oi")
    assert (await _replies(db, result.conversations[0]))[-1:] == ["Olá!"]
    (call,) = provider_server.requests
    assert call["headers"]["authorization"] == "Bearer sk-org"
    assert call["json"]["model"] == "gpt-node"  # the node's own settings win


async def test_disabled_the_settings_do_nothing(bot, provider_server, db, seeded):
    local, settings = bot
    await _set_ai(db, settings, seeded.chatbot_id, enabled=False)
    provider_server.routes[("POST", COMPLETIONS)] = (200, {}, _completion("Abrimos às 18h."))

    result = await local.say("5511944440004", "Que horas abre?")
    assert (await _replies(db, result.conversations[0]))[-1:] == ["Não entendi."]
    assert provider_server.requests == []
