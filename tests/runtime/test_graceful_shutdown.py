"""SIGTERM drains a worker process (docs/deployment.md "Process model"): it takes
no new task, the running ones finish, their replies are sent once, their leases
are released at once (not left to expire for a sweep), then it exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from api.sandbox import webhooks
from tests.runtime.conftest import APP_SECRET, PNID, _canvas
from tests.runtime.test_recovery import PYTAKE, _until, sandbox  # noqa: F401 - the sandbox fixture

LEASE_SECONDS = 60  # a lease the worker failed to release would still be there when the test looks


class HeldAPI:
    """A local HTTP API that answers nobody until `release` is set."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self._server: asyncio.base_events.Server | None = None
        self.url = ""

    async def start(self) -> "HeldAPI":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/pedido"
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.calls += 1
        await self.release.wait()
        body = b'{"ok": true}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    async def close(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.close()


def _flow(url: str) -> dict:
    return _canvas(
        [{"id": "start", "type": "start"},
         {"id": "api", "type": "api_call", "data": {"url": url, "timeout_seconds": 30}},
         {"id": "done", "type": "message", "data": {"text": "pronto"}},
         {"id": "failed", "type": "message", "data": {"text": "falhou"}}],
        [("start", "api", None), ("api", "done", "success"), ("api", "failed", "error")])


async def _exited(proc: subprocess.Popen, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if time.monotonic() > deadline:
            pytest.fail(f"the worker did not exit within {timeout:.0f} s of SIGTERM")
        await asyncio.sleep(0.05)
    return proc.returncode


async def _held_leases(redis) -> list[bytes]:  # noqa: ANN001
    keys = await redis.keys("lock:*")
    return [k for k in keys if not k.endswith((b":fence", b":missed", b":released"))]


async def test_sigterm_finishes_running_conversations_sends_once_and_releases_leases(
        webhook, add, sandbox, database_url, redis_url, redis, tmp_path, query):  # noqa: ANN001, F811
    sandbox_url, sandbox_state = sandbox
    held = await HeldAPI().start()
    await add("lento", _flow(held.url))
    env = os.environ | {
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "PYTAKE_DATA_DIR": str(tmp_path),
        "PYTAKE_GRAPH_API_URL": sandbox_url, "PYTAKE_FLOW_ALLOW_PRIVATE_NETWORKS": "true",
        "PYTAKE_WHATSAPP_APP_SECRET": APP_SECRET, "PYTAKE_RUNTIME_LEASE_SECONDS": str(LEASE_SECONDS),
        "PYTAKE_SHUTDOWN_GRACE_SECONDS": "120", "PYTAKE_LOG_FORMAT": "json"}
    log = tmp_path / "worker.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([str(PYTAKE), "worker", "--concurrency", "10"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    customers = ["5511900008801", "5511900008802", "5511900008803"]
    try:
        for wa_id in customers:
            await webhook(webhooks.inbound_message(PNID, wa_id, webhooks.text_message("oi")))
        # every conversation is mid-flow, waiting on the API, its lease held
        await _until(lambda: held.calls >= len(customers), 120, "the worker calling the API for everyone")
        assert len(await _held_leases(redis)) >= len(customers)

        proc.send_signal(signal.SIGTERM)
        await _until(lambda: b"draining" in log.read_bytes(), 60, "the worker draining")
        assert proc.poll() is None  # still finishing its work
        held.release.set()
        assert await _exited(proc, 120) == 0, log.read_text()[-3000:]

        # each conversation finished and its reply was sent exactly once
        for wa_id in customers:
            assert [m["payload"]["text"]["body"] for m in sandbox_state.inboxes.get(wa_id, [])] == ["pronto"], \
                log.read_text()[-3000:]
        assert held.calls == len(customers)  # nothing run twice
        inbound = await query("SELECT metadata FROM messages WHERE direction = 'inbound'")
        assert len(inbound) == len(customers) and all(m["metadata"]["processed"] is True for m in inbound)
        pending = await query("SELECT id FROM messages WHERE direction = 'outbound' AND status = 'pending'")
        assert pending == []
        # released on the way out, not left to expire (they would live LEASE_SECONDS)
        assert await _held_leases(redis) == []
        # structured logs: the drain is one JSON object per line
        (draining,) = [json.loads(line) for line in log.read_text().splitlines() if '"draining' in line]
        assert draining["logger"] == "pytake.workers" and draining["level"] == "INFO"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        await held.close()
