"""AI token usage end to end: a flow with an AI node, the platform's AI port pointed at a
local server speaking OpenAI's (then Anthropic's) HTTP API, the customer's message run by
the runtime, the `logs` consumer fed, and the conversation's log (store and
``GET /logs/conversations/{id}``) shows the tokens the server reported; so do the chatbot's
statistics."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import text

from api.analytics import update_chatbot_statistics
from api.app import create_app
from api.logstore import feed_once
from api.logstore.postgres import PostgresLogStore
from api.sandbox.server import SandboxApp, SandboxConfig, SandboxState
from tests.engine.conftest import LocalServer
from tests.logstore.conftest import until
from tests.runtime.conftest import Local, _canvas, sandbox_runtime, user_headers


def _ai_flow(provider: str, model: str) -> dict:
    return _canvas(
        [{"id": "start", "type": "start"},
         {"id": "ai", "type": "ai_prompt", "data": {"provider": provider, "model": model,
                                                    "system_prompt": "Você é o assistente da Pizzaria Napoli."}},
         {"id": "ok", "type": "end"},
         {"id": "sorry", "type": "end", "data": {"message": "Desculpe."}}],
        [("start", "ai", None), ("ai", "ok", "success"), ("ai", "sorry", "error")])


OPENAI = ("openai", "gpt-4o-mini", "/v1/chat/completions", {
    "id": "chatcmpl-9", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Abrimos às 18h."},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 41, "completion_tokens": 7, "total_tokens": 48}}, (41, 7, 48),
    "gpt-4o-mini-2024-07-18")
ANTHROPIC = ("anthropic", "claude-3-5-haiku-latest", "/v1/messages", {
    "id": "msg_9", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-20241022",
    "content": [{"type": "text", "text": "Abrimos às 18h."}], "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 33, "output_tokens": 12}}, (33, 12, 45), "claude-3-5-haiku-20241022")


@pytest.fixture
def provider_server():
    server = LocalServer()
    yield server
    server.close()


@pytest.mark.parametrize("case", [OPENAI, ANTHROPIC], ids=["openai", "anthropic"])
async def test_the_conversation_log_shows_the_tokens_the_provider_reported(
        case, provider_server, db, redis, settings, seeded, query, add):
    provider, model, path, answer, tokens, answered_by = case
    provider_server.routes[("POST", path)] = (200, {}, answer)
    settings = dataclasses.replace(settings, openai_api_key="sk-test", openai_base_url=provider_server.url + "/v1",
                                   anthropic_api_key="ak-test", anthropic_base_url=provider_server.url)
    sandbox = SandboxApp(SandboxState(SandboxConfig(send_statuses=False)))
    rt = sandbox_runtime(db, redis, settings, sandbox)
    try:
        await add("faq", _ai_flow(provider, model))
        await Local(rt, sandbox, db, seeded).say("5511933334444", "Que horas abre?")
    finally:
        await rt.graph._client.aclose()
        await rt.close()
    assert [r["path"] for r in provider_server.requests] == [path]
    (conversation,) = await query("SELECT id, organization_id FROM conversations")
    store = PostgresLogStore(db)

    async def logged():
        await feed_once(db, store)
        sessions = await store.conversation_sessions(conversation["organization_id"], conversation["id"])
        return sessions and sessions[0]["ai_prompts"] and sessions

    (session,) = await until(logged)
    (call,) = session["ai_prompts"]
    assert (call["prompt_tokens"], call["completion_tokens"], call["tokens_used"]) == tokens
    assert call["model"] == answered_by and call["provider"] == provider and call["ok"] is True
    assert call["prompt"] == "Que horas abre?" and call["response"] == "Abrimos às 18h."
    assert call["latency_ms"] >= 0 and call["node_id"] == "ai"

    headers = await user_headers(db, seeded.organization_id, role="agent")
    app = create_app(settings)
    async with app.test_app():
        page = await app.test_client().get(f"/logs/conversations/{conversation['id']}", headers=headers)
        body = await page.get_json()
    assert page.status_code == 200
    usage = {"calls": 1, "prompt_tokens": tokens[0], "completion_tokens": tokens[1], "tokens_used": tokens[2]}
    assert body["ai_usage"] == usage and body["sessions"][0]["ai_usage"] == usage
    assert body["sessions"][0]["ai_prompts"][0]["tokens_used"] == tokens[2]

    async def counted():  # the chatbot's statistics add the call and its tokens
        await update_chatbot_statistics(db)
        async with db.session() as s:
            stats = (await s.execute(text("SELECT statistics FROM chatbots WHERE id = :b"),
                                     {"b": seeded.chatbot_id})).scalar()
        return stats.get("ai_calls") and stats
    stats = await until(counted)
    assert (stats["ai_calls"], stats["ai_prompt_tokens"], stats["ai_completion_tokens"], stats["ai_tokens"]) == \
        (1, *tokens)
