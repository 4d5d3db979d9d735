"""A template's header may be a LOCATION (``whatsapp_templates.header_type``).

Meta's templates have five header formats: TEXT, IMAGE, VIDEO, DOCUMENT and
LOCATION. SCHEMA.md's check lists four, so a synced template with a location
header was stored without one, and every send of it went out without the
header's parameter: Meta refused each with 132000. The row now keeps LOCATION,
and a send gives the header's place (``header_location``: latitude,
longitude, name, address), checked before Meta is called.

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0028"
down_revision: Union[str, Sequence[str], None] = "0027"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_CHECK = "whatsapp_templates_header_type_check"


def upgrade() -> None:
    op.execute(f"ALTER TABLE whatsapp_templates DROP CONSTRAINT {_CHECK}")
    op.execute(f"ALTER TABLE whatsapp_templates ADD CONSTRAINT {_CHECK} "
               "CHECK (header_type IN ('TEXT', 'IMAGE', 'VIDEO', 'DOCUMENT', 'LOCATION'))")


def downgrade() -> None:
    """A LOCATION header goes back to no header, as the sync stored it before."""
    op.execute("UPDATE whatsapp_templates SET header_type = NULL WHERE header_type = 'LOCATION'")
    op.execute(f"ALTER TABLE whatsapp_templates DROP CONSTRAINT {_CHECK}")
    op.execute(f"ALTER TABLE whatsapp_templates ADD CONSTRAINT {_CHECK} "
               "CHECK (header_type IN ('TEXT', 'IMAGE', 'VIDEO', 'DOCUMENT'))")
