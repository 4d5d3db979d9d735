"""One Meta app per organization: the app secret that signs its webhooks.

`organizations.whatsapp_app_secret_encrypted` holds the organization's Meta
app secret, encrypted like the numbers' access tokens (`api.crypto`). Webhooks
posted to ``/webhooks/whatsapp/<organization id>`` are verified with it (see
`api.whatsapp.apps`). SCHEMA.md has no column for it; ``settings`` (JSONB) is
returned to every member and merged from client input and audit logs, so the
secret gets a column of its own (docs/data-layer.md).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("organizations", sa.Column("whatsapp_app_secret_encrypted", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("organizations", "whatsapp_app_secret_encrypted")
