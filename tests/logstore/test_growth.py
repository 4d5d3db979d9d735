"""The PostgreSQL log store keeps the planner's counts of the tables it grows in step with them
(api/db/growth.py): its status update and its sessions' read are planned once per connection,
and a plan made while ``message_logs`` or ``conversation_logs`` was small reads it whole per batch."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from api.db.growth import MIN_ROWS
from api.logstore import partitions, records_of
from tests.logstore.test_contract import NOW, message, write


async def reltuples(db, name: str) -> float:
    async with db.raw() as conn:
        return float(await conn.fetchval("SELECT reltuples FROM pg_class WHERE oid = CAST($1 AS regclass)", name))


async def test_a_log_table_the_store_has_outgrown_is_analyzed(pg_store, db):
    await pg_store.prepare()
    org = uuid.uuid4()
    partition = partitions.partition_name("message_logs", partitions.period_start("message_logs", NOW))
    async with db.raw() as conn:
        await conn.execute("ANALYZE message_logs, conversation_logs")  # what the planner knows: empty tables

    small = [message(org, uuid.uuid4(), uuid.uuid4())[1] for _ in range(10)]
    await write(pg_store, small)
    await pg_store.growth.wait()
    assert pg_store.growth.analyzed == []  # below the minimum: not worth a plan's remaking

    grown = [message(org, uuid.uuid4(), uuid.uuid4())[1] for _ in range(MIN_ROWS)]
    await write(pg_store, grown)  # the sessions grow while the message logs' look is under way
    await pg_store.growth.wait()
    assert sorted(pg_store.growth.analyzed) == ["conversation_logs", partition]
    assert await reltuples(db, partition) >= MIN_ROWS
    assert await reltuples(db, "conversation_logs") >= MIN_ROWS

    # 10 more rows on a table that now holds 1,010: not analyzed again
    await write(pg_store, [message(org, uuid.uuid4(), uuid.uuid4())[1] for _ in range(10)])
    await pg_store.growth.wait()
    assert sorted(pg_store.growth.analyzed) == ["conversation_logs", partition]


async def test_statuses_alone_add_no_rows_and_analyze_nothing(pg_store, db):
    await pg_store.prepare()
    org, conv, contact = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    mid, sent = message(org, conv, contact, direction="outbound", sender="bot", wamid="wamid.G1")
    await write(pg_store, [sent])
    from tests.logstore.test_contract import status

    messages, _ = records_of([status(org, conv, mid, "delivered", datetime.now(timezone.utc))
                              for _ in range(MIN_ROWS + 1)])
    await pg_store.write_messages(messages)
    await pg_store.growth.wait()
    assert pg_store.growth.analyzed == []
