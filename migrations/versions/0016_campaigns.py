"""Campaigns that send: the number and flow of a campaign, skipped recipients, live counters.

- ``campaigns.whatsapp_number_id`` (the number it sends from; NULL: its
  template's number) and ``campaigns.flow_id`` (the flow a reply to the
  campaign starts; NULL: the chatbot's rules), ``skipped_count``.
- ``organizations.monthly_campaign_limit`` (campaigns started per month; NULL: unlimited).
- ``campaign_recipients``: status ``skipped`` (never sent: opted out, cancelled)
  with ``skip_reason``; ``replied_at`` (the contact's first reply to its message); indexes on
  ``contact_id`` (an opt-out skips the contact's pending recipients), on ``whatsapp_message_id`` and ``message_id``
  (status webhooks find recipients by them) and a partial index on the pending
  ones in id order (the runner's claim).
- ``campaign_recipient_counters``: an AFTER UPDATE statement trigger (transition
  tables) that adds to the campaign's counters, in the statement that changed
  its recipients, the recipients that reached sent/delivered/read/failed/skipped/replied
  (a timestamp or the status set for the first time): counters equal counts
  of recipients at every commit, never go backwards, and a redelivered status
  (nothing changes) adds nothing.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0016"
down_revision: Union[str, Sequence[str], None] = "0015"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COUNTERS = """
CREATE FUNCTION campaign_recipient_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE campaigns c SET
    sent_count = c.sent_count + d.sent, delivered_count = c.delivered_count + d.delivered,
    read_count = c.read_count + d.read, failed_count = c.failed_count + d.failed,
    skipped_count = c.skipped_count + d.skipped, replied_count = c.replied_count + d.replied
    FROM (SELECT n.campaign_id,
                 count(*) FILTER (WHERE o.sent_at IS NULL AND n.sent_at IS NOT NULL) AS sent,
                 count(*) FILTER (WHERE o.delivered_at IS NULL AND n.delivered_at IS NOT NULL) AS delivered,
                 count(*) FILTER (WHERE o.read_at IS NULL AND n.read_at IS NOT NULL) AS read,
                 count(*) FILTER (WHERE o.failed_at IS NULL AND n.failed_at IS NOT NULL) AS failed,
                 count(*) FILTER (WHERE o.status IS DISTINCT FROM 'skipped' AND n.status = 'skipped') AS skipped,
                 count(*) FILTER (WHERE o.replied_at IS NULL AND n.replied_at IS NOT NULL) AS replied
            FROM new_rows n JOIN old_rows o ON o.id = n.id
           GROUP BY n.campaign_id) d
   WHERE c.id = d.campaign_id AND d.sent + d.delivered + d.read + d.failed + d.skipped + d.replied > 0;
  RETURN NULL;
END $$"""
TRIGGER = """
CREATE TRIGGER campaign_recipient_counters AFTER UPDATE ON campaign_recipients
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION campaign_recipient_counters()
"""


def upgrade() -> None:
    op.execute("""
ALTER TABLE campaigns
  ADD COLUMN whatsapp_number_id UUID REFERENCES whatsapp_numbers(id) ON DELETE SET NULL,
  ADD COLUMN flow_id UUID REFERENCES flows(id) ON DELETE SET NULL,
  ADD COLUMN skipped_count INTEGER DEFAULT 0""")
    op.execute("UPDATE campaigns SET skipped_count = 0 WHERE skipped_count IS NULL")
    op.execute("ALTER TABLE organizations ADD COLUMN monthly_campaign_limit INTEGER DEFAULT 10")
    op.execute("ALTER TABLE campaign_recipients ADD COLUMN skip_reason TEXT, ADD COLUMN replied_at TIMESTAMPTZ")
    op.execute("ALTER TABLE campaign_recipients DROP CONSTRAINT campaign_recipients_status_check")
    op.execute("ALTER TABLE campaign_recipients ADD CONSTRAINT campaign_recipients_status_check "
               "CHECK (status IN ('pending', 'sent', 'delivered', 'read', 'failed', 'skipped'))")
    op.execute("CREATE INDEX idx_campaign_recipients_wamid ON campaign_recipients (whatsapp_message_id) "
               "WHERE whatsapp_message_id IS NOT NULL")
    op.execute("CREATE INDEX idx_campaign_recipients_message ON campaign_recipients (message_id) "
               "WHERE message_id IS NOT NULL")
    op.execute("CREATE INDEX idx_campaign_recipients_contact ON campaign_recipients (contact_id)")
    op.execute("CREATE INDEX idx_campaign_recipients_pending ON campaign_recipients (campaign_id, id) "
               "WHERE status = 'pending' AND message_id IS NULL")
    op.execute(COUNTERS)
    op.execute(TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER campaign_recipient_counters ON campaign_recipients")
    op.execute("DROP FUNCTION campaign_recipient_counters()")
    op.execute("DROP INDEX idx_campaign_recipients_pending")
    op.execute("DROP INDEX idx_campaign_recipients_contact")
    op.execute("DROP INDEX idx_campaign_recipients_message")
    op.execute("DROP INDEX idx_campaign_recipients_wamid")
    op.execute("UPDATE campaign_recipients SET status = 'failed' WHERE status = 'skipped'")
    op.execute("ALTER TABLE campaign_recipients DROP CONSTRAINT campaign_recipients_status_check")
    op.execute("ALTER TABLE campaign_recipients ADD CONSTRAINT campaign_recipients_status_check "
               "CHECK (status IN ('pending', 'sent', 'delivered', 'read', 'failed'))")
    op.execute("ALTER TABLE campaign_recipients DROP COLUMN skip_reason, DROP COLUMN replied_at")
    op.execute("ALTER TABLE organizations DROP COLUMN monthly_campaign_limit")
    op.execute("ALTER TABLE campaigns DROP COLUMN skipped_count, DROP COLUMN flow_id, "
               "DROP COLUMN whatsapp_number_id")
