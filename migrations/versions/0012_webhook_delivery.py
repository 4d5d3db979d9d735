"""Outbound webhooks that deliver: delivery state, retries, auto-disable, integrations' hooks.

`webhook_deliveries` becomes one row per (webhook, event): ``state``
(pending -> delivered, or retrying -> ... -> dead), ``next_attempt_at``,
``attempt_number`` (attempts made so far) and ``attempts`` (every attempt:
status code, response excerpt, duration, error, when). ``event_id`` with the
unique (webhook_id, event_id) makes the dispatcher idempotent;
``ordering_key`` keeps one conversation's deliveries in event order.

`webhooks` gains the auto-disable bookkeeping (``failure_threshold``,
``consecutive_failures``, ``disabled_reason``, ``disabled_at``) and
``integration_id``: a Zapier/webhook/custom_api integration's subscriptions
are webhooks rows it owns, delivered by the same machinery.
max_retries defaults to 8 and retry_delay_seconds to 30 (30 s, 2 m, 10 m,
30 m, 1 h, 3 h, 6 h, 12 h: docs/events.md).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0012"
down_revision: Union[str, Sequence[str], None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

LIVE = "state IN ('pending', 'retrying')"


def upgrade() -> None:
    op.execute("ALTER TABLE webhooks ALTER COLUMN max_retries SET DEFAULT 8, "
               "ALTER COLUMN retry_delay_seconds SET DEFAULT 30")
    op.execute("UPDATE webhooks SET max_retries = 8, retry_delay_seconds = 30 "
               "WHERE max_retries = 3 AND retry_delay_seconds = 60")
    op.execute("""
        ALTER TABLE webhooks
          ADD COLUMN failure_threshold INTEGER NOT NULL DEFAULT 50,
          ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0,
          ADD COLUMN disabled_reason TEXT,
          ADD COLUMN disabled_at TIMESTAMP WITH TIME ZONE,
          ADD COLUMN integration_id UUID
            CONSTRAINT webhooks_integration_id_fkey REFERENCES integrations(id) ON DELETE CASCADE""")
    op.execute("CREATE INDEX idx_webhooks_integration ON webhooks (integration_id) WHERE integration_id IS NOT NULL")
    op.execute("""
        ALTER TABLE webhook_deliveries
          ADD COLUMN event_id BIGINT,
          ADD COLUMN ordering_key UUID,
          ADD COLUMN state VARCHAR(20) NOT NULL DEFAULT 'pending'
            CONSTRAINT webhook_deliveries_state_check
            CHECK (state IN ('pending', 'retrying', 'delivered', 'dead')),
          ADD COLUMN next_attempt_at TIMESTAMP WITH TIME ZONE DEFAULT now(),
          ADD COLUMN attempts JSONB NOT NULL DEFAULT '[]'::jsonb,
          ADD COLUMN updated_at TIMESTAMP WITH TIME ZONE DEFAULT now(),
          ADD CONSTRAINT webhook_deliveries_webhook_id_event_id_key UNIQUE (webhook_id, event_id)""")
    # rows from before: attempts already made, nothing left to do
    op.execute("UPDATE webhook_deliveries SET state = CASE WHEN success THEN 'delivered' ELSE 'dead' END")
    op.execute(f"CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE {LIVE}")
    op.execute("CREATE INDEX idx_webhook_deliveries_order ON webhook_deliveries "
               f"(webhook_id, ordering_key, event_id) WHERE {LIVE}")


def downgrade() -> None:
    op.drop_index("idx_webhook_deliveries_order", "webhook_deliveries")
    op.drop_index("idx_webhook_deliveries_due", "webhook_deliveries")
    op.execute("""
        ALTER TABLE webhook_deliveries
          DROP CONSTRAINT webhook_deliveries_webhook_id_event_id_key,
          DROP COLUMN updated_at, DROP COLUMN attempts, DROP COLUMN next_attempt_at,
          DROP COLUMN state, DROP COLUMN ordering_key, DROP COLUMN event_id""")
    op.drop_index("idx_webhooks_integration", "webhooks")
    op.execute("""
        ALTER TABLE webhooks
          DROP COLUMN integration_id, DROP COLUMN disabled_at, DROP COLUMN disabled_reason,
          DROP COLUMN consecutive_failures, DROP COLUMN failure_threshold""")
    op.execute("ALTER TABLE webhooks ALTER COLUMN max_retries SET DEFAULT 3, "
               "ALTER COLUMN retry_delay_seconds SET DEFAULT 60")
