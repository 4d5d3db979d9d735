"""`api_call` nodes through the real HTTP adapter against a local server."""

from __future__ import annotations


from engine import Interpreter
from engine.adapters.http import GuardedHttpClient
from engine.adapters.memory import memory_ports


def _flow(kit, arg):
    return kit.program([
        {"op": "start", "node": "start", "arg": {}, "exits": {"next": 1}},
        {"op": "api_call", "node": "api", "arg": arg, "exits": {"error": 3, "success": 2}},
        {"op": "end", "node": "ok", "arg": {"message": "ok"}},
        {"op": "end", "node": "fail", "arg": {"message": "falhou"}},
    ])


async def _run(kit, arg, client, scope=None):
    ports = memory_ports(http=client)
    result = await Interpreter(ports).start(_flow(kit, arg), "main", scope or {})
    stored = {e.data["name"]: e.data["value"] for e in result.events if e.type == "variable_set"}
    texts = [m.body for m in kit.sent(result)]
    return result, stored, texts


async def test_a_post_reaches_the_server_and_maps_the_answer(kit, local_server):
    local_server.routes[("POST", "/leads")] = (201, {}, {"data": {"id": "L-9", "tags": ["novo"]}})
    async with GuardedHttpClient(allow_private_networks=True) as client:
        _, stored, texts = await _run(kit, {
            "method": "POST", "url": local_server.url + "/leads",
            "headers": {"X-Token": {"$tpl": ["tpl", [["path", "vars", "token"]]]}},
            "query": {"src": "wa"},
            "body": {"name": {"$tpl": ["tpl", [["path", "contact", "name"]]]}},
            "response_mapping": {"lead": "data.id", "tag": "data.tags[0]"},
        }, client, {"vars": {"token": "t0k"}, "contact": {"name": "Ana"}})
    request = local_server.requests[0]
    assert (request["method"], request["path"]) == ("POST", "/leads?src=wa")
    assert request["headers"]["x-token"] == "t0k" and request["json"] == {"name": "Ana"}
    assert stored == {"api_status": 201, "lead": "L-9", "tag": "novo"}
    assert texts == ["ok"]


async def test_a_server_error_takes_the_error_branch_with_its_status(kit, local_server):
    local_server.routes[("GET", "/boom")] = (500, {}, {"error": "x"})
    async with GuardedHttpClient(allow_private_networks=True) as client:
        _, stored, texts = await _run(kit, {"url": local_server.url + "/boom"}, client)
    assert stored == {"api_status": 500} and texts == ["falhou"]


async def test_a_timeout_takes_the_error_branch_with_status_zero(kit, local_server):
    local_server.routes[("GET", "/slow")] = (200, {}, {})
    local_server.delays["/slow"] = 1.5
    async with GuardedHttpClient(allow_private_networks=True) as client:
        result, stored, texts = await _run(kit, {"url": local_server.url + "/slow", "timeout_seconds": 0.3}, client)
    assert stored == {"api_status": 0} and texts == ["falhou"]
    assert [e.get("error") for e in result.events if e.type == "api_called"] == ["timeout"]


async def test_a_flow_cannot_call_a_loopback_address_by_default(kit, local_server):
    local_server.routes[("GET", "/internal")] = (200, {}, {"secret": 1})
    async with GuardedHttpClient() as client:
        result, stored, texts = await _run(kit, {"url": local_server.url + "/internal"}, client)
    assert local_server.requests == []
    assert stored == {"api_status": 0} and texts == ["falhou"]
    assert [e.get("error") for e in result.events if e.type == "api_called"] == ["address_refused"]


async def test_an_oversized_response_takes_the_error_branch(kit, local_server):
    local_server.routes[("GET", "/big")] = (200, {}, b"[" + b"1," * 600_000 + b"1]")
    async with GuardedHttpClient(allow_private_networks=True) as client:
        result, stored, texts = await _run(kit, {"url": local_server.url + "/big"}, client)
    assert texts == ["falhou"]
    assert [e.get("error") for e in result.events if e.type == "api_called"] == ["response_too_large"]
