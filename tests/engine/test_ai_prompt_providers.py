"""`ai_prompt` through the real `openai` and `anthropic` SDKs, talking to local servers
that speak their wire formats (POST /v1/chat/completions, POST /v1/messages)."""

from __future__ import annotations

import pytest

from engine import Interpreter
from engine.adapters.ai import ProviderAIClient
from engine.adapters.memory import memory_ports

OPENAI_OK = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Abrimos às 18h."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
}
ANTHROPIC_OK = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-latest",
    "content": [{"type": "text", "text": "Temos pizza doce, sim."}],
    "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 6},
}


def _flow(kit, provider, model, **extra):
    return kit.program([
        {"op": "start", "node": "start", "arg": {}, "exits": {"next": 1}},
        {"op": "ai_prompt", "node": "ai", "arg": {"provider": provider, "model": model,
            "system_prompt": "Você é o assistente da Pizzaria Napoli.", "temperature": 0.3,
            "max_tokens": 120, "history_messages": 10, "variable": "answer", "send_response": True,
            "timeout_seconds": 60, **extra}, "exits": {"error": 3, "success": 2}},
        {"op": "end", "node": "ok", "arg": {}},
        {"op": "end", "node": "fail", "arg": {"message": "Desculpe, tente mais tarde."}},
    ])


async def _ask(kit, client, flow, text="Que horas abre?"):
    ports = memory_ports(ai=client)
    result = await Interpreter(ports).start(flow, "main", {"message": {"type": "text", "text": text}})
    stored = {e.data["name"]: e.data["value"] for e in result.events if e.type == "variable_set"}
    return result, stored, [m.body for m in kit.sent(result)]


@pytest.fixture
async def openai_client(local_server):
    client = ProviderAIClient(openai_api_key="sk-test", openai_base_url=local_server.url + "/v1")
    yield client
    await client.aclose()


@pytest.fixture
async def anthropic_client(local_server):
    client = ProviderAIClient(anthropic_api_key="ak-test", anthropic_base_url=local_server.url)
    yield client
    await client.aclose()


async def test_openai_answer_is_stored_and_sent(kit, local_server, openai_client):
    local_server.routes[("POST", "/v1/chat/completions")] = (200, {}, OPENAI_OK)
    _, stored, texts = await _ask(kit, openai_client, _flow(kit, "openai", "gpt-4o-mini"))
    assert stored == {"answer": "Abrimos às 18h."}
    assert texts == ["Abrimos às 18h."]


async def test_openai_request_carries_model_system_prompt_and_parameters(kit, local_server, openai_client):
    local_server.routes[("POST", "/v1/chat/completions")] = (200, {}, OPENAI_OK)
    await _ask(kit, openai_client, _flow(kit, "openai", "gpt-4o-mini"))
    request = local_server.requests[0]
    assert request["headers"]["authorization"] == "Bearer sk-test"
    body = request["json"]
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0.3 and body["max_tokens"] == 120
    assert body["messages"] == [
        {"role": "system", "content": "Você é o assistente da Pizzaria Napoli."},
        {"role": "user", "content": "Que horas abre?"},
    ]


async def test_openai_error_status_takes_the_error_branch(kit, local_server, openai_client):
    local_server.routes[("POST", "/v1/chat/completions")] = (
        500, {}, {"error": {"message": "boom", "type": "server_error", "code": None}})
    result, stored, texts = await _ask(kit, openai_client, _flow(kit, "openai", "gpt-4o-mini"))
    assert stored == {} and texts == ["Desculpe, tente mais tarde."]
    assert [e.get("ok") for e in result.events if e.type == "ai_called"] == [False]


async def test_openai_timeout_takes_the_error_branch(kit, local_server, openai_client):
    local_server.routes[("POST", "/v1/chat/completions")] = (200, {}, OPENAI_OK)
    local_server.delays["/v1/chat/completions"] = 2
    _, stored, texts = await _ask(kit, openai_client, _flow(kit, "openai", "gpt-4o-mini", timeout_seconds=0.3))
    assert stored == {} and texts == ["Desculpe, tente mais tarde."]


async def test_anthropic_answer_is_stored_and_sent(kit, local_server, anthropic_client):
    local_server.routes[("POST", "/v1/messages")] = (200, {}, ANTHROPIC_OK)
    _, stored, texts = await _ask(kit, anthropic_client, _flow(kit, "anthropic", "claude-3-5-haiku-latest"),
                                  "Tem pizza doce?")
    assert stored == {"answer": "Temos pizza doce, sim."}
    assert texts == ["Temos pizza doce, sim."]


async def test_anthropic_request_carries_the_key_system_prompt_and_parameters(kit, local_server, anthropic_client):
    local_server.routes[("POST", "/v1/messages")] = (200, {}, ANTHROPIC_OK)
    await _ask(kit, anthropic_client, _flow(kit, "anthropic", "claude-3-5-haiku-latest"), "Tem pizza doce?")
    request = local_server.requests[0]
    headers = request["headers"]
    # the key travels as x-api-key (older SDKs) or a bearer token (newer ones)
    assert headers.get("x-api-key") == "ak-test" or headers.get("authorization") == "Bearer ak-test"
    body = request["json"]
    assert body["model"] == "claude-3-5-haiku-latest" and body["max_tokens"] == 120
    assert body["system"] == "Você é o assistente da Pizzaria Napoli."
    assert body["messages"] == [{"role": "user", "content": "Tem pizza doce?"}]


async def test_anthropic_rate_limit_takes_the_error_branch(kit, local_server, anthropic_client):
    local_server.routes[("POST", "/v1/messages")] = (
        429, {}, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
    result, stored, texts = await _ask(kit, anthropic_client, _flow(kit, "anthropic", "claude-3-5-haiku-latest"))
    assert stored == {} and texts == ["Desculpe, tente mais tarde."]
    assert "429" in [e.get("error") for e in result.events if e.type == "ai_called"][0]


async def test_anthropic_timeout_takes_the_error_branch(kit, local_server, anthropic_client):
    local_server.routes[("POST", "/v1/messages")] = (200, {}, ANTHROPIC_OK)
    local_server.delays["/v1/messages"] = 2
    _, stored, texts = await _ask(kit, anthropic_client,
                                  _flow(kit, "anthropic", "claude-3-5-haiku-latest", timeout_seconds=0.3))
    assert stored == {} and texts == ["Desculpe, tente mais tarde."]


async def test_a_provider_without_credentials_takes_the_error_branch(kit, openai_client):
    _, stored, texts = await _ask(kit, openai_client, _flow(kit, "anthropic", "claude-3-5-haiku-latest"))
    assert stored == {} and texts == ["Desculpe, tente mais tarde."]


def _called(result):
    (called,) = [e for e in result.events if e.type == "ai_called"]
    return called


async def test_openai_usage_reaches_the_ai_called_event(kit, local_server, openai_client):
    local_server.routes[("POST", "/v1/chat/completions")] = (
        200, {}, {**OPENAI_OK, "model": "gpt-4o-mini-2024-07-18",
                  "usage": {"prompt_tokens": 37, "completion_tokens": 9, "total_tokens": 46}})
    result, _, _ = await _ask(kit, openai_client, _flow(kit, "openai", "gpt-4o-mini"))
    called = _called(result)
    assert (called.get("prompt_tokens"), called.get("completion_tokens"), called.get("tokens_used")) == (37, 9, 46)
    assert called.get("model") == "gpt-4o-mini-2024-07-18" and called.get("latency_ms") >= 0


async def test_anthropic_usage_reaches_the_ai_called_event(kit, local_server, anthropic_client):
    local_server.routes[("POST", "/v1/messages")] = (
        200, {}, {**ANTHROPIC_OK, "usage": {"input_tokens": 21, "output_tokens": 8}})
    result, _, _ = await _ask(kit, anthropic_client, _flow(kit, "anthropic", "claude-3-5-haiku-latest"))
    called = _called(result)
    assert (called.get("prompt_tokens"), called.get("completion_tokens"), called.get("tokens_used")) == (21, 8, 29)
    assert called.get("model") == "claude-3-5-haiku-latest"


async def test_an_answer_without_usage_logs_no_tokens(kit, local_server, openai_client):
    local_server.routes[("POST", "/v1/chat/completions")] = (
        200, {}, {k: v for k, v in OPENAI_OK.items() if k != "usage"})
    result, stored, _ = await _ask(kit, openai_client, _flow(kit, "openai", "gpt-4o-mini"))
    called = _called(result)
    assert stored == {"answer": "Abrimos às 18h."}
    assert (called.get("prompt_tokens"), called.get("completion_tokens"), called.get("tokens_used")) == \
        (None, None, None)
