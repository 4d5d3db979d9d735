"""Cheaper events and webhook claims: one index on `events`, claims read in order.

- `events`: the primary key becomes ``(txid, id)``, the order consumers read
  in, replacing both ``events_pkey (id)`` and ``idx_events_txid (txid, id)``:
  one b-tree insert per event on the message path instead of two. Nothing
  looks an event up by ``id`` alone (ids stay unique: an identity column).
- `webhook_deliveries`: ``idx_webhook_deliveries_due`` becomes
  ``(next_attempt_at, event_id)``, the claim's ``ORDER BY``: a claim stops
  after its ``LIMIT`` claimable rows instead of sorting every due row of a
  dispatch batch (they share one ``next_attempt_at``).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0015"
down_revision: Union[str, Sequence[str], None] = "0014"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

LIVE = "state IN ('pending', 'retrying')"


def upgrade() -> None:
    op.execute("ALTER TABLE events DROP CONSTRAINT events_pkey")
    op.execute("DROP INDEX idx_events_txid")
    op.execute("ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (txid, id)")
    op.execute("DROP INDEX idx_webhook_deliveries_due")
    op.execute(f"CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries (next_attempt_at, event_id) WHERE {LIVE}")


def downgrade() -> None:
    op.execute("DROP INDEX idx_webhook_deliveries_due")
    op.execute(f"CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE {LIVE}")
    op.execute("ALTER TABLE events DROP CONSTRAINT events_pkey")
    op.execute("ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (id)")
    op.execute("CREATE INDEX idx_events_txid ON events (txid, id)")
