"""Runtime fixtures: a seeded organization, the runtime, and real HTTP servers.

``servers`` runs the sandbox and PyTake (``create_app`` + the WhatsApp
blueprint) under hypercorn on loopback ports, plus an in-process Taskiq
worker, so a test can go signed webhook → flow → outbox → sandbox → status
webhook back, over real HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from api.auth.tokens import create_access_token
from api.db.models import User
from api.runtime_context import Runtime
from api.whatsapp.numbers import NUMBERS
from pytake.hosting.seed import Seeded, add_flow, seed_organization
from api.sandbox import webhooks
from api.sandbox.server import SandboxApp, SandboxConfig, SandboxState
from api.settings import Settings

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
PNID = "100200300"
METRICS_TOKEN = "test-metrics-token"


def _canvas(nodes: list[dict], edges: list[tuple]) -> dict:
    return {
        "nodes": [{"id": n["id"], "type": n["type"], "position": {"x": 0, "y": 0}, "data": n.get("data", {})}
                  for n in nodes],
        "edges": [{"id": f"e{i}", "source": s, "target": t, "sourceHandle": h} for i, (s, t, h) in enumerate(edges)],
    }


NAME_FLOW = _canvas(
    [{"id": "start", "type": "start"},
     {"id": "ask", "type": "question", "data": {"text": "Qual seu nome?", "variable": "name"}},
     {"id": "thanks", "type": "message", "data": {"text": "Obrigado, {{vars.name}}!"}},
     {"id": "end", "type": "end"}],
    [("start", "ask", None), ("ask", "thanks", None), ("thanks", "end", None)])

ECHO_FLOW = _canvas(  # answers every message with its text, forever
    [{"id": "start", "type": "start"},
     {"id": "ask", "type": "question", "data": {"text": "Diga algo", "variable": "said"}},
     {"id": "echo", "type": "message", "data": {"text": "eco: {{vars.said}}"}}],
    [("start", "ask", None), ("ask", "echo", None), ("echo", "ask", None)])

MENU_FLOW = _canvas(
    [{"id": "start", "type": "start"},
     {"id": "menu", "type": "question", "data": {
         "text": "Escolha", "variable": "choice",
         "options": [{"id": "pizza", "title": "Pizza"}, {"id": "human", "title": "Atendente"}]}},
     {"id": "pizza", "type": "message", "data": {"text": "Pizza escolhida"}},
     {"id": "handoff", "type": "handoff", "data": {"department": "Suporte", "reason": "pediu atendente",
                                                    "message": "Um atendente vai falar com você."}},
     {"id": "end", "type": "end"}],
    [("start", "menu", None), ("menu", "pizza", "pizza"), ("menu", "handoff", "human"), ("pizza", "end", None)])

PROMO_FLOW = _canvas(
    [{"id": "start", "type": "start"},
     {"id": "promo", "type": "message", "data": {"text": "Promoções de hoje!"}},
     {"id": "end", "type": "end"}],
    [("start", "promo", None), ("promo", "end", None)])

TIMEOUT_FLOW = _canvas(
    [{"id": "start", "type": "start"},
     {"id": "ask", "type": "question", "data": {"text": "Ainda aí?", "variable": "x", "timeout_seconds": 3600}},
     {"id": "bye", "type": "message", "data": {"text": "Encerrando por falta de resposta."}},
     {"id": "ok", "type": "message", "data": {"text": "ok"}}],
    [("start", "ask", None), ("ask", "ok", None), ("ask", "bye", "timeout")])

# flows whose effects are domain events (tests/runtime/test_flow_events.py)
CRM_FLOW = _canvas(
    [{"id": "start", "type": "start"},
     {"id": "lead", "type": "action", "data": {"action": "add_tag", "params": {"tag": "lead"}}},
     {"id": "ask", "type": "question", "data": {"text": "Seu nome?", "variable": "name"}},
     {"id": "rename", "type": "action", "data": {"action": "set_contact_attribute",
                                                 "params": {"attribute": "name", "value": "{{vars.name}}"}}},
     {"id": "city", "type": "action", "data": {"action": "set_contact_attribute",
                                               "params": {"attribute": "city", "value": "Recife"}}},
     {"id": "human", "type": "handoff", "data": {"department": "Vendas", "reason": "quer comprar",
                                                 "priority": "high", "message": "Já chamo alguém."}}],
    [("start", "lead", None), ("lead", "ask", None), ("ask", "rename", None), ("rename", "city", None),
     ("city", "human", None)])

CLOSING_FLOW = _canvas(
    [{"id": "start", "type": "start"},
     {"id": "bye", "type": "message", "data": {"text": "Até logo!"}},
     {"id": "close", "type": "action", "data": {"action": "close_conversation", "params": {}}},
     {"id": "end", "type": "end"}],
    [("start", "bye", None), ("bye", "close", None), ("close", "end", None)])

FAILING_CALL_FLOW = _canvas(
    [{"id": "start", "type": "start"},
     {"id": "call", "type": "api_call", "data": {"method": "GET", "url": "http://127.0.0.1:9/pedido"}},
     {"id": "ok", "type": "end", "data": {"message": "ok"}},
     {"id": "sorry", "type": "end", "data": {"message": "Sistema fora do ar."}}],
    [("start", "call", None), ("call", "ok", "success"), ("call", "sorry", "error")])


def make_settings(database_url: str, redis_url: str, data_dir: Path, **extra: str) -> Settings:
    env = {"PYTAKE_WHATSAPP_APP_SECRET": APP_SECRET, "PYTAKE_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN, **extra}
    return Settings(database_url=database_url, redis_url=redis_url, data_dir=data_dir, secret_key="k" * 48,
                    encryption_key=base64.urlsafe_b64encode(b"0" * 32).decode(), extra=env)


@pytest.fixture(autouse=True)
def _forget_numbers():
    NUMBERS.forget()
    yield
    NUMBERS.forget()


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, redis_url, tmp_path)


@pytest.fixture
async def seeded(db) -> Seeded:
    seeded = await seed_organization(db, phone_number_id=PNID, chatbot={
        "welcome_message": None, "fallback_message": "Não entendi."})
    return seeded


@pytest.fixture
async def runtime(db, redis, settings) -> AsyncIterator[Runtime]:
    rt = Runtime.build(db, redis, settings)
    try:
        yield rt
    finally:
        await rt.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def serve(app: Any) -> tuple[str, asyncio.Event, asyncio.Task]:
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    stop = asyncio.Event()
    task = asyncio.create_task(hypercorn_serve(app, config, shutdown_trigger=stop.wait))
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(3000):  # up to a minute: a loaded machine starts a server slowly
            if task.done():
                task.result()  # the server failed to start: its error
            try:
                await client.get(url + "/_sandbox/health")
                break
            except httpx.HTTPError:
                await asyncio.sleep(0.02)
        else:
            pytest.fail(f"the server on {url} never answered")
    return url, stop, task


@dataclass
class Servers:
    settings: Settings
    pytake_url: str
    sandbox_url: str
    sandbox: SandboxState
    client: httpx.AsyncClient
    db: Any
    seeded: Seeded

    async def post(self, doc: dict, *, secret: str = APP_SECRET) -> httpx.Response:
        return await webhooks.post_signed(self.client, self.pytake_url + "/webhooks/whatsapp", secret, doc)

    async def customer_says(self, wa_id: str, body: str, **kw: Any) -> httpx.Response:
        return await self.post(webhooks.inbound_message(PNID, wa_id, webhooks.text_message(body), **kw))

    async def wait_for(self, predicate, timeout: float = 60.0) -> Any:
        """Poll until ``predicate()`` (sync or async) is truthy; fail the test on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            if loop.time() > deadline:
                pytest.fail("condition not reached in time")
            await asyncio.sleep(0.05)

    def inbox(self, wa_id: str) -> list[dict]:
        return self.sandbox.inboxes.get(wa_id, [])


@pytest.fixture
def servers_env() -> dict[str, str]:
    """More settings (PYTAKE_*) for `servers`; a module overrides it (tests/runtime/test_media_s3.py)."""
    return {}


@pytest.fixture
async def servers(db, redis, database_url, redis_url, tmp_path, seeded, servers_env) -> AsyncIterator[Servers]:
    from api.app import create_app
    from api.workers.tasks import make_broker, run_worker, start_context, stop_context

    sandbox = SandboxApp(SandboxState(SandboxConfig(app_secret=APP_SECRET, status_delay=0.01)))
    sandbox_url, sandbox_stop, sandbox_task = await serve(sandbox)
    settings = make_settings(database_url, redis_url, tmp_path, PYTAKE_GRAPH_API_URL=sandbox_url,
                             PYTAKE_METRICS_TOKEN=METRICS_TOKEN, **servers_env)
    app = create_app(settings)
    pytake_url, app_stop, app_task = await serve(app)
    sandbox.state.config.webhook_url = pytake_url + "/webhooks/whatsapp"

    await start_context(settings, maintenance=False)
    worker = asyncio.create_task(run_worker(make_broker(settings, open_runtime=False), concurrency=20))
    client = httpx.AsyncClient(timeout=10.0)
    try:
        yield Servers(settings, pytake_url, sandbox_url, sandbox.state, client, db, seeded)
    finally:
        await client.aclose()
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await stop_context()
        for stop, task in ((app_stop, app_task), (sandbox_stop, sandbox_task)):
            stop.set()
            await asyncio.gather(task, return_exceptions=True)
        await sandbox.aclose()


async def rows(db, sql: str, **params: Any) -> list[Any]:
    async with db.session() as s:
        return list((await s.execute(text(sql), params)).mappings().all())


API_SECRET = "k" * 48  # `make_settings`' secret_key: tokens the API takes


async def user_headers(db, org_id: uuid.UUID, role: str = "org_admin") -> dict[str, str]:
    async with db.transaction() as s:
        user = User(organization_id=org_id, email=f"{uuid.uuid4().hex[:8]}@example.com", full_name="T",
                    password_hash="x", role=role)
        s.add(user)
        await s.flush()
        user_id = user.id
    token, _ = create_access_token(API_SECRET, user_id=user_id, organization_id=org_id, role=role, ttl_seconds=3600)
    return {"Authorization": f"Bearer {token}"}


class Api:
    def __init__(self, servers, headers: dict[str, str]) -> None:
        self.servers, self.headers = servers, headers

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.servers.client.request(method, self.servers.pytake_url + path, json=body,
                                                 headers=self.headers)

    async def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = await self.call(method, path, body)
        assert response.status_code == status, response.text
        return response.json() if response.content else None


@pytest.fixture
def query(db):
    async def run(sql: str, **params: Any) -> list[Any]:
        return await rows(db, sql, **params)
    return run


@pytest.fixture
def flows():
    return {"name": NAME_FLOW, "echo": ECHO_FLOW, "menu": MENU_FLOW, "promo": PROMO_FLOW, "timeout": TIMEOUT_FLOW,
            "crm": CRM_FLOW, "closing": CLOSING_FLOW, "failing_call": FAILING_CALL_FLOW}


@pytest.fixture
def add(db, seeded):
    async def run(name: str, canvas: dict, **kw: Any):
        return await add_flow(db, seeded, name, canvas, **kw)
    return run




@dataclass
class Local:
    """The runtime with its Graph client wired to an in-process sandbox (ASGI)."""

    rt: Runtime
    sandbox: SandboxApp
    db: Any
    seeded: Seeded

    async def receive(self, wa_id: str, message: dict | str, **kw: Any):
        """Store a customer message as the webhook does; returns the IngestResult."""
        from api.inbound import ingest_messages
        from api.whatsapp.payloads import parse_webhook

        if isinstance(message, str):
            message = webhooks.text_message(message)
        doc = webhooks.inbound_message(PNID, wa_id, message, **kw)
        return await ingest_messages(self.db, parse_webhook(doc).messages)

    async def process(self, conversation_id: Any) -> int:
        from api.conversations import process_conversation

        return await process_conversation(self.rt, conversation_id)

    async def say(self, wa_id: str, message: dict | str, **kw: Any):
        result = await self.receive(wa_id, message, **kw)
        for conversation_id in result.conversations:
            await self.process(conversation_id)
        return result

    async def sent_message(self, wa_id: str) -> tuple[Any, str]:
        """An outbound text to ``wa_id`` (after its "oi"), accepted by the sandbox: (message id, wamid)."""
        from api.outbox import Sender, insert_outbound, outbound_rows

        result = await self.receive(wa_id, "oi")
        async with self.db.transaction() as s:
            (mid,) = await insert_outbound(s, outbound_rows(result.conversations[0],
                                                           [{"type": "text", "content": {"text": "x"}}]))
        await Sender(self.rt).deliver_conversation(result.conversations[0])
        return mid, self.sandbox.state.accepted[-1]["id"]


def sandbox_runtime(db: Any, redis: Any, settings: Settings, sandbox: SandboxApp) -> Runtime:
    from api.whatsapp.graph_client import GraphClient

    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox")
    return Runtime.build(db, redis, settings, graph=GraphClient("http://sandbox", "v21.0", client=http))


@pytest.fixture
async def local(db, redis, settings, seeded) -> AsyncIterator[Local]:
    sandbox = SandboxApp(SandboxState(SandboxConfig(send_statuses=False)))
    rt = sandbox_runtime(db, redis, settings, sandbox)
    try:
        yield Local(rt, sandbox, db, seeded)
    finally:
        await rt.graph._client.aclose()
        await rt.close()


@pytest.fixture
async def other_worker(local, database_url, redis_url, settings) -> AsyncIterator[Local]:
    """A second worker: its own database pool and redis connection, same sandbox."""
    import redis.asyncio as aioredis

    from api.db.session import Database

    db2 = Database(database_url)
    redis2 = aioredis.from_url(redis_url)
    rt = sandbox_runtime(db2, redis2, settings, local.sandbox)
    try:
        yield Local(rt, local.sandbox, db2, local.seeded)
    finally:
        await rt.graph._client.aclose()
        await rt.close()
        await redis2.aclose()
        await db2.dispose()


@pytest.fixture
async def webhook(database_url, redis_url, tmp_path, seeded) -> AsyncIterator[Any]:
    """``await webhook(doc)``: a signed POST to the API's webhook over real HTTP (the
    API alone, no worker: what it stores stays unprocessed); the answer's JSON."""
    from api.app import create_app

    app = create_app(make_settings(database_url, redis_url, tmp_path))
    url, stop, task = await serve(app)
    client = httpx.AsyncClient(timeout=60.0, limits=httpx.Limits(max_connections=200))

    async def post(doc: dict) -> dict:
        response = await webhooks.post_signed(client, url + "/webhooks/whatsapp", APP_SECRET, doc)
        assert response.status_code == 200, response.text
        return response.json()

    try:
        yield post
    finally:
        await client.aclose()
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
