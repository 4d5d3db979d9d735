"""Drafts and publishing: a saved canvas is a draft until it is published.

`flow_versions` gains `published_at` and `published_by` (who made a version
live, and when). The runtime starts new conversations only on the flow's
current version (`flows.version`) when that version has been published; a
save no longer moves what customers see.

Existing flows keep running: the version each flow points at is marked
published (at its compile time, by its author).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("flow_versions", sa.Column("published_at", sa.TIMESTAMP(timezone=True), nullable=True))
    op.add_column("flow_versions", sa.Column("published_by", postgresql.UUID(as_uuid=True), nullable=True))
    op.create_foreign_key(op.f("flow_versions_published_by_fkey"), "flow_versions", "users",
                          ["published_by"], ["id"], ondelete="SET NULL")
    op.execute("""
        UPDATE flow_versions v SET published_at = v.compiled_at, published_by = v.created_by
          FROM flows f
         WHERE f.id = v.flow_id AND f.version = v.version
    """)


def downgrade() -> None:
    op.drop_constraint(op.f("flow_versions_published_by_fkey"), "flow_versions", type_="foreignkey")
    op.drop_column("flow_versions", "published_by")
    op.drop_column("flow_versions", "published_at")
