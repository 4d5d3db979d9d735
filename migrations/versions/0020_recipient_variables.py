"""Per-recipient template parameters: ``campaign_recipients.variables``, the CSV
columns of a campaign's recipients import that are not contact fields (a
campaign's ``{{recipient.<column>}}``; docs/campaigns.md).

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0020"
down_revision: Union[str, Sequence[str], None] = "0019"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("ALTER TABLE campaign_recipients ADD COLUMN variables JSONB NOT NULL DEFAULT '{}'::jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE campaign_recipients DROP COLUMN variables")
