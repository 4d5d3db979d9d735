"""contacts.bsuid: the business-scoped user id Meta identifies a WhatsApp user by.

A user who adopts a username may hide their phone number: webhooks then carry
only ``from_user_id`` / ``contacts[].user_id``. The contact keeps its
``whatsapp_id`` NOT NULL (it holds the BSUID until a message brings the phone)
and gains ``bsuid``, unique per organization (NULLs apart), so a later message
with both the phone and the BSUID finds the same contact.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0013"
down_revision: Union[str, Sequence[str], None] = "0012"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("ALTER TABLE contacts ADD COLUMN bsuid VARCHAR(255)")
    op.execute("ALTER TABLE contacts ADD CONSTRAINT uq_contacts_organization_bsuid UNIQUE (organization_id, bsuid)")


def downgrade() -> None:
    op.execute("ALTER TABLE contacts DROP CONSTRAINT uq_contacts_organization_bsuid")
    op.execute("ALTER TABLE contacts DROP COLUMN bsuid")
