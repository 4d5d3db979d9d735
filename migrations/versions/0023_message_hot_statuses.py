"""An outbound message's ``delivered`` and ``read`` rewrite no index entry (HOT updates).

Every message a campaign or a bot sends is updated three times after its insert:
sent (Meta's answer: ``whatsapp_message_id``), delivered and read. The last two
change only ``status``, a timestamp and ``metadata``, yet PostgreSQL wrote a new
entry in each of the partition's five indexes for each, because two indexes
named ``status``: SCHEMA.md's ``idx_messages_status`` (``status``, outbound
only) and the outbox sender's ``idx_messages_outbox`` (its predicate). An update
that changes no indexed column, and finds room on its row's page (the partitions
have fillfactor 80, migration 0008), is a heap-only tuple (HOT) update: no
index is written. bench/campaign.py: 3 non-HOT message updates per message.

- ``idx_messages_outbox`` keeps its columns; its predicate becomes
  ``direction = 'outbound' AND whatsapp_message_id IS NULL AND failed_at IS NULL``.
  A row leaves ``pending`` only by being sent (Meta's answer or a status gives
  it its wamid) or failed (``failed_at``), and nothing makes a row pending
  again, so the index still holds exactly the rows waiting to go out. Its
  readers keep ``status = 'pending'`` and add the two conditions
  (``api.outbox.sender.WAITING``).
- ``idx_messages_status`` is dropped: its readers, the sweep of rows claimed and
  never answered, the maintenance sweep of rows whose wake-up was lost and the
  campaign runner's look for live rows waiting on its number, read
  ``idx_messages_outbox`` (pending rows only, where
  ``idx_messages_status`` held every outbound row ever sent).

- ``idx_messages_whatsapp_id`` holds only rows with a wamid (``WHERE
  whatsapp_message_id IS NOT NULL``; a lookup by wamid implies it). Its NULL
  entries, one per outbound row until its send and left behind by that update
  until VACUUM, were of no use but for a read of the waiting rows, which took
  that index for ``whatsapp_message_id IS NULL`` and walked them all (the
  runner's look: 40,210 entries, 7.4 ms, at the end of a 40,000-message campaign).

The new indexes are built as migration 0006 built the outbox's, without
blocking writes, then each old one is dropped and the new one takes its names.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: Union[str, Sequence[str], None] = "0022"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OUTBOX, WHATSAPP_ID = "idx_messages_outbox", "idx_messages_whatsapp_id"
OUTBOX_COLUMNS, WHATSAPP_ID_COLUMNS = "(conversation_id, created_at)", "(whatsapp_message_id)"
WAITING = "direction = 'outbound' AND whatsapp_message_id IS NULL AND failed_at IS NULL"
PENDING = "direction = 'outbound' AND status = 'pending'"  # migration 0006's predicate
HAS_WAMID = "whatsapp_message_id IS NOT NULL"


def _partitions() -> list[str]:
    return list(op.get_bind().execute(sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'messages'::regclass ORDER BY c.relname")).scalars())


def _attached(index: str) -> dict[str, str]:
    """Each partition's index attached to the partitioned ``index``: {partition: its name}."""
    return dict(op.get_bind().execute(sa.text(
        "SELECT t.relname, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_index x ON x.indexrelid = c.oid JOIN pg_class t ON t.oid = x.indrelid "
        "WHERE i.inhparent = CAST(:i AS regclass)"), {"i": index}).all())


def _replace_index(name: str, columns: str, where: str | None, suffix: str) -> None:
    """The index ``name`` on ``columns`` with the predicate ``where`` (None: none): built beside
    the old one, each partition's CONCURRENTLY, then swapped in (one short lock to drop the
    old) under the old names."""
    building, predicate = f"{name}_{suffix}", f" WHERE {where}" if where else ""
    names = _attached(name)
    op.execute(f"CREATE INDEX {building} ON ONLY messages {columns}{predicate}")
    partitions = _partitions()
    with op.get_context().autocommit_block():
        for partition in partitions:
            index = f"{partition}_{suffix}_idx"
            op.execute(f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{index}" ON "{partition}" {columns}{predicate}')
            op.execute(f'ALTER INDEX {building} ATTACH PARTITION "{index}"')
    op.execute(f"DROP INDEX {name}")  # and each partition's
    op.execute(f"ALTER INDEX {building} RENAME TO {name}")
    for partition in partitions:
        if partition in names:
            op.execute(f'ALTER INDEX "{partition}_{suffix}_idx" RENAME TO "{names[partition]}"')


def upgrade() -> None:
    _replace_index(OUTBOX, OUTBOX_COLUMNS, WAITING, "waiting")
    _replace_index(WHATSAPP_ID, WHATSAPP_ID_COLUMNS, HAS_WAMID, "wamid")
    op.execute("DROP INDEX idx_messages_status")  # and each partition's


def downgrade() -> None:
    op.execute("CREATE INDEX idx_messages_status ON messages (status) WHERE direction = 'outbound'")
    _replace_index(WHATSAPP_ID, WHATSAPP_ID_COLUMNS, None, "wamid")
    _replace_index(OUTBOX, OUTBOX_COLUMNS, PENDING, "pending")
