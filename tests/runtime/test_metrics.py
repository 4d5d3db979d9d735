"""GET /metrics: scraped over HTTP from a real API server, parsed by prometheus_client's
parser; two API processes' request counts add up; the sender's throughput and Meta
error codes, queue lanes and event backlogs are there; no token, no metrics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from api.app import create_app
from api.events.consumer import register
from api.workers.queue import LANES

from .conftest import METRICS_TOKEN, make_settings, serve

HEADERS = {"Authorization": f"Bearer {METRICS_TOKEN}"}


async def _scrape(servers) -> dict:
    response = await servers.client.get(servers.pytake_url + "/metrics", headers=HEADERS)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    return families


def _value(families, family, sample_name, **labels) -> float:
    """A sample's value, 0 when absent (a counter's family is named without ``_total``)."""
    found = families.get(family) or families.get(family.removesuffix("_total"))
    for sample in found.samples if found else ():
        if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    return 0.0


async def test_metrics_add_up_over_processes_and_count_sends_and_errors(servers, add, flows, db):
    await add("promo", flows["promo"])
    second = create_app(servers.settings)  # another API process: its own counters
    second_url, second_stop, second_task = await serve(second)
    try:
        for _ in range(3):
            assert (await servers.client.get(servers.pytake_url + "/health")).status_code == 200
        for _ in range(2):
            assert (await servers.client.get(second_url + "/health")).status_code == 200
        await servers.customer_says("5511933339001", "oi")  # the promo is sent
        await servers.customer_says("5511900131026", "oi")  # Meta refuses: 131026 undeliverable
        await servers.wait_for(lambda: servers.inbox("5511933339001"))

        async def counted():
            families = await _scrape(servers)
            health = _value(families, "pytake_http_request_duration_seconds",
                            "pytake_http_request_duration_seconds_count", route="/health", method="GET",
                            status="200")
            errors = _value(families, "pytake_send_errors_total", "pytake_send_errors_total",
                            kind="permanent", code="131026")
            sent = _value(families, "pytake_messages_sent_total", "pytake_messages_sent_total")
            return families if (health, errors) == (5, 1) and sent >= 1 else None

        families = await servers.wait_for(counted)
    finally:
        second_stop.set()
        await second_task
    assert families["pytake_http_request_duration_seconds"].type == "histogram"
    buckets = [s for s in families["pytake_http_request_duration_seconds"].samples
               if s.name.endswith("_bucket") and s.labels["route"] == "/health"]
    values = [s.value for s in buckets]
    assert values == sorted(values) and buckets[-1].labels["le"] == "+Inf" and values[-1] == 5
    assert {s.labels["lane"] for s in families["pytake_task_queue_depth"].samples} == set(LANES)
    assert all(s.value >= 0 for s in families["pytake_task_queue_depth"].samples)


async def test_event_backlog_per_consumer(servers, add, flows, db):
    await add("promo", flows["promo"])
    await servers.customer_says("5511933339002", "oi")
    await servers.wait_for(lambda: servers.inbox("5511933339002"))
    async with db.raw() as conn:
        await register(conn, "metrics-test")  # a consumer that has read nothing
        stored = await conn.fetchval("SELECT count(*) FROM events")
        await register(conn, "metrics-test-caught-up")  # and one past every event stored so far
        await conn.execute("UPDATE event_consumers SET (cursor_txid, cursor_id) = "
                           "(SELECT max(txid), max(id) FROM events) WHERE name = 'metrics-test-caught-up'")
    assert stored > 0
    families = await _scrape(servers)
    backlog = {s.labels["consumer"]: s.value for s in families["pytake_event_backlog"].samples}
    assert backlog["metrics-test"] >= stored
    async with db.session() as s:
        total = (await s.execute(text("SELECT count(*) FROM events"))).scalar()
    assert backlog["metrics-test"] <= total
    assert backlog["metrics-test-caught-up"] <= total - stored


async def test_no_token_no_metrics(servers, database_url, redis_url, tmp_path):
    url = servers.pytake_url + "/metrics"
    assert (await servers.client.get(url)).status_code == 401
    assert (await servers.client.get(url, headers={"Authorization": "Bearer nope"})).status_code == 401
    app = create_app(make_settings(database_url, redis_url, tmp_path))  # PYTAKE_METRICS_TOKEN unset
    async with app.test_app():
        response = await app.test_client().get("/metrics", headers=HEADERS)
        assert response.status_code == 404
        assert (await response.get_json())["error"]["code"] == "metrics_disabled"
