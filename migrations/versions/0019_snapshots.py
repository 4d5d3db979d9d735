"""Analytics snapshots: an organization's figures per hour, day, week and month
(api/analytics/snapshots.py), one row per (organization, period, start); a BRIN
index on ``events.occurred_at`` so a period's events are read without a full scan
(cheap to keep: events are written in time order).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0019"
down_revision: Union[str, Sequence[str], None] = "0018"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE analytics_snapshots (
            organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            period VARCHAR(8) NOT NULL CHECK (period IN ('hour', 'day', 'week', 'month')),
            start TIMESTAMP WITH TIME ZONE NOT NULL,
            "end" TIMESTAMP WITH TIME ZONE NOT NULL,
            timezone VARCHAR(64) NOT NULL,
            conversations JSONB NOT NULL,
            messages JSONB NOT NULL,
            contacts JSONB NOT NULL,
            chatbots JSONB NOT NULL,
            agents JSONB NOT NULL,
            computed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
            PRIMARY KEY (organization_id, period, start)
        )""")
    op.execute("CREATE INDEX idx_events_occurred_at_brin ON events USING brin (occurred_at)")


def downgrade() -> None:
    op.execute("DROP INDEX idx_events_occurred_at_brin")
    op.execute("DROP TABLE analytics_snapshots")
