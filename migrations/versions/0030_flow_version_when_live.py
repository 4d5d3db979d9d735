"""``flows.version`` is NULL until a version of the flow is live.

``flows.version`` is the live version (the one new conversations start on);
SCHEMA.md's ``DEFAULT 1`` gave every new flow a "version 1" before any version
was saved or published, and the flows list showed a flow that had never been
saved, or only saved as drafts, as version 1. The column has no default now,
and a flow whose version is not live gets NULL (the web app shows "draft").

Revision ID: 0030
Revises: 0029
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0030"
down_revision: Union[str, Sequence[str], None] = "0029"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("ALTER TABLE flows ALTER COLUMN version DROP DEFAULT")
    op.execute("""
        UPDATE flows f SET version = NULL
         WHERE version IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM flow_versions v WHERE v.flow_id = f.id AND v.version = f.version
              AND v.published_at IS NOT NULL)""")


def downgrade() -> None:
    op.execute("UPDATE flows SET version = 1 WHERE version IS NULL")
    op.execute("ALTER TABLE flows ALTER COLUMN version SET DEFAULT 1")
