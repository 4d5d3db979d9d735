"""A flow's `api_call` reaches the customer's own API: whatever it answers, the
conversation goes on and what the flow kept is stored."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest
from aiohttp import web

from tests.runtime.conftest import _canvas, make_settings, rows


@pytest.fixture
def settings(database_url, redis_url, tmp_path):
    # the stand-in for the customer's API listens on 127.0.0.1
    return make_settings(database_url, redis_url, tmp_path, PYTAKE_FLOW_ALLOW_PRIVATE_NETWORKS="1")


@pytest.fixture
async def api_server() -> AsyncIterator[dict[str, Any]]:
    state: dict[str, Any] = {"body": b"{}", "content_type": "application/json"}

    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=state["body"], content_type=state["content_type"])

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state["url"] = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield state
    await runner.cleanup()


def _lookup_flow(url: str) -> dict:
    return _canvas(
        [{"id": "start", "type": "start"},
         {"id": "call", "type": "api_call", "data": {"method": "GET", "url": url,
                                                      "response_mapping": {"name": "customer.name"}}},
         {"id": "hi", "type": "message", "data": {"text": "Olá, {{vars.name}}!"}},
         {"id": "ask", "type": "question", "data": {"text": "Posso ajudar?", "variable": "x"}},
         {"id": "sorry", "type": "end", "data": {"message": "Sistema fora do ar."}}],
        [("start", "call", None), ("call", "hi", "success"), ("call", "sorry", "error"), ("hi", "ask", None), ("ask", "hi", None)])


async def test_an_answer_with_a_nul_character_is_kept_without_it(local, add, api_server, db):
    api_server["body"] = b'{"customer": {"name": "Ana\\u0000Maria"}}'
    await add("lookup", _lookup_flow(api_server["url"] + "/customer"))
    result = await local.say("5511933339001", "oi")
    replies = await rows(db, "SELECT content->>'text' AS text FROM messages WHERE conversation_id = :c "
                             "AND direction = 'outbound' ORDER BY created_at", c=result.conversations[0])
    assert [r["text"] for r in replies] == ["Olá, Ana\ufffdMaria!", "Posso ajudar?"]


async def test_an_answer_with_a_lone_surrogate_escape_is_kept_without_it(local, add, api_server, db):
    """``"\\ud800"`` is valid JSON text to Python's parser but no string PostgreSQL (or UTF-8) can
    hold: the conversation's state and the reply could not be written."""
    api_server["body"] = b'{"customer": {"name": "Ana\\ud800Maria"}}'
    await add("lookup", _lookup_flow(api_server["url"] + "/customer"))
    result = await local.say("5511933339003", "oi")
    replies = await rows(db, "SELECT content->>'text' AS text FROM messages WHERE conversation_id = :c "
                             "AND direction = 'outbound' ORDER BY created_at", c=result.conversations[0])
    assert [r["text"] for r in replies] == ["Olá, Ana\ufffdMaria!", "Posso ajudar?"]


@pytest.fixture
def provider_server():
    from tests.engine.conftest import LocalServer

    server = LocalServer()
    yield server
    server.close()


@pytest.mark.parametrize("odd", ["\u0000", "\ud800"])
async def test_an_ai_answer_with_a_nul_or_a_lone_surrogate_is_sent_without_it(provider_server, db, redis, settings, seeded,
                                                                     add, odd):
    """A model can be talked into emitting U+0000 or a lone surrogate escape (its JSON answer
    then holds "\\ud800"); the answer still reaches the customer."""
    import dataclasses

    from api.sandbox.server import SandboxApp, SandboxConfig, SandboxState
    from tests.runtime.conftest import Local, sandbox_runtime

    provider_server.routes[("POST", "/v1/chat/completions")] = (200, {}, {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": f"Abrimos{odd} às 18h."},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}})
    settings = dataclasses.replace(settings, openai_api_key="sk-test", openai_base_url=provider_server.url + "/v1")
    sandbox = SandboxApp(SandboxState(SandboxConfig(send_statuses=False)))
    rt = sandbox_runtime(db, redis, settings, sandbox)
    try:
        await add("faq", _canvas(
            [{"id": "start", "type": "start"},
             {"id": "ai", "type": "ai_prompt", "data": {"provider": "openai", "model": "gpt-4o-mini"}},
             {"id": "ok", "type": "end"},
             {"id": "sorry", "type": "end", "data": {"message": "Desculpe."}}],
            [("start", "ai", None), ("ai", "ok", "success"), ("ai", "sorry", "error")]))
        result = await Local(rt, sandbox, db, seeded).say("5511933339002", "Que horas abre?")
    finally:
        await rt.graph._client.aclose()
        await rt.close()
    replies = await rows(db, "SELECT content->>'text' AS text FROM messages WHERE conversation_id = :c "
                             "AND direction = 'outbound' ORDER BY created_at", c=result.conversations[0])
    assert [r["text"] for r in replies] == ["Abrimos\ufffd às 18h."]
