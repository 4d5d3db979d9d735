"""A flow version's path analytics over a period, as `GET /flows/{id}/analytics` answers.

Node, edge and drop-off counts are sums of the hour buckets of
``flow_path_counts`` that start in ``[from, to)``. Idle drop-offs are read from
the conversations themselves: runs of this version still waiting at a question
whose conversation has had no activity for `IDLE_AFTER` (counted in the hour
of that last activity).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text

IDLE_AFTER = timedelta(hours=24)

_COUNTS = """
SELECT kind, node_id, exit, dest, sum(count)::bigint AS n FROM flow_path_counts
 WHERE organization_id = :org AND flow_id = :flow AND version = :version
   AND (CAST(:since AS timestamptz) IS NULL OR bucket_hour >= CAST(:since AS timestamptz))
   AND (CAST(:until AS timestamptz) IS NULL OR bucket_hour < CAST(:until AS timestamptz))
 GROUP BY kind, node_id, exit, dest
 ORDER BY kind, n DESC, node_id, exit, dest
"""
_IDLE = """
SELECT c.flow_variables->'state'->'w'->>0 AS node, count(*) AS n
  FROM conversations c
 WHERE c.organization_id = :org AND c.current_flow_id = :flow
   AND c.flow_variables->'state'->>'h' IN (SELECT program_hash FROM flow_versions
                                           WHERE flow_id = :flow AND version = :version)
   AND c.flow_variables->'state'->'w' IS NOT NULL
   AND c.updated_at < now() - CAST(:idle AS interval)
   AND (CAST(:since AS timestamptz) IS NULL OR date_trunc('hour', c.updated_at) >= CAST(:since AS timestamptz))
   AND (CAST(:until AS timestamptz) IS NULL OR date_trunc('hour', c.updated_at) < CAST(:until AS timestamptz))
 GROUP BY 1 ORDER BY n DESC, node
"""


async def flow_analytics(session: Any, organization_id: uuid.UUID, flow_id: uuid.UUID, version: int,
                         since: datetime | None, until: datetime | None) -> dict[str, Any]:
    """``{"nodes": [...], "edges": [...], "drop_off": [...]}`` of one flow version."""
    params = {"org": organization_id, "flow": flow_id, "version": version, "since": since, "until": until}
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    drops: list[dict[str, Any]] = []
    for row in (await session.execute(text(_COUNTS), params)).mappings():
        n = int(row["n"])
        if row["kind"] == "node":
            nodes.append({"node_id": row["node_id"], "count": n})
        elif row["kind"] == "edge":
            edges.append({"source": row["node_id"], "handle": row["exit"] or None, "target": row["dest"],
                          "count": n})
        else:
            drops.append({"node_id": row["node_id"], "reason": row["exit"], "count": n})
    idle = await session.execute(text(_IDLE), {**params, "idle": IDLE_AFTER})
    for row in idle.mappings():
        if row["node"] is not None:
            drops.append({"node_id": row["node"], "reason": "idle", "count": int(row["n"])})
    return {"flow_id": flow_id, "version": version, "from": since, "to": until,
            "nodes": nodes, "edges": edges, "drop_off": drops}
