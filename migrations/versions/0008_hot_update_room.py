"""Leave room in the pages of the rows every message updates (fillfactor).

Each inbound message updates its conversation twice (the webhook, the flow
step), its contact once, and each message row is updated one to three times
soon after it is written (processed, claimed, sent, statuses). An update that
changes no indexed column can stay on its page (a HOT update: no new index
entries), but only when the page has room; tables filled to 100% rarely do.
`conversations` has 13 indexes and `contacts` 10 (5 GIN), so every update
that leaves its page writes an entry into each.

- `conversations`: fillfactor 70, `contacts`: 80;
- `messages` partitions: 80, the existing ones and those
  `pytake_create_message_partition` creates from now on.

Only pages written from now on keep the room; existing pages fill up as
before until they are rewritten (VACUUM FULL / pg_repack), which nobody has
to do: their rows are the old, rarely updated ones.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Sequence, Union

from alembic import op

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CONVERSATIONS, CONTACTS, MESSAGES = 70, 80, 80


def _create_partition_function() -> str:
    spec = importlib.util.spec_from_file_location(
        "pytake_migration_0002", Path(__file__).with_name("0002_message_partitions.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.CREATE_PARTITION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


# the two ways 0002's function creates a partition
_ATTACHED = "'CREATE TABLE %I.%I PARTITION OF %I.messages FOR VALUES FROM (%L) TO (%L)'"
_MOVED = "'CREATE TABLE %I.%I (LIKE %I.messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'"


def _with_fillfactor(sql: str) -> str:
    return sql[:-1] + f" WITH (fillfactor = {MESSAGES})'"


def _set_partitions(option: str) -> None:
    op.execute(f"""DO $$ DECLARE r record; BEGIN
        FOR r IN SELECT inhrelid::regclass AS name FROM pg_inherits WHERE inhparent = 'messages'::regclass LOOP
            EXECUTE format('ALTER TABLE %s {option}', r.name);
        END LOOP; END $$""")


def upgrade() -> None:
    function = _create_partition_function()
    assert _ATTACHED in function and _MOVED in function
    op.execute(function.replace(_ATTACHED, _with_fillfactor(_ATTACHED), 1)
                       .replace(_MOVED, _with_fillfactor(_MOVED), 1))
    op.execute(f"ALTER TABLE conversations SET (fillfactor = {CONVERSATIONS})")
    op.execute(f"ALTER TABLE contacts SET (fillfactor = {CONTACTS})")
    _set_partitions(f"SET (fillfactor = {MESSAGES})")


def downgrade() -> None:
    op.execute(_create_partition_function())
    op.execute("ALTER TABLE conversations RESET (fillfactor)")
    op.execute("ALTER TABLE contacts RESET (fillfactor)")
    _set_partitions("RESET (fillfactor)")
