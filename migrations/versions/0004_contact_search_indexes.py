"""Indexes for contact search (`GET /contacts?q=`) beyond SCHEMA.md's
``idx_contacts_search``, whose document (``name || ' ' || email``) is NULL for a
contact without a name and holds no phone number:

- ``idx_contacts_unnamed_search``: GIN, Portuguese, on the e-mail and phone
  numbers of contacts WHERE name IS NULL (a small partial index);
- ``idx_contacts_phone_search``: GIN, 'simple', on every contact's phone
  numbers (``whatsapp_id``, ``phone``) as digit strings, each also without its
  first 2 and first 4 digits (country code, then area code of a Brazilian
  number), for prefix queries.

The expressions are spelled as PostgreSQL reflects them back; they must stay
equal to `api.db.models.contact_unnamed_search_sql` / `contact_phone_search_sql`
(the queries use those, and the schema test compares models and migrations).
Built CONCURRENTLY: contacts are written by every inbound message, and a plain
CREATE INDEX would block those writes for the whole build.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _phone_forms() -> list[str]:
    forms = []
    for column in ("whatsapp_id", "phone"):
        digits = (f"regexp_replace(COALESCE({column}, ''::character varying)::text, "
                  "'[^0-9]'::text, ''::text, 'g'::text)")
        forms += [digits, f"substr({digits}, 3)", f"substr({digits}, 5)"]
    return forms


def _words(parts: list[str]) -> str:
    expr = parts[0]
    for part in parts[1:]:
        expr = f"(({expr} || ' '::text) || {part})"
    return expr[1:-1] if len(parts) > 1 else expr  # no parentheses around the whole


EMAIL = "COALESCE(email, ''::character varying)::text"
UNNAMED_SEARCH = f"to_tsvector('portuguese'::regconfig, {_words([EMAIL, *_phone_forms()])})"
PHONE_SEARCH = f"to_tsvector('simple'::regconfig, {_words(_phone_forms())})"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index("idx_contacts_unnamed_search", "contacts", [sa.literal_column(UNNAMED_SEARCH)],
                        unique=False, postgresql_using="gin", postgresql_where=sa.text("name IS NULL"),
                        postgresql_concurrently=True)
        op.create_index("idx_contacts_phone_search", "contacts", [sa.literal_column(PHONE_SEARCH)],
                        unique=False, postgresql_using="gin", postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("idx_contacts_phone_search", table_name="contacts", postgresql_concurrently=True)
        op.drop_index("idx_contacts_unnamed_search", table_name="contacts", postgresql_concurrently=True)
