"""A campaign recipient's ``delivered`` and ``read`` rewrite no index entry (HOT updates).

Every message of a campaign updates its recipient four times: claimed, sent,
delivered, read. The last two change only ``status`` and a timestamp, yet
PostgreSQL wrote a new entry in each of the table's nine indexes for each,
because two indexes named ``status``: ``idx_campaign_recipients_status``
(``campaign_id, status``) and the runner's ``idx_campaign_recipients_pending``
(its predicate). An update that changes no indexed column, and finds room on
its row's page, is a heap-only tuple (HOT) update: no index is written.

- ``idx_campaign_recipients_pending`` keeps its columns; its predicate becomes
  ``message_id IS NULL AND skip_reason IS NULL`` (a recipient leaves the unclaimed
  pending state only by being claimed, which sets ``message_id``, or skipped,
  which sets ``skip_reason``; queries keep ``status = 'pending'`` too).
- ``idx_campaign_recipients_status`` is dropped: the counts and filters by status
  read the campaign's rows through ``idx_campaign_recipients_campaign``.
- ``fillfactor = 70``: the new version of a row has room on its own page.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0021"
down_revision: Union[str, Sequence[str], None] = "0020"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

FILLFACTOR = 70


def upgrade() -> None:
    op.execute("DROP INDEX idx_campaign_recipients_status")
    op.execute("DROP INDEX idx_campaign_recipients_pending")
    op.execute("CREATE INDEX idx_campaign_recipients_pending ON campaign_recipients (campaign_id, id) "
               "WHERE message_id IS NULL AND skip_reason IS NULL")
    op.execute(f"ALTER TABLE campaign_recipients SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    op.execute("ALTER TABLE campaign_recipients RESET (fillfactor)")
    op.execute("DROP INDEX idx_campaign_recipients_pending")
    op.execute("CREATE INDEX idx_campaign_recipients_pending ON campaign_recipients (campaign_id, id) "
               "WHERE status = 'pending' AND message_id IS NULL")
    op.execute("CREATE INDEX idx_campaign_recipients_status ON campaign_recipients (campaign_id, status)")
