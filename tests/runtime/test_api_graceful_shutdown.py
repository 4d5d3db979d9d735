"""SIGTERM to `pytake serve` (deploy/README.md "Graceful shutdown"): /ready answers 503 at
once while requests are still served for the shutdown delay, the request in flight when
the signal came finishes with its answer, and the process exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import httpx
import pytest
from cryptography.fernet import Fernet

from api.auth.passwords import hash_password
from api.auth.tokens import create_access_token
from api.db.models import Organization, User
from tests.runtime.conftest import free_port
from tests.runtime.test_graceful_shutdown import HeldAPI
from tests.runtime.test_recovery import PYTAKE

SECRET = "graceful-api-secret-" + "x" * 20


async def _until(check, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not reached in {timeout:.0f} s")
        await asyncio.sleep(0.05)


async def _admin_token(db) -> str:  # noqa: ANN001
    async with db.transaction() as session:
        org = Organization(name="Graceful", slug=f"graceful-{os.getpid()}-{time.monotonic_ns()}")
        session.add(org)
        await session.flush()
        user = User(organization_id=org.id, email=f"admin-{time.monotonic_ns()}@example.com", full_name="Admin",
                    password_hash=hash_password("correct horse battery staple"), role="org_admin")
        session.add(user)
        await session.flush()
        user_id, org_id = user.id, org.id
    token, _ = create_access_token(SECRET, user_id=user_id, organization_id=org_id, role="org_admin",
                                   ttl_seconds=900)
    return token


async def test_sigterm_drains_the_api_and_finishes_the_request_in_flight(
        db, database_url, redis_url, redis, tmp_path) -> None:  # noqa: ANN001
    receiver = await HeldAPI().start()
    token = await _admin_token(db)
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "PYTAKE_DATA_DIR": str(tmp_path),
        "PYTAKE_SECRET_KEY": SECRET, "PYTAKE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PYTAKE_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true", "PYTAKE_WEBHOOKS_TIMEOUT_SECONDS": "120",
        "PYTAKE_SHUTDOWN_DELAY_SECONDS": "10", "PYTAKE_SHUTDOWN_GRACE_SECONDS": "120"}
    log = tmp_path / "api.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([str(PYTAKE), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker",
                                 "--no-migrate"], env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(timeout=180) as client:
            async def ready() -> bool:
                try:
                    return (await client.get(base + "/ready")).status_code == 200
                except httpx.TransportError:
                    assert proc.poll() is None, log.read_text()[-3000:]
                    return False

            await _until(ready, 120, "the API ready")
            hook = await client.post(base + "/webhooks", headers=headers, json={
                "name": "held", "url": receiver.url, "events": ["contact.created"]})
            assert hook.status_code == 201, hook.text
            # a request in flight: the test send waits on a receiver that does not answer yet
            in_flight = asyncio.create_task(
                client.post(base + f"/webhooks/{hook.json()['id']}/test", headers=headers, json={}))
            await _until(lambda: asyncio.sleep(0, receiver.calls >= 1), 60, "the test send reaching the receiver")

            proc.send_signal(signal.SIGTERM)
            async with httpx.AsyncClient(timeout=30) as other:  # a new connection, during the delay
                async def draining() -> bool:
                    return (await other.get(base + "/ready")).status_code == 503
                await _until(draining, 30, "/ready saying 503")
                assert (await other.get(base + "/health")).status_code == 200  # still alive, still serving
            receiver.release.set()
            answer = await in_flight
            assert answer.status_code == 200, answer.text
            assert answer.json()["state"] == "delivered"

        deadline = time.monotonic() + 60
        while proc.poll() is None:
            assert time.monotonic() < deadline, "the API did not exit after SIGTERM"
            await asyncio.sleep(0.05)
        assert proc.returncode == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        await receiver.close()
