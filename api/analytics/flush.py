"""Moving the path counts from Redis into ``flow_path_counts``, exactly once.

1. A Lua script renames the live hash to ``analytics:path:pending`` and gives
   the batch an id (``analytics:path:pending_id``), unless a pending batch is
   left from a flush that stopped half-way: then that batch, with its id, is
   taken again. Steps keep counting into a fresh live hash meanwhile.
2. One PostgreSQL transaction records the batch id in ``analytics_flushes``
   and adds the counts (``count = count + excluded.count``), or does nothing
   when the id is already there (the previous attempt committed and stopped
   before step 3).
3. Another script deletes the pending hash if its id is still this batch's.

A crash between any two steps neither loses nor doubles a count. The flow
version is the ``flow_versions`` row of the program hash the run used (the
newest when one program was published twice); counts of a deleted flow are
dropped.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from api.analytics.path import LIVE_KEY
from api.db.session import bind

PENDING_KEY = "analytics:{path}:pending"
PENDING_ID_KEY = "analytics:{path}:pending_id"
KEEP_BATCH_IDS_DAYS = 7

_TAKE = """
if redis.call('EXISTS', KEYS[2]) == 0 then
  if redis.call('EXISTS', KEYS[1]) == 0 then return false end
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('SET', KEYS[3], ARGV[1])
end
return redis.call('GET', KEYS[3])
"""
_DONE = """
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2]) return 1 end
return 0
"""

_UPSERT = """
WITH batch AS (
  INSERT INTO analytics_flushes (batch_id) VALUES (:batch) ON CONFLICT DO NOTHING RETURNING batch_id
), counts AS (
  SELECT c.org, c.flow, c.hash, c.hour, c.kind, c.node, c.exit, c.dest, c.n
    FROM unnest(CAST(:orgs AS uuid[]), CAST(:flows AS uuid[]), CAST(:hashes AS text[]),
                CAST(:hours AS timestamptz[]), CAST(:kinds AS text[]), CAST(:nodes AS text[]),
                CAST(:exits AS text[]), CAST(:dests AS text[]), CAST(:ns AS bigint[]))
         AS c(org, flow, hash, hour, kind, node, exit, dest, n)
   WHERE EXISTS (SELECT 1 FROM batch)
), versioned AS (
  SELECT c.org, c.flow, v.version, c.hour, c.kind, c.node, c.exit, c.dest, sum(c.n) AS n
    FROM counts c
    JOIN flows f ON f.id = c.flow
    JOIN chatbots b ON b.id = f.chatbot_id AND b.organization_id = c.org
    CROSS JOIN LATERAL (SELECT max(version) AS version FROM flow_versions
                         WHERE flow_id = c.flow AND program_hash = c.hash) v
   WHERE v.version IS NOT NULL
   GROUP BY c.org, c.flow, v.version, c.hour, c.kind, c.node, c.exit, c.dest
)
INSERT INTO flow_path_counts (organization_id, flow_id, version, bucket_hour, kind, node_id, exit, dest, count)
SELECT org, flow, version, hour, kind, left(node, 255), left(exit, 255), left(dest, 255), n FROM versioned
ON CONFLICT (flow_id, version, bucket_hour, kind, node_id, exit, dest)
DO UPDATE SET count = flow_path_counts.count + EXCLUDED.count
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _columns(items: dict[Any, Any]) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {k: [] for k in
                                  ("orgs", "flows", "hashes", "hours", "kinds", "nodes", "exits", "dests", "ns")}
    for raw, n in items.items():
        try:
            org, flow, phash, hour, kind, node, handle, dest = json.loads(_text(raw))
            org, flow = uuid.UUID(org), uuid.UUID(flow)
        except (ValueError, TypeError):
            continue  # not a field this module wrote
        for name, value in zip(cols, (org, flow, phash, hour, kind, node, handle, dest, int(n))):
            cols[name].append(value)
    return cols


async def flush_path_counts(db: Any, redis: Any) -> int:
    """Add the counts gathered in Redis to ``flow_path_counts``; the number of fields flushed
    (0 when there was nothing, or when the batch had been added already)."""
    batch = await redis.eval(_TAKE, 3, LIVE_KEY, PENDING_KEY, PENDING_ID_KEY, uuid.uuid4().hex)
    if not batch:
        return 0
    batch = _text(batch)
    items = await redis.hgetall(PENDING_KEY)
    cols = _columns(items)
    added = 0
    async with db.raw() as conn:
        async with conn.transaction():
            if cols["orgs"]:
                cols["hours"] = [datetime.fromisoformat(h) for h in cols["hours"]]
                status = await conn.execute(*bind(_UPSERT, {"batch": batch, **cols}))
                added = int(status.split()[-1]) if status.startswith("INSERT") else 0
            else:
                await conn.execute("INSERT INTO analytics_flushes (batch_id) VALUES ($1) ON CONFLICT DO NOTHING",
                                   batch)
            await conn.execute("DELETE FROM analytics_flushes WHERE flushed_at < now() - make_interval(days => $1)",
                               KEEP_BATCH_IDS_DAYS)
    await redis.eval(_DONE, 2, PENDING_KEY, PENDING_ID_KEY, batch)
    return added
