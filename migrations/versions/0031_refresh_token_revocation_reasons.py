"""Revoked refresh tokens say why in ``expires_at``: equal to ``revoked_at`` when
their sessions were ended, earlier when logged out, later when rotated.

The rotation grace (api/auth/refresh.py) gives a token rotated moments ago a new
pair; a token whose sessions were ended or that was logged out must never get
one. Before, a revocation that ended sessions left ``expires_at`` at the
smaller of the two (so an already-expired token's stayed earlier than
``revoked_at``), and logout left ``expires_at`` untouched. Ended and
already-expired rows take ``expires_at = revoked_at`` here, which they read as
before: "ended". Logged-out rows cannot be told from rotated ones; revoked
before this migration, they are past the grace (30 s) once it has run, so they
are the reuse alarm, as before (during a rolling deploy, a logout an older
server writes reads as a rotation for 30 s).

Revision ID: 0031
Revises: 0030
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0031"
down_revision: Union[str, Sequence[str], None] = "0030"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("UPDATE refresh_tokens SET expires_at = revoked_at"
               " WHERE revoked AND revoked_at IS NOT NULL AND expires_at < revoked_at")


def downgrade() -> None:
    pass  # the earlier code reads ended rows the same; a logged-out row as ended, not as the alarm
