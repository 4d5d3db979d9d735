"""Flow path analytics: per-node, per-edge and drop-off counts per flow version and hour.

The runtime counts each step's path in Redis (api/analytics/path.py); a
periodic flush adds them here (api/analytics/flush.py). ``analytics_flushes``
remembers which Redis batches were added, so a flush that crashed after its
commit is not added twice.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0018"
down_revision: Union[str, Sequence[str], None] = "0017"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE flow_path_counts (
            organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            flow_id UUID NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            bucket_hour TIMESTAMP WITH TIME ZONE NOT NULL,
            kind VARCHAR(8) NOT NULL CHECK (kind IN ('node', 'edge', 'drop')),
            node_id VARCHAR(255) NOT NULL,
            exit VARCHAR(255) NOT NULL DEFAULT '',
            dest VARCHAR(255) NOT NULL DEFAULT '',
            count BIGINT NOT NULL,
            PRIMARY KEY (flow_id, version, bucket_hour, kind, node_id, exit, dest)
        )""")
    op.execute("CREATE INDEX idx_flow_path_counts_organization ON flow_path_counts (organization_id)")
    op.execute("""
        CREATE TABLE analytics_flushes (
            batch_id VARCHAR(64) PRIMARY KEY,
            flushed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()
        )""")


def downgrade() -> None:
    op.execute("DROP TABLE analytics_flushes")
    op.execute("DROP TABLE flow_path_counts")
