"""The live channel under test: real `pytake serve` processes, a real worker-side
publisher, real WebSocket clients (aiohttp), the sandbox as Meta.

- ``world``: an organization with departments, agents (tokens), a WhatsApp number
  (its token encrypted with the processes' key) and conversations, written to the
  test database; ``world.event(...)`` writes a domain event as the message path does;
- ``start_api()``: a `pytake serve --no-worker` subprocess on the test database and
  Redis (``.url``, ``.ws_url``, ``.kill()``), stopped after the test;
- ``publisher``: the ``live`` consumer publishing, in this process;
- ``sandbox``: the Graph API stand-in on a loopback port (``.url``, ``.state``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from cryptography.fernet import Fernet

from api.auth.tokens import create_access_token
from api.crypto import encrypt_secret
from api.events import emit_conn, event, message_payload
from api.live import start_publisher
from api.sandbox.server import SandboxApp, SandboxConfig, SandboxState
from api.settings import Settings
from tests.runtime.conftest import serve

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 60.0  # seconds a condition may take on a loaded machine
_n = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def eventually(check: Callable[[], Awaitable[Any]], what: str, deadline: float = DEADLINE) -> Any:
    """Poll ``check`` until it returns something truthy."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > end:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
def live_settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, redis_url=redis_url, data_dir=tmp_path,
                    secret_key="live-secret-" + uuid.uuid4().hex,
                    encryption_key=Fernet.generate_key().decode("ascii"))


@dataclass
class Agent:
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: str
    token: str


@dataclass
class World:
    db: Any
    settings: Settings
    orgs: list[uuid.UUID] = field(default_factory=list)

    async def sql(self, query: str, *args: Any) -> Any:
        async with self.db.raw() as conn:
            return await conn.fetchval(query, *args)

    async def organization(self) -> uuid.UUID:
        org = await self.sql("INSERT INTO organizations (name, slug) VALUES ($1, $1) RETURNING id",
                             f"live-{next(_n)}-{uuid.uuid4().hex[:6]}")
        self.orgs.append(org)
        return org

    async def department(self, org: uuid.UUID) -> uuid.UUID:
        return await self.sql("INSERT INTO departments (organization_id, name) VALUES ($1, $2) RETURNING id",
                              org, f"Dept {next(_n)}")

    async def user(self, org: uuid.UUID, role: str = "agent", *departments: uuid.UUID) -> Agent:
        user_id = await self.sql(
            "INSERT INTO users (organization_id, email, password_hash, full_name, role) "
            "VALUES ($1, $2, 'x', $3, $4) RETURNING id",
            org, f"{role}{next(_n)}-{uuid.uuid4().hex[:6]}@example.com", f"{role.title()} {next(_n)}", role)
        for d in departments:
            await self.sql("INSERT INTO user_departments (user_id, department_id) VALUES ($1, $2)", user_id, d)
        token, _ = create_access_token(self.settings.secret_key, user_id=user_id, organization_id=org, role=role,
                                       ttl_seconds=900)
        return Agent(user_id, org, role, token)

    async def number(self, org: uuid.UUID) -> tuple[uuid.UUID, str]:
        phone_number_id = f"pn{next(_n)}{uuid.uuid4().hex[:8]}"
        number = await self.sql(
            "INSERT INTO whatsapp_numbers (organization_id, phone_number, phone_number_id, access_token_encrypted) "
            "VALUES ($1, $2, $3, $4) RETURNING id",
            org, f"5511{next(_n):08d}", phone_number_id, encrypt_secret(self.settings, "number-token"))
        return number, phone_number_id

    async def conversation(self, org: uuid.UUID, department: uuid.UUID | None, *, number: uuid.UUID | None = None,
                           assigned_to: uuid.UUID | None = None) -> uuid.UUID:
        contact = await self.sql("INSERT INTO contacts (organization_id, whatsapp_id) VALUES ($1, $2) RETURNING id",
                                 org, f"5521{next(_n):08d}")
        status = "assigned" if assigned_to else "waiting_in_queue"
        return await self.sql(
            "INSERT INTO conversations (organization_id, contact_id, department_id, whatsapp_number_id, status, "
            "assigned_to, is_bot_active) VALUES ($1, $2, $3, $4, $5, $6, false) RETURNING id",
            org, contact, department, number, status, assigned_to)

    async def inbound(self, conversation: uuid.UUID, text: str) -> str:
        """A customer's message, stored with its ``message.received`` event; its wamid."""
        wamid = f"wamid.{uuid.uuid4().hex}"
        async with self.db.raw() as conn:
            async with conn.transaction():
                c = await conn.fetchrow("SELECT organization_id, contact_id FROM conversations WHERE id = $1 "
                                        "FOR NO KEY UPDATE", conversation)
                row = await conn.fetchrow(
                    "INSERT INTO messages (conversation_id, direction, sender_type, type, content, status, "
                    "whatsapp_message_id) VALUES ($1, 'inbound', 'contact', 'text', $2::jsonb, 'delivered', $3) "
                    "RETURNING *", conversation, json.dumps({"text": text}), wamid)
                await emit_conn(conn, event(c["organization_id"], "message.received",
                                            message_payload(dict(row), contact_id=c["contact_id"]), conversation))
        return wamid


@pytest.fixture
async def world(db: Any, live_settings: Settings, redis: Any) -> World:  # `redis`: a clean Redis db first
    return World(db, live_settings)


@dataclass
class ApiProcess:
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, token: str | None, after: str | None = None) -> str:
        query = [f"access_token={token}"] if token is not None else []
        if after is not None:
            query.append(f"after={after}")
        return f"ws://127.0.0.1:{self.port}/live" + ("?" + "&".join(query) if query else "")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs (a crashed process)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)


@pytest.fixture
async def start_api(live_settings: Settings, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[ApiProcess]]]:
    started: list[ApiProcess] = []

    async def start(**env: str) -> ApiProcess:
        port = free_port()
        environ = {**os.environ, "PYTHONPATH": str(REPO), "DATABASE_URL": live_settings.database_url or "",
                   "REDIS_URL": live_settings.redis_url or "", "PYTAKE_SECRET_KEY": live_settings.secret_key,
                   "PYTAKE_ENCRYPTION_KEY": live_settings.encryption_key, "PYTAKE_DATA_DIR": str(tmp_path),
                   "PYTAKE_LIVE_HEARTBEAT_SECONDS": "2", **env}  # TTL 6 s: a stall on a loaded machine is not a death
        log = open(tmp_path / f"api-{port}.log", "wb")
        process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from pytake.cli import main; sys.exit(main())", "serve",
             "--no-worker", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)],
            env=environ, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        api = ApiProcess(port, process)
        started.append(api)

        async def healthy() -> bool:
            if process.poll() is not None:
                pytest.fail(f"pytake serve exited: {(tmp_path / f'api-{port}.log').read_text()[-2000:]}")
            try:
                async with aiohttp.ClientSession() as session:
                    async with session.get(api.url + "/health") as response:
                        return response.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(healthy, f"pytake serve on port {port}", deadline=300)  # a hang, not slowness (it fails at once if it exits)
        return api

    yield start
    for api in started:
        if api.process.poll() is None:
            api.process.send_signal(signal.SIGTERM)
            try:
                api.process.wait(20)
            except subprocess.TimeoutExpired:
                api.kill()


@pytest.fixture
async def publisher(db: Any, redis: Any, live_settings: Settings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = start_publisher(db, redis, live_settings, stop)
    yield
    stop.set()
    await task


@dataclass
class Sandbox:
    url: str
    state: SandboxState


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    app = SandboxApp(SandboxState(SandboxConfig(send_statuses=False)))
    url, stop, task = await serve(app)
    yield Sandbox(url, app.state)
    stop.set()
    await task
    await app.aclose()


class Client:
    """A WebSocket client that keeps what it receives (events, typing, errors) in order."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.closed: tuple[int | None, str] | None = None
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.messages.append(json.loads(msg.data))
        self.closed = (self.ws.close_code, "")

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def events(self, conversation_id: Any = None) -> list[dict[str, Any]]:
        out = [m for m in self.of("event")]
        if conversation_id is not None:
            out = [m for m in out if _conversation_of(m["event"]) == str(conversation_id)]
        return out

    async def wait(self, predicate: Callable[[], Any], what: str) -> Any:
        async def check() -> Any:
            return predicate()
        return await eventually(check, what)

    async def ready(self) -> dict[str, Any]:
        return (await self.wait(lambda: self.of("ready"), "the ready message"))[0]

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def roundtrip(self) -> None:
        """A ping answered: everything sent before it was handled."""
        before = len(self.of("pong"))
        await self.send({"type": "ping"})
        await self.wait(lambda: len(self.of("pong")) > before, "a pong")

    async def close(self) -> None:
        await self.ws.close()
        await self._reader
        await self.session.close()


def _conversation_of(envelope: dict[str, Any]) -> str | None:
    data = envelope["data"]
    if "message" in data:
        return data["message"]["conversation_id"]
    if "conversation" in data:
        return data["conversation"]["id"]
    return data.get("conversation_id")


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Awaitable[Client]]]:
    clients: list[Client] = []

    async def open_client(url: str, compress: int = 0) -> Client:
        """``compress``: offer permessage-deflate with that window (browsers offer 15)."""
        session = aiohttp.ClientSession()
        ws = await session.ws_connect(url, autoping=True, heartbeat=None, compress=compress)
        client = Client(session, ws)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        if not client.ws.closed:
            await client.close()
        elif not client.session.closed:
            await client.session.close()
