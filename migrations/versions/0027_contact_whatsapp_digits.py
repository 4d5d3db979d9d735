"""A contact's ``whatsapp_id`` written with a leading + becomes Meta's digits.

Before commit e0bf292 the API and the contacts import stored ``whatsapp_id``
as written, and accepted ``+5511987654321``. Meta's webhooks name that
customer ``5511987654321`` (``wa_id``: digits, country code first), so the
customer's first message made a second contact, and the two lived apart: a
campaign chose both by their tags, and the customer's opt-out word reached
only the one their messages arrive for. Since then the API stores digits,
but the rows written before stayed: no lookup finds them by the number any
more, and creating the same number again made yet another contact.

This migration, per organization:

- a ``+`` contact with no digits twin gets the digits (``whatsapp_id`` only:
  ``phone`` is a display field and keeps its spelling);
- a ``+`` contact with a digits twin is merged into the twin, the contact
  Meta's messages arrive for:
  - its conversations, its campaign recipients (except in a campaign the twin
    is a recipient of too: that history stays with the ``+`` contact) and its
    PostgreSQL log entries (``message_logs``, ``conversation_logs``) move to
    the twin;
  - the twin keeps its own values and takes the other's where it has none
    (name, e-mail, phone, WhatsApp profile, business-scoped user id); tags
    are the union, attributes the twin's over the other's, notes both
    (joined by a blank line when they differ), counters summed, the earliest
    ``created_at`` and the latest ``last_message_at``;
  - blocked if either was;
  - opted out if either was, unless the other opted in after that opt-out
    (``opt_in_date`` later than ``opt_out_date``; an opt-out with no date is
    taken as the latest): a customer who said STOP to one of the two must
    not get the next campaign through the other;
  - the twin is deleted only when both were;
  - the ``+`` contact is then soft-deleted (``deleted_at``), keeping its id
    for what still names it (a campaign's recipient row, events already
    delivered).

Not touched: log entries in a MongoDB log store (``MONGODB_URL``) keep the
merged contact's id, and no ``contact.*`` event is written for the merge.
Downgrade changes nothing: the merge cannot be told apart afterwards.

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0027"
down_revision: Union[str, Sequence[str], None] = "0026"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_PLUS = r"c.whatsapp_id ~ '^\+[0-9]+$'"

# (the + contact, its digits twin); the + contact's bsuid moves to a twin that has none
MERGES = rf"""
CREATE TEMPORARY TABLE contact_merges AS
SELECT c.id AS merged, k.id AS kept, CASE WHEN k.bsuid IS NULL THEN c.bsuid END AS moved_bsuid
  FROM contacts c
  JOIN contacts k ON k.organization_id = c.organization_id AND k.whatsapp_id = substr(c.whatsapp_id, 2)
 WHERE {_PLUS}
"""

# the business-scoped user id is unique per organization: free it before the twin takes it
FREE_BSUID = """
UPDATE contacts SET bsuid = NULL
 WHERE id IN (SELECT merged FROM contact_merges WHERE moved_bsuid IS NOT NULL)
"""

# k: the twin (kept), c: the + contact (merged)
MERGE_FIELDS = """
UPDATE contacts k SET
  bsuid = COALESCE(k.bsuid, m.moved_bsuid),
  whatsapp_name = COALESCE(k.whatsapp_name, c.whatsapp_name),
  whatsapp_profile_pic_url = COALESCE(k.whatsapp_profile_pic_url, c.whatsapp_profile_pic_url),
  name = COALESCE(k.name, c.name),
  email = COALESCE(k.email, c.email),
  phone = COALESCE(k.phone, c.phone),
  tags = ARRAY(SELECT t FROM unnest(COALESCE(k.tags, '{}') || COALESCE(c.tags, '{}')) WITH ORDINALITY AS u(t, n)
                GROUP BY t ORDER BY min(n)),
  attributes = COALESCE(c.attributes, '{}') || COALESCE(k.attributes, '{}'),
  notes = CASE WHEN NULLIF(c.notes, '') IS NULL OR c.notes = k.notes THEN k.notes
               WHEN NULLIF(k.notes, '') IS NULL THEN c.notes
               ELSE k.notes || E'\\n\\n' || c.notes END,
  is_blocked = COALESCE(k.is_blocked, false) OR COALESCE(c.is_blocked, false),
  opt_in = CASE
    WHEN k.opt_in IS NOT FALSE AND c.opt_in IS NOT FALSE THEN k.opt_in
    WHEN k.opt_in IS FALSE AND c.opt_in IS FALSE THEN false
    WHEN k.opt_in IS FALSE THEN COALESCE(c.opt_in_date > COALESCE(k.opt_out_date, 'infinity'), false)
    ELSE COALESCE(k.opt_in_date > COALESCE(c.opt_out_date, 'infinity'), false)
  END,
  opt_in_date = GREATEST(k.opt_in_date, c.opt_in_date),
  opt_out_date = GREATEST(k.opt_out_date, c.opt_out_date),
  last_message_at = GREATEST(k.last_message_at, c.last_message_at),
  total_conversations = COALESCE(k.total_conversations, 0) + COALESCE(c.total_conversations, 0),
  total_messages = COALESCE(k.total_messages, 0) + COALESCE(c.total_messages, 0),
  created_at = LEAST(k.created_at, c.created_at),
  deleted_at = CASE WHEN c.deleted_at IS NULL THEN NULL ELSE k.deleted_at END,
  updated_at = now()
  FROM contact_merges m JOIN contacts c ON c.id = m.merged
 WHERE k.id = m.kept
"""

MOVE_REFERENCES = [
    "UPDATE conversations t SET contact_id = m.kept FROM contact_merges m WHERE t.contact_id = m.merged",
    # a campaign both were recipients of keeps both rows: the + contact's stays its own
    """UPDATE campaign_recipients t SET contact_id = m.kept FROM contact_merges m
        WHERE t.contact_id = m.merged AND NOT EXISTS (
          SELECT 1 FROM campaign_recipients o WHERE o.campaign_id = t.campaign_id AND o.contact_id = m.kept)""",
    "UPDATE message_logs t SET contact_id = m.kept FROM contact_merges m WHERE t.contact_id = m.merged",
    "UPDATE conversation_logs t SET contact_id = m.kept FROM contact_merges m WHERE t.contact_id = m.merged",
]

RETIRE_MERGED = """
UPDATE contacts c SET deleted_at = COALESCE(c.deleted_at, now()), updated_at = now()
  FROM contact_merges m WHERE c.id = m.merged
"""

# a + contact with no twin (the merged ones still have theirs) takes the digits
TO_DIGITS = rf"""
UPDATE contacts c SET whatsapp_id = substr(c.whatsapp_id, 2), updated_at = now()
 WHERE {_PLUS} AND NOT EXISTS (
   SELECT 1 FROM contacts k WHERE k.organization_id = c.organization_id AND k.whatsapp_id = substr(c.whatsapp_id, 2))
"""


def upgrade() -> None:
    for statement in (MERGES, FREE_BSUID, MERGE_FIELDS, *MOVE_REFERENCES, RETIRE_MERGED, TO_DIGITS,
                      "DROP TABLE contact_merges"):
        op.execute(statement)


def downgrade() -> None:
    """Nothing: a merged contact cannot be told apart from its twin's own rows afterwards."""
