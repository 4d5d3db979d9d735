"""``GET /ready``: readiness (may this process take traffic?), apart from ``/health`` (liveness)."""

from __future__ import annotations

import socket

from api.app import create_app, start_draining
from tests.api.conftest import settings_for


async def test_ready_while_serving_and_not_once_draining(app, client) -> None:  # noqa: ANN001
    response = await client.get("/ready")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ready", "database": "ok", "redis": "ok"}
    start_draining(app)
    response = await client.get("/ready")
    assert response.status_code == 503
    body = await response.get_json()
    assert body["error"]["details"] == [{"field": "process", "message": "draining"}]
    # liveness is another question: the process still works while it drains
    assert (await client.get("/health")).status_code == 200


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nobody listens once it is closed


async def test_not_ready_when_redis_does_not_answer(database_url, tmp_path) -> None:  # noqa: ANN001
    app = create_app(settings_for(database_url, f"redis://127.0.0.1:{_closed_port()}/0", tmp_path))
    async with app.test_app():
        response = await app.test_client().get("/ready")
        assert response.status_code == 503
        body = await response.get_json()
        assert {"field": "redis", "message": "unavailable"} in body["error"]["details"]


async def test_not_ready_when_postgresql_does_not_answer(redis_url, tmp_path) -> None:  # noqa: ANN001
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/postgres"
    app = create_app(settings_for(url, redis_url, tmp_path))
    async with app.test_app():
        response = await app.test_client().get("/ready")
        assert response.status_code == 503
        body = await response.get_json()
        assert {"field": "database", "message": "unavailable"} in body["error"]["details"]
