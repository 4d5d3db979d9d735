"""The log store's PostgreSQL tables (the embedded default; MongoDB with MONGODB_URL).

docs/SCHEMA.md's MongoDB collections as tables, partitioned by time so that
retention drops whole partitions (docs/logs.md):

- `message_logs`: one row per message, monthly range partitions on
  ``created_at`` (kept a year); ``text`` (the message's words) with a
  ``search`` tsvector (config ``simple``: every language alike) and its GIN index;
- `conversation_logs`: one row per bot session (no lifetime, not partitioned);
- `webhook_logs`: one row per outbound webhook attempt, daily partitions (90 days);
- `api_request_logs`: one row per API request, daily partitions (30 days).

Partitions are created by `api.logstore.partitions` (ahead of time by the
maintenance of the log feeder, and on demand for a batch's rows); no DEFAULT
partition, so a partition past its lifetime can always be dropped whole.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0017"
down_revision: Union[str, Sequence[str], None] = "0016"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UP = r"""
CREATE TABLE message_logs (
    message_id UUID NOT NULL,
    organization_id UUID NOT NULL,
    conversation_id UUID,
    contact_id UUID,
    direction VARCHAR(20),
    sender_type VARCHAR(20),
    type VARCHAR(50),
    content JSONB NOT NULL DEFAULT '{}',
    text TEXT,
    search TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', coalesce(text, ''))) STORED,
    whatsapp_message_id VARCHAR(255),
    whatsapp_metadata JSONB NOT NULL DEFAULT '{}',
    status VARCHAR(50),
    status_history JSONB NOT NULL DEFAULT '[]',
    sentiment VARCHAR(20),
    intent VARCHAR(255),
    entities JSONB,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    indexed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    PRIMARY KEY (message_id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX idx_message_logs_organization ON message_logs (organization_id, created_at DESC);
CREATE INDEX idx_message_logs_conversation ON message_logs (conversation_id, created_at DESC);
CREATE INDEX idx_message_logs_contact ON message_logs (contact_id, created_at DESC);
CREATE INDEX idx_message_logs_whatsapp_id ON message_logs (whatsapp_message_id);
CREATE INDEX idx_message_logs_search ON message_logs USING GIN (search);

CREATE TABLE conversation_logs (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    conversation_id UUID NOT NULL,
    contact_id UUID,
    session_start TIMESTAMP WITH TIME ZONE NOT NULL,
    session_end TIMESTAMP WITH TIME ZONE,
    duration_seconds INTEGER,
    message_count INTEGER NOT NULL DEFAULT 0,
    bot_message_count INTEGER NOT NULL DEFAULT 0,
    human_message_count INTEGER NOT NULL DEFAULT 0,
    flow_path JSONB NOT NULL DEFAULT '[]',
    ai_prompts JSONB NOT NULL DEFAULT '[]',
    handoff_occurred BOOLEAN NOT NULL DEFAULT false,
    handoff_reason TEXT,
    handoff_timestamp TIMESTAMP WITH TIME ZONE,
    agent_id UUID,
    resolved BOOLEAN,
    resolution_time_seconds INTEGER,
    satisfaction_rating INTEGER,
    outcome VARCHAR(50),
    last_event_id BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_conversation_logs_organization ON conversation_logs (organization_id, session_start DESC);
CREATE INDEX idx_conversation_logs_contact ON conversation_logs (contact_id, session_start DESC);
CREATE INDEX idx_conversation_logs_conversation ON conversation_logs (conversation_id, session_start DESC);

CREATE TABLE webhook_logs (
    id UUID NOT NULL,
    organization_id UUID NOT NULL,
    webhook_id UUID NOT NULL,
    delivery_id UUID,
    event_type VARCHAR(100),
    url TEXT,
    method VARCHAR(10),
    headers JSONB NOT NULL DEFAULT '{}',
    payload JSONB,
    status_code INTEGER,
    response_headers JSONB,
    response_body TEXT,
    response_time_ms INTEGER,
    success BOOLEAN NOT NULL DEFAULT false,
    error_message TEXT,
    attempt_number INTEGER,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX idx_webhook_logs_organization ON webhook_logs (organization_id, created_at DESC);
CREATE INDEX idx_webhook_logs_webhook ON webhook_logs (webhook_id, created_at DESC);
CREATE INDEX idx_webhook_logs_success ON webhook_logs (success);

CREATE TABLE api_request_logs (
    id UUID NOT NULL,
    organization_id UUID,
    user_id UUID,
    method VARCHAR(10) NOT NULL,
    path TEXT NOT NULL,
    query_params JSONB NOT NULL DEFAULT '{}',
    headers JSONB NOT NULL DEFAULT '{}',
    body JSONB,
    status_code INTEGER NOT NULL,
    response_time_ms DOUBLE PRECISION,
    ip_address VARCHAR(64),
    user_agent TEXT,
    success BOOLEAN NOT NULL,
    error_message TEXT,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX idx_api_request_logs_organization ON api_request_logs (organization_id, created_at DESC);
CREATE INDEX idx_api_request_logs_user ON api_request_logs (user_id, created_at DESC);
CREATE INDEX idx_api_request_logs_path ON api_request_logs (path, method);
"""

DOWN = """
DROP TABLE IF EXISTS api_request_logs;
DROP TABLE IF EXISTS webhook_logs;
DROP TABLE IF EXISTS conversation_logs;
DROP TABLE IF EXISTS message_logs;
"""


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


def upgrade() -> None:
    for statement in _statements(UP):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(DOWN):
        op.execute(statement)
