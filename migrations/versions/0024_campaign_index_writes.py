"""Fewer index entries written per campaign message: a recipient's ``sent`` is a HOT update.

A campaign message inserts a conversation (when the contact has none open) and
updates its recipient four times: claimed, sent, delivered, read. Every insert,
and every update that is not HOT, writes an entry into each of the table's
indexes. bench/campaign.py (20,000 recipients, WAL by relation): 52 index
entries per message; the recipient's alone 25.

- ``idx_campaign_recipients_wamid`` is dropped. Status webhooks find a
  recipient through its message (``idx_campaign_recipients_message``): the
  message is found by wamid or by our callback id, and a recipient gets its
  message at the claim, before any send. With no index on
  ``whatsapp_message_id``, the sender's recording of the wamid (with ``sent``)
  is a HOT update like delivered and read: only the claim writes index entries.
- ``idx_campaign_recipients_campaign`` (``campaign_id``) is dropped: the unique
  ``(campaign_id, contact_id)`` index starts with the same column and serves
  every query it served.
- ``idx_conversations_organization`` (``organization_id``) is dropped:
  ``idx_conversations_status`` (``organization_id, status``) starts with it.
- ``idx_conversations_assigned`` and ``idx_conversations_department`` hold only
  rows that have an agent or a department: every reader compares the column
  with a value (``=``, which implies ``IS NOT NULL``), and a conversation a
  campaign or a bot opens has neither.

The two rebuilt indexes are built beside the old ones without blocking
writes, then swapped in under their names.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0024"
down_revision: Union[str, Sequence[str], None] = "0023"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PARTIAL = {"idx_conversations_assigned": "assigned_to", "idx_conversations_department": "department_id"}


def _rebuild(name: str, column: str, partial: bool) -> None:
    building = f"{name}_new"
    where = f" WHERE {column} IS NOT NULL" if partial else ""
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {building}")  # a build interrupted before
        op.execute(f"CREATE INDEX CONCURRENTLY {building} ON conversations ({column}){where}")
    op.execute(f"DROP INDEX {name}")
    op.execute(f"ALTER INDEX {building} RENAME TO {name}")


def upgrade() -> None:
    op.execute("DROP INDEX idx_campaign_recipients_wamid")
    op.execute("DROP INDEX idx_campaign_recipients_campaign")
    op.execute("DROP INDEX idx_conversations_organization")
    for name, column in PARTIAL.items():
        _rebuild(name, column, partial=True)


def downgrade() -> None:
    for name, column in PARTIAL.items():
        _rebuild(name, column, partial=False)
    op.execute("CREATE INDEX idx_conversations_organization ON conversations (organization_id)")
    op.execute("CREATE INDEX idx_campaign_recipients_campaign ON campaign_recipients (campaign_id)")
    op.execute("CREATE INDEX idx_campaign_recipients_wamid ON campaign_recipients (whatsapp_message_id) "
               "WHERE whatsapp_message_id IS NOT NULL")
