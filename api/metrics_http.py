"""``GET /metrics`` (Prometheus text format) and the request timing that feeds it.

Off unless ``PYTAKE_METRICS_TOKEN`` is set (404 ``metrics_disabled``); then a
scrape must send ``Authorization: Bearer <token>`` (401 otherwise). The
figures are the whole installation's (every process: api/metrics.py) and name
no organization: route templates, statuses, lanes, consumer names, Meta error
codes. Hidden from /openapi.json, like /health: it is not the users' API.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from quart import Quart, Response, g, request
from quart_schema import hide

from api.context import get_db, get_redis
from api.errors import error_body
from api.metrics import Counters, render
from api.settings import Settings

COUNTERS_KEY = "pytake.metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REQUESTS = "pytake_http_request_duration_seconds"


def register_metrics(app: Quart, settings: Settings) -> None:
    @app.before_request
    async def start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    async def observe(response: Response) -> Response:
        started = getattr(g, "metrics_started", None)
        if started is not None and settings.redis_url:
            counters = app.extensions.get(COUNTERS_KEY)
            if counters is None:
                counters = app.extensions[COUNTERS_KEY] = Counters(settings.redis_url)
            rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
            counters.observe(REQUESTS, (("route", rule), ("method", request.method),
                                        ("status", str(response.status_code))), time.perf_counter() - started)
        return response

    @app.after_serving
    async def close_counters() -> None:
        counters = app.extensions.pop(COUNTERS_KEY, None)
        if counters is not None:
            await counters.aclose()

    @app.get("/metrics")
    @hide
    async def metrics() -> Any:
        """Prometheus metrics of every process (docs/analytics.md)."""
        token = settings.metrics_token
        if not token:
            return error_body("metrics_disabled", "metrics are not enabled (set PYTAKE_METRICS_TOKEN)"), 404
        sent = request.headers.get("Authorization", "")
        if not (sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].encode(), token.encode())):
            return error_body("unauthorized", "a valid metrics token is required"), 401, {
                "WWW-Authenticate": 'Bearer realm="metrics"'}
        counters = app.extensions.get(COUNTERS_KEY)
        if counters is not None:
            await counters.push()  # this process's own counts are current in the scrape
        body = await render(get_db(), get_redis())
        return Response(body, status=200, content_type=CONTENT_TYPE)
