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
