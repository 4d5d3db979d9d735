"""Retention on PostgreSQL: whole partitions past their table's lifetime are dropped
(message_logs a year, webhook_logs 90 days, api_request_logs 30 days); the current ones,
and their rows, stay. Partitions ahead are created by the upkeep."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from api.logstore import LogFeeder, RequestQuery
from api.logstore import partitions
from api.logstore.postgres import PostgresLogStore


async def _names(db, table: str) -> list[str]:
    async with db.raw() as conn:
        return await partitions.partitions(conn, table)


async def test_old_partitions_are_dropped_and_the_current_ones_kept(db):
    now = datetime.now(timezone.utc)
    store = PostgresLogStore(db)
    month = partitions.period_start("message_logs", now)
    old_month = partitions.period_start("message_logs", now - timedelta(days=400))
    kept_month = partitions.period_start("message_logs", now - timedelta(days=300))
    old_day = partitions.period_start("api_request_logs", now - timedelta(days=31))
    recent_day = partitions.period_start("api_request_logs", now - timedelta(days=29))
    old_hook_day = partitions.period_start("webhook_logs", now - timedelta(days=91))
    async with db.raw() as conn:
        await partitions.create(conn, "message_logs", [old_month, kept_month])
        await partitions.create(conn, "api_request_logs", [old_day, recent_day])
        await partitions.create(conn, "webhook_logs", [old_hook_day])
    org = uuid.uuid4()
    row = {"organization_id": org, "user_id": None, "method": "GET", "query_params": {}, "headers": {},
           "body": None, "status_code": 200, "response_time_ms": 1.0, "ip_address": None, "user_agent": None,
           "success": True, "error_message": None}
    await store.write_api_requests([{**row, "id": uuid.uuid4(), "path": "/recent", "created_at": now - timedelta(days=29)},
                                    {**row, "id": uuid.uuid4(), "path": "/today", "created_at": now}])

    dropped = await LogFeeder(db, store).upkeep(now)

    assert sorted(dropped) == sorted([partitions.partition_name("message_logs", old_month),
                                      partitions.partition_name("api_request_logs", old_day),
                                      partitions.partition_name("webhook_logs", old_hook_day)])
    messages = await _names(db, "message_logs")
    assert partitions.partition_name("message_logs", kept_month) in messages
    assert partitions.partition_name("message_logs", month) in messages
    ahead = partitions.next_start("message_logs", month)
    assert partitions.partition_name("message_logs", ahead) in messages  # created ahead
    requests = await _names(db, "api_request_logs")
    assert partitions.partition_name("api_request_logs", recent_day) in requests
    assert partitions.partition_name("api_request_logs", old_day) not in requests
    paths = sorted(r["path"] for r in await store.api_request_logs(RequestQuery(org)))
    assert paths == ["/recent", "/today"]
    assert await LogFeeder(db, store).upkeep(now) == []  # nothing more to drop


async def test_records_already_past_their_lifetime_are_not_written(db):
    now = datetime.now(timezone.utc)
    store = PostgresLogStore(db)
    org = uuid.uuid4()
    old = {"id": uuid.uuid4(), "organization_id": org, "webhook_id": uuid.uuid4(), "success": True,
           "created_at": now - timedelta(days=100)}
    await store.write_webhook_attempts([old])
    assert partitions.partition_name("webhook_logs", partitions.period_start("webhook_logs", old["created_at"])) \
        not in await _names(db, "webhook_logs")
