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
from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"
SCREENSHOTS = ROOT / ".pytake" / "screenshots"  # gitignored (.pytake/)
PYTAKE = Path(sys.executable).parent / "pytake"
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


@pytest.fixture
async def web_server(database_url, redis_url, tmp_path, built_web_app) -> AsyncIterator[str]:
    """`pytake serve` (API + web app) on a free port; its base URL."""
    port = _free_port()
    env = os.environ | {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "PYTAKE_DATA_DIR": str(tmp_path),
                        # every browser test signs up and logs in from 127.0.0.1, and a page makes many
                        # calls: the rate limits (tested in tests/api) would cut a busy run short
                        **{f"PYTAKE_RATELIMIT_{kind}_PER_MINUTE": "0" for kind in ("LOGIN", "SIGNUP", "REFRESH", "USER")}}
    proc = subprocess.Popen([str(PYTAKE), "serve", "--no-worker", "--no-migrate", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
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
