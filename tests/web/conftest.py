"""The web app in a real browser: `pytake serve` on a free port serving web/dist,
and Debian's Chromium driven by Playwright (never a downloaded browser).

Without Chromium these tests fail, loudly: .ci/run installs it
(`apt-get install chromium`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
from playwright.async_api import expect

# every `expect` in tests/web waits for its condition up to 30 s, not Playwright's 5 s. It is only a
# ceiling: each wait returns as soon as its condition holds, and a machine with both cores busy may
# take longer than 5 s to render a page that is not wrong.
expect.set_options(timeout=30_000)

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"
SCREENSHOTS = ROOT / ".pytake" / "screenshots"  # gitignored (.pytake/)
PYTAKE = Path(sys.executable).parent / "pytake"
START_DEADLINE = 300.0  # seconds a server may take to answer before the test fails
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("Chromium is not installed: `apt-get install -y chromium` (.ci/run does it); "
                "the browser tests never download one")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def built_web_app() -> Path:
    """web/dist, built now if `make` has not built it (web/build.sh picks Node)."""
    if not (WEB_DIST / "index.html").is_file():
        result = subprocess.run(["sh", str(ROOT / "web" / "build.sh")], capture_output=True, text=True)
        assert result.returncode == 0, "building web/ failed:\n" + result.stdout + result.stderr
    return WEB_DIST


@asynccontextmanager
async def pytake_serve(database_url: str, redis_url: str, data_dir: Path,
                       extra_env: dict[str, str] | None = None, *, worker: bool = False) -> AsyncIterator[str]:
    """`pytake serve` (API + web app) on a free port, with a Taskiq worker in it if `worker`; its base URL."""
    port = _free_port()
    env = os.environ | {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "PYTAKE_DATA_DIR": str(data_dir),
                        # every browser test signs up and logs in from 127.0.0.1, and a page makes many
                        # calls: the rate limits (tested in tests/api) would cut a busy run short
                        **{f"PYTAKE_RATELIMIT_{kind}_PER_MINUTE": "0" for kind in ("LOGIN", "SIGNUP", "REFRESH", "USER")},
                        **(extra_env or {})}
    proc = subprocess.Popen([str(PYTAKE), "serve", "--worker" if worker else "--no-worker", "--no-migrate", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    # A bound on a hang, not a speed test: a process that exits fails at once, and on a loaded
    # machine (the suite beside other work) `pytake serve` took more than a minute to answer.
    deadline = time.monotonic() + START_DEADLINE
    async with httpx.AsyncClient() as client:
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("pytake serve never answered /health: " + proc.stderr.read().decode())
            try:
                if (await client.get(base + "/health")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
async def web_server(database_url, redis_url, tmp_path, built_web_app) -> AsyncIterator[str]:
    """`pytake serve` (API + web app) on a free port; its base URL."""
    async with pytake_serve(database_url, redis_url, tmp_path) as base:
        yield base


META_APP_SECRET = "web-tests-app-secret"


@dataclass
class MetaStandIn:
    """The sandbox playing Meta for `pytake serve`: its state, and a gate on the webhooks it posts
    (closed: a webhook waits until the test opens it, so the test decides what the page sees first)."""

    app: Any
    url: str
    gate: asyncio.Event

    @property
    def state(self) -> Any:
        return self.app.state


@asynccontextmanager
async def serve_with_meta(database_url: str, redis_url: str, data_dir: Path, *,
                          worker: bool = False) -> AsyncIterator[tuple[str, MetaStandIn]]:
    """`pytake serve` whose Graph API is the sandbox (api/sandbox), in this test's event loop;
    the sandbox's webhooks go, signed, to PyTake's webhook route once ``gate`` is set."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from api.sandbox.server import SandboxApp, SandboxConfig, SandboxState

    gate = asyncio.Event()
    http = httpx.AsyncClient(timeout=60.0)  # a loaded machine answers late; the test bounds a hang

    async def gated_post(url: str, headers: dict[str, str], body: bytes) -> int:
        await gate.wait()
        return (await http.post(url, content=body, headers=headers)).status_code

    sandbox = SandboxApp(SandboxState(SandboxConfig(app_secret=META_APP_SECRET, template_review_delay=0.05)),
                         poster=gated_post)
    config = Config()
    port = _free_port()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = config.errorlog = None
    stop = asyncio.Event()
    task = asyncio.create_task(serve(sandbox, config, shutdown_trigger=stop.wait))
    sandbox_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_DEADLINE
    while True:
        assert not task.done(), f"the sandbox did not start: {task.exception()!r}"
        try:
            await http.get(sandbox_url + "/_sandbox/health")
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the sandbox never answered"
            await asyncio.sleep(0.05)
    try:
        async with pytake_serve(database_url, redis_url, data_dir, {
                "PYTAKE_GRAPH_API_URL": sandbox_url, "PYTAKE_WHATSAPP_APP_SECRET": META_APP_SECRET},
                worker=worker) as base:
            sandbox.state.config.webhook_url = base + "/webhooks/whatsapp"
            yield base, MetaStandIn(sandbox, sandbox_url, gate)
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        await sandbox.aclose()
        await http.aclose()


@pytest.fixture
async def web_with_meta(database_url, redis_url, tmp_path, built_web_app) -> AsyncIterator[tuple[str, MetaStandIn]]:
    """`pytake serve` (no worker) with the sandbox as Meta (`serve_with_meta`)."""
    async with serve_with_meta(database_url, redis_url, tmp_path) as served:
        yield served


@pytest.fixture
async def web_with_meta_and_worker(database_url, redis_url, tmp_path,
                                   built_web_app) -> AsyncIterator[tuple[str, MetaStandIn]]:
    """`pytake serve` with its worker (campaigns are sent by one) and the sandbox as Meta."""
    async with serve_with_meta(database_url, redis_url, tmp_path, worker=True) as served:
        yield served


@pytest.fixture
async def browser_page():
    """A fresh English page in headless Chromium."""
    from playwright.async_api import async_playwright

    executable = chromium_path()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = await browser.new_context(locale="en-US", viewport={"width": 1440, "height": 900})
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield page
        finally:
            await browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


async def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path
