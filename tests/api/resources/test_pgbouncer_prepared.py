"""API routes (writes, lists, search, CSV import) behind a PgBouncer that keeps
prepared statements (``?pooler=pgbouncer-prepared``, tests/pgbouncer_prepared.py):
the same tests as against PostgreSQL."""

from __future__ import annotations

from tests.api.resources.test_contacts import (  # noqa: F401 - collected again here
    test_csv_import_updates_existing_contacts_merging_tags,
    test_search_matches_word_prefixes_of_name_and_email,
    test_tags_are_deduplicated_and_attributes_kept,
)
from tests.pgbouncer_prepared import database_url  # noqa: F401 - every test here goes through PgBouncer
