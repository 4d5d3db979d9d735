"""``idx_messages_conversation`` dropped: ``idx_messages_recent`` has the same keys.

Both indexed ``messages (conversation_id, created_at DESC)``; ``idx_messages_recent``
also carries ``type`` and ``direction`` (INCLUDE), so every query the first
served, the second serves the same way. Each message wrote an entry into both,
at its insert and at each update that is not HOT (an outbound message's sent,
delivered and read): four entries a message that nothing read first
(bench/campaign.py, WAL by index).

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0022"
down_revision: Union[str, Sequence[str], None] = "0021"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("DROP INDEX idx_messages_conversation")  # and each partition's


def downgrade() -> None:
    op.execute("CREATE INDEX idx_messages_conversation ON messages (conversation_id, created_at DESC)")
