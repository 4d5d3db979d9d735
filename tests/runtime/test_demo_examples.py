"""`make run`'s first hour: every example flow finishes against the sandbox's stand-ins of
its APIs and of the AI provider, through the real HTTP and AI clients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.sandbox.example_apis import DEMO_AI_ANSWER, demo_url
from api.sandbox.server import SandboxApp, SandboxConfig, SandboxState
from compiler import compile_canvas
from engine import InboundMessage, Interpreter
from engine.adapters.ai import ProviderAIClient
from engine.adapters.clock import SystemClock
from engine.adapters.http import GuardedHttpClient
from engine.ports import Ports

from .conftest import serve

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WITH_CALLS = ["ai_faq", "appointment_booking", "lead_qualification", "nps_survey", "support_triage"]


def test_example_hosts_point_at_the_sandbox():
    text = '{"url": "https://crm.example.com/api/v1/leads", "media": "https://napoli.example.com/x.jpg"}'
    assert demo_url(text, "http://127.0.0.1:8900") == (
        '{"url": "http://127.0.0.1:8900/examples/crm/api/v1/leads", "media": "https://napoli.example.com/x.jpg"}')


@pytest.fixture
async def sandbox_url():
    url, stop, task = await serve(SandboxApp(SandboxState(SandboxConfig(send_statuses=False))))
    try:
        yield url
    finally:
        stop.set()
        await task


def _reply_id(messages: list[dict], reply: str) -> str:
    """A transcript's ``reply`` names a button or row by title or by id."""
    for message in reversed(messages):
        for item in message["content"].get("buttons") or message["content"].get("rows") or []:
            if reply in (item.get("title"), item.get("id")):
                return item["id"]
    return reply


@pytest.mark.parametrize("name", WITH_CALLS)
async def test_the_example_finishes_against_the_sandbox(name, sandbox_url):
    library = {p.stem: compile_canvas(json.loads(demo_url(p.read_text("utf-8"), sandbox_url)),
                                      known_flows={q.stem for q in EXAMPLES.glob("*.json")}).program
               for p in EXAMPLES.glob("*.json") if not p.name.endswith(".transcript.json")}

    async def load(ref: str, program_hash: str | None):
        return library[ref]

    script = json.loads((EXAMPLES / f"{name}.transcript.json").read_text("utf-8"))
    http = GuardedHttpClient(allow_private_networks=True)
    ai = ProviderAIClient(openai_api_key="demo", openai_base_url=sandbox_url + "/v1")
    ports = Ports(http=http, ai=ai, clock=SystemClock())
    interp = Interpreter(ports)
    events, sent = [], []
    try:
        steps = iter(script["steps"])
        first = next(steps)
        result = await interp.start(library[name], name, {"message": {"text": first.get("user")}}, load)
        events += result.events
        sent += result.messages
        for step in steps:  # the transcript's first conversation, until the flow stops waiting
            if result.status != "waiting":
                break
            if "reply" in step:
                inbound = InboundMessage(type="button", reply_id=_reply_id(sent, step["reply"]))
            else:
                inbound = InboundMessage(text=step["user"])
            result = await interp.resume(result.state, inbound, load, {})
            events += result.events
            sent += result.messages
    finally:
        await http.aclose()
        await ai.aclose()
    calls = [e for e in events if e.type in ("api_called", "ai_called")]
    assert calls and all(e.get("ok") for e in calls), [e.data for e in calls]
    assert not [e for e in events if e.type == "error"]
    assert result.status in ("ended", "handoff")
    if name == "ai_faq":
        assert any(DEMO_AI_ANSWER in (m["content"].get("text") or "") for m in sent)
