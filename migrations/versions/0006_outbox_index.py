"""Index for the outbox sender: one conversation's pending outbound rows, oldest
first (`api.outbox.sender`'s read). SCHEMA.md's ``idx_messages_status`` (status,
outbound only) made that read scan every pending row of every conversation and
filter by conversation: during a campaign blast of thousands of rows each
sender read walked all of them. This partial index holds only rows waiting to
be sent; its columns (direction, status) are indexed already, so no update that
was HOT stops being HOT.

Built without blocking writes: the partitioned parent gets an index ON ONLY
itself, each partition one built CONCURRENTLY and attached (partitions created
later inherit it).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

NAME = "idx_messages_outbox"
COLUMNS = "(conversation_id, created_at)"
WHERE = "direction = 'outbound' AND status = 'pending'"


def _partitions() -> list[str]:
    return list(op.get_bind().execute(sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'messages'::regclass ORDER BY c.relname")).scalars())


def upgrade() -> None:
    op.execute(f"CREATE INDEX {NAME} ON ONLY messages {COLUMNS} WHERE {WHERE}")
    partitions = _partitions()
    with op.get_context().autocommit_block():
        for partition in partitions:
            index = f"{partition}_outbox_idx"
            op.execute(f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{index}" ON "{partition}" {COLUMNS} WHERE {WHERE}')
            op.execute(f'ALTER INDEX {NAME} ATTACH PARTITION "{index}"')


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {NAME}")  # the partitions' indexes go with it
