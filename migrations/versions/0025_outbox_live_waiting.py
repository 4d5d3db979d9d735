"""The campaign runner's look for live traffic reads each dead outbox entry once.

Before each round, a campaign's runner asks whether conversation rows of its
number wait in the outbox (api/campaigns/runner.py: live replies go first). The
question reads ``idx_messages_outbox``, which also holds an entry for every
campaign message between its claim and its ``sent``: the update to ``sent`` is
not HOT (the row leaves the index's predicate), so its old entry stays until
VACUUM. The planner answered with a bitmap scan, which never marks the entries
it finds dead: every round read every campaign message sent since the last
VACUUM, and visited its heap page (bench/campaign.py, 20,000 recipients: 1,600
entries and 800-1,600 heap pages a round, 2.5-7.7 ms; 48 ms once 5,000 messages
had gone). A plain index scan marks them dead the first time (``kill_prior_tuple``)
and skips them after that: 0.05 ms.

``outbox_live_waiting(number)`` asks that question with bitmap scans off; a
PL/pgSQL function keeps its plan for the session (the generic one: the
partitions' planning took 2 to 7 ms).

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0025"
down_revision: Union[str, Sequence[str], None] = "0024"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# api.outbox.WAITING, unclaimed, not a campaign's, due now, and sendable (a template, or inside the window)
LIVE_WAITING = """
CREATE FUNCTION outbox_live_waiting(number uuid) RETURNS boolean LANGUAGE plpgsql STABLE
  SET enable_bitmapscan = off SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  RETURN EXISTS (
    SELECT 1 FROM messages m JOIN conversations c ON c.id = m.conversation_id
     WHERE m.direction = 'outbound' AND m.status = 'pending' AND m.whatsapp_message_id IS NULL
       AND m.failed_at IS NULL AND NOT (m.metadata ? 'claim_token')
       AND NOT (m.metadata ? 'campaign_id') AND c.whatsapp_number_id = number
       AND NOT (m.metadata ? 'next_attempt_at' AND (m.metadata->>'next_attempt_at')::timestamptz > now())
       AND (m.type = 'template' OR c.twenty_four_hour_window_expires_at > now()));
END $$"""


def upgrade() -> None:
    op.execute(LIVE_WAITING)


def downgrade() -> None:
    op.execute("DROP FUNCTION outbox_live_waiting(uuid)")
