"""Why PyTake paused a campaign, on the campaign: ``campaigns.pause_reason``.

PyTake pauses a campaign itself when it cannot go on: its number was
deactivated or deleted, its template stopped being sendable (Meta paused,
disabled or rejected it; Meta refused it on a send), the plan no longer allows
a scheduled one when it is due, or its audience turned out empty. The reason
went only into the ``campaign.paused`` event and the log: the API and the web
app showed "paused", and a user could not tell why their campaign stopped or
what to fix before resuming it.

``pause_reason`` holds that reason while the campaign is paused by PyTake
(``api.campaigns.control.paused_by_pytake`` sets it in its pause statement);
NULL otherwise: a user's pause (the user knows why), and every other transition
(resume, cancel) clears it. A campaign paused before this migration keeps NULL.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0026"
down_revision: Union[str, Sequence[str], None] = "0025"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("ALTER TABLE campaigns ADD COLUMN pause_reason TEXT")


def downgrade() -> None:
    op.execute("ALTER TABLE campaigns DROP COLUMN pause_reason")
