"""Index for the conversation list: one organization's conversations, newest
activity first — the dashboard's default listing (`GET /conversations`, sort
``-last_message_at``, ``id`` tie-breaker, NULLS LAST as `api.resources.sorting`
emits). Without it PostgreSQL scans and sorts every conversation of the
organization for each page; with it a page reads just its rows.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index(
        "idx_conversations_org_last_message", "conversations",
        ["organization_id", sa.literal_column("last_message_at DESC NULLS LAST"), "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("idx_conversations_org_last_message", table_name="conversations")
