"""A campaign recipient whose message is deleted mid-send is failed, never claimed again.

A campaign's claim gives a pending recipient its message (``message_id``)
before the send; the sender then records it sent. If that message is deleted
in between (its conversation deleted by an agent or an admin, the contact's
conversations with it), the foreign key sets the recipient's ``message_id``
back to NULL: the recipient was pending with no message again, and the next
claim sent it the campaign a second time, though the first request may well
have reached the customer. Now a recipient losing its message while still
pending is failed as "delivery unknown" (as the sender fails a request whose
answer never came: not resent) in the same statement. A recipient already
sent, delivered, read or failed keeps its status when its message goes
(retention unlinks old months' recipients the same way).

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0029"
down_revision: Union[str, Sequence[str], None] = "0028"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

FUNCTION = """
CREATE FUNCTION campaign_recipient_message_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'pending' THEN
    NEW.status := 'failed';
    NEW.failed_at := COALESCE(NEW.failed_at, now());
    NEW.error_message := 'delivery unknown: its message was deleted (with its conversation) while it was '
                         'being sent; not sent again, as it may have reached the customer';
  END IF;
  RETURN NEW;
END $$"""

# WHEN: only the foreign key's SET NULL (or another unlinking) calls the function; the claim
# (NULL -> a message) and every status update pass by it
TRIGGER = """
CREATE TRIGGER campaign_recipient_message_gone BEFORE UPDATE OF message_id ON campaign_recipients
  FOR EACH ROW WHEN (OLD.message_id IS NOT NULL AND NEW.message_id IS NULL)
  EXECUTE FUNCTION campaign_recipient_message_gone()"""


def upgrade() -> None:
    op.execute(FUNCTION)
    op.execute(TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER campaign_recipient_message_gone ON campaign_recipients")
    op.execute("DROP FUNCTION campaign_recipient_message_gone()")
