"""Structured logs (``PYTAKE_LOG_FORMAT=json``, api/log_context.py): every line one JSON object
with timestamp, level, logger and message, plus the ids of the request or conversation
being handled; exceptions are a field. A real `pytake serve` process, the app in-process
(requests) and the runtime processing a customer's message."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from api import log_context
from api.app import create_app
from api.settings import Settings, SettingsError
from tests.runtime.conftest import free_port, user_headers

PYTAKE = Path(sys.executable).parent / "pytake"


@pytest.fixture
def json_lines():
    """The root logger writes JSON lines into a buffer (restored after); ``read()`` parses them."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    log_context.configure_logging("json", logging.INFO, stream=buffer)

    def read() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines()]
    yield read
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_the_log_format_setting_takes_text_or_json_and_names_itself_otherwise():
    assert Settings.from_env({}, keys=False).log_format == "text"
    assert Settings.from_env({"PYTAKE_LOG_FORMAT": "JSON"}, keys=False).log_format == "json"
    with pytest.raises(SettingsError, match="PYTAKE_LOG_FORMAT"):
        Settings.from_env({"PYTAKE_LOG_FORMAT": "xml"}, keys=False)


def test_an_exception_is_a_field_of_its_one_line(json_lines):
    conversation = uuid.uuid4()
    with log_context.bind(conversation_id=conversation):
        try:
            {}["missing"]
        except KeyError:
            logging.getLogger("pytake.test").exception("lookup failed\nfor %s", "x")
    logging.getLogger("pytake.test").warning("after")
    failed, after = json_lines()
    assert failed["message"] == "lookup failed\nfor x" and failed["level"] == "ERROR"
    assert failed["logger"] == "pytake.test" and failed["conversation_id"] == str(conversation)
    assert "Traceback" in failed["exception"] and "KeyError: 'missing'" in failed["exception"]
    assert "conversation_id" not in after and "exception" not in after  # the block's ids ended with it
    assert failed["timestamp"].endswith("+00:00") and "T" in failed["timestamp"]


async def test_a_requests_log_lines_carry_its_request_and_organization(json_lines, settings, seeded, db):
    headers = await user_headers(db, seeded.organization_id, role="agent")
    logging.getLogger("sqlalchemy.engine.Engine").setLevel(logging.INFO)  # an operator turns on SQL logging
    try:
        app = create_app(settings)
        async with app.test_app():
            client = app.test_client()
            given = await client.get("/chatbots", headers={**headers, "X-Request-Id": "req-42.a"})
            made = await client.get("/chatbots", headers={**headers, "X-Request-Id": "not a token!"})
    finally:
        logging.getLogger("sqlalchemy.engine.Engine").setLevel(logging.NOTSET)
    assert given.status_code == 200 and given.headers["X-Request-Id"] == "req-42.a"
    generated = made.headers["X-Request-Id"]
    assert made.status_code == 200 and generated != "not a token!" and len(generated) == 32

    lines = json_lines()
    for rid in ("req-42.a", generated):
        mine = [line for line in lines if line.get("request_id") == rid]
        assert mine, f"no log line of request {rid}"
        assert any(line.get("organization_id") == str(seeded.organization_id) and line["logger"].startswith(
            "sqlalchemy") for line in mine)
        assert all({"timestamp", "level", "logger", "message"} <= set(line) for line in mine)
    logging.getLogger("pytake.test").info("between requests")
    assert "request_id" not in json_lines()[-1] and "organization_id" not in json_lines()[-1]


async def test_processing_a_message_logs_its_conversation_and_organization(json_lines, local, add, flows, query):
    await add("pedido", flows["failing_call"])
    await local.say("5511944445555", "meu pedido")
    (conversation,) = await query("SELECT id, organization_id FROM conversations")
    warned = [line for line in json_lines() if line["level"] == "WARNING" and "127.0.0.1:9" in line["message"]]
    assert warned, json_lines()
    assert warned[0]["conversation_id"] == str(conversation["id"])
    assert warned[0]["organization_id"] == str(conversation["organization_id"])
    assert warned[0]["logger"].startswith("pytake.")


@pytest.mark.skipif(not Path("/proc").exists(), reason="Linux processes")
async def test_a_real_api_process_writes_only_json_lines(database_url, redis_url, tmp_path):
    port = free_port()
    env = os.environ | {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "PYTAKE_DATA_DIR": str(tmp_path),
                        "PYTAKE_LOG_FORMAT": "json"}
    stderr = open(tmp_path / "stderr.log", "w+b")
    proc = subprocess.Popen([str(PYTAKE), "serve", "--no-worker", "--no-migrate", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 180
        async with httpx.AsyncClient(timeout=30) as client:
            while True:
                try:
                    answer = await client.get(f"http://127.0.0.1:{port}/health", headers={"X-Request-Id": "probe-1"})
                    break
                except httpx.TransportError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError("pytake serve never answered: "
                                             + (tmp_path / "stderr.log").read_text()) from None
                    await asyncio.sleep(0.2)
        assert answer.headers["X-Request-Id"] == "probe-1"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stderr.close()
    lines = [line for line in (tmp_path / "stderr.log").read_text().splitlines() if line.strip()]
    assert lines  # hypercorn's "Running on" at least
    docs = [json.loads(line) for line in lines]  # every line: one JSON object
    assert all({"timestamp", "level", "logger", "message"} <= set(d) for d in docs)
    assert any(d["logger"].startswith("hypercorn") and "Running on" in d["message"] for d in docs)
