"""Initial schema: every table, constraint and index of SCHEMA.md, plus
flow_versions and message_whatsapp_ids (see docs/data-layer.md).

Generated from api/db/models.py; `messages` is created partitioned by month,
its partitions and triggers come in 0002.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 13:02:05.154448
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('message_whatsapp_ids',
    sa.Column('whatsapp_message_id', sa.String(length=255), nullable=False),
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('message_created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('whatsapp_message_id', name=op.f('message_whatsapp_ids_pkey'))
    )
    op.create_table('organizations',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('whatsapp_business_id', sa.String(length=255), nullable=True),
    sa.Column('whatsapp_webhook_verify_token', sa.String(length=255), nullable=True),
    sa.Column('plan_type', sa.String(length=50), server_default=sa.text("'free'"), nullable=True),
    sa.Column('plan_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('max_chatbots', sa.Integer(), server_default=sa.text('1'), nullable=True),
    sa.Column('max_whatsapp_numbers', sa.Integer(), server_default=sa.text('1'), nullable=True),
    sa.Column('max_contacts', sa.Integer(), server_default=sa.text('1000'), nullable=True),
    sa.Column('max_agents', sa.Integer(), server_default=sa.text('3'), nullable=True),
    sa.Column('max_departments', sa.Integer(), server_default=sa.text('3'), nullable=True),
    sa.Column('monthly_message_limit', sa.Integer(), server_default=sa.text('1000'), nullable=True),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("plan_type IN ('free', 'starter', 'professional', 'enterprise')", name=op.f('organizations_plan_type_check')),
    sa.PrimaryKeyConstraint('id', name=op.f('organizations_pkey')),
    sa.UniqueConstraint('slug', name=op.f('organizations_slug_key'))
    )
    op.create_index('idx_organizations_slug', 'organizations', ['slug'], unique=False)
    op.create_table('contacts',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('whatsapp_id', sa.String(length=255), nullable=False),
    sa.Column('whatsapp_name', sa.String(length=255), nullable=True),
    sa.Column('whatsapp_profile_pic_url', sa.Text(), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('tags', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=True),
    sa.Column('is_blocked', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('opt_in', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('opt_in_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('opt_out_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attributes', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('total_conversations', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('total_messages', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('contacts_organization_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('contacts_pkey')),
    sa.UniqueConstraint('organization_id', 'whatsapp_id', name=op.f('contacts_organization_id_whatsapp_id_key'))
    )
    op.create_index('idx_contacts_attributes', 'contacts', ['attributes'], unique=False, postgresql_using='gin')
    op.create_index('idx_contacts_last_message', 'contacts', [sa.literal_column('last_message_at DESC')], unique=False)
    op.create_index('idx_contacts_organization', 'contacts', ['organization_id'], unique=False)
    op.create_index('idx_contacts_search', 'contacts', [sa.literal_column("to_tsvector('portuguese'::regconfig, (name::text || ' '::text) || COALESCE(email, ''::character varying)::text)")], unique=False, postgresql_using='gin')
    op.create_index('idx_contacts_tags', 'contacts', ['tags'], unique=False, postgresql_using='gin')
    op.create_index('idx_contacts_whatsapp_id', 'contacts', ['whatsapp_id'], unique=False)
    op.create_table('tags',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('color', sa.String(length=7), server_default=sa.text("'#3B82F6'"), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('tags_organization_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('tags_pkey')),
    sa.UniqueConstraint('organization_id', 'name', name=op.f('tags_organization_id_name_key'))
    )
    op.create_index('idx_tags_organization', 'tags', ['organization_id'], unique=False)
    op.create_table('users',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('email_verified', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('full_name', sa.String(length=255), nullable=False),
    sa.Column('avatar_url', sa.Text(), nullable=True),
    sa.Column('phone_number', sa.String(length=20), nullable=True),
    sa.Column('role', sa.String(length=50), server_default=sa.text("'agent'"), nullable=True),
    sa.Column('permissions', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('is_online', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_ip', postgresql.INET(), nullable=True),
    sa.Column('failed_login_attempts', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('preferences', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('super_admin', 'org_admin', 'agent', 'viewer')", name=op.f('users_role_check')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('users_organization_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('users_pkey')),
    sa.UniqueConstraint('email', name=op.f('users_email_key'))
    )
    op.create_index('idx_users_email', 'users', ['email'], unique=False)
    op.create_index('idx_users_organization', 'users', ['organization_id'], unique=False)
    op.create_index('idx_users_role', 'users', ['organization_id', 'role'], unique=False)
    op.create_table('webhooks',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('secret', sa.String(length=255), nullable=True),
    sa.Column('events', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('max_retries', sa.Integer(), server_default=sa.text('3'), nullable=True),
    sa.Column('retry_delay_seconds', sa.Integer(), server_default=sa.text('60'), nullable=True),
    sa.Column('total_deliveries', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('failed_deliveries', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('last_delivery_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_delivery_status', sa.String(length=50), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('webhooks_organization_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('webhooks_pkey'))
    )
    op.create_index('idx_webhooks_active', 'webhooks', ['is_active'], unique=False)
    op.create_index('idx_webhooks_organization', 'webhooks', ['organization_id'], unique=False)
    op.create_table('whatsapp_numbers',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('phone_number', sa.String(length=20), nullable=False),
    sa.Column('phone_number_id', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=True),
    sa.Column('whatsapp_business_account_id', sa.String(length=255), nullable=True),
    sa.Column('access_token_encrypted', sa.Text(), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('is_default', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('is_verified', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('quality_rating', sa.String(length=20), nullable=True),
    sa.Column('messaging_limit_tier', sa.String(length=50), nullable=True),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('last_synced_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("quality_rating IN ('GREEN', 'YELLOW', 'RED')", name=op.f('whatsapp_numbers_quality_rating_check')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('whatsapp_numbers_organization_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('whatsapp_numbers_pkey')),
    sa.UniqueConstraint('organization_id', 'phone_number', name=op.f('whatsapp_numbers_organization_id_phone_number_key')),
    sa.UniqueConstraint('phone_number_id', name=op.f('whatsapp_numbers_phone_number_id_key'))
    )
    op.create_index('idx_whatsapp_numbers_active', 'whatsapp_numbers', ['organization_id', 'is_active'], unique=False)
    op.create_index('idx_whatsapp_numbers_org', 'whatsapp_numbers', ['organization_id'], unique=False)
    op.create_index('idx_whatsapp_numbers_phone', 'whatsapp_numbers', ['phone_number_id'], unique=False)
    op.create_table('agent_greetings',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('message_template', sa.Text(), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('auto_send', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('agent_greetings_user_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('agent_greetings_pkey')),
    sa.UniqueConstraint('user_id', name=op.f('agent_greetings_user_id_key'))
    )
    op.create_index('idx_agent_greetings_user', 'agent_greetings', ['user_id'], unique=False)
    op.create_table('audit_logs',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=True),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('resource_type', sa.String(length=50), nullable=True),
    sa.Column('resource_id', sa.Uuid(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('changes', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('ip_address', postgresql.INET(), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('audit_logs_organization_id_fkey'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('audit_logs_user_id_fkey'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('audit_logs_pkey'))
    )
    op.create_index('idx_audit_logs_action', 'audit_logs', ['action'], unique=False)
    op.create_index('idx_audit_logs_organization', 'audit_logs', ['organization_id', sa.literal_column('created_at DESC')], unique=False)
    op.create_index('idx_audit_logs_resource', 'audit_logs', ['resource_type', 'resource_id'], unique=False)
    op.create_index('idx_audit_logs_user', 'audit_logs', ['user_id', sa.literal_column('created_at DESC')], unique=False)
    op.create_table('chatbots',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('avatar_url', sa.Text(), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('is_published', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('welcome_message', sa.Text(), nullable=True),
    sa.Column('fallback_message', sa.Text(), server_default=sa.text("'Desculpe, não entendi. Pode reformular?'"), nullable=True),
    sa.Column('away_message', sa.Text(), nullable=True),
    sa.Column('ai_enabled', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('ai_provider', sa.String(length=50), nullable=True),
    sa.Column('ai_model', sa.String(length=100), nullable=True),
    sa.Column('ai_api_key_encrypted', sa.Text(), nullable=True),
    sa.Column('ai_system_prompt', sa.Text(), nullable=True),
    sa.Column('ai_temperature', sa.Numeric(precision=3, scale=2), server_default=sa.text('0.7'), nullable=True),
    sa.Column('auto_handoff_enabled', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('handoff_keywords', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=True),
    sa.Column('business_hours', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('statistics', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text('\'{"total_conversations": 0, "total_messages": 0}\'::jsonb'), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("ai_provider IN ('openai', 'anthropic', 'google')", name=op.f('chatbots_ai_provider_check')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('chatbots_created_by_fkey'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('chatbots_organization_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('chatbots_pkey'))
    )
    op.create_index('idx_chatbots_active', 'chatbots', ['organization_id', 'is_active'], unique=False)
    op.create_index('idx_chatbots_organization', 'chatbots', ['organization_id'], unique=False)
    op.create_table('departments',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('color', sa.String(length=7), server_default=sa.text("'#3B82F6'"), nullable=True),
    sa.Column('whatsapp_number_id', sa.Uuid(), nullable=True),
    sa.Column('auto_assign_enabled', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('assignment_strategy', sa.String(length=50), server_default=sa.text("'round_robin'"), nullable=True),
    sa.Column('max_queue_size', sa.Integer(), server_default=sa.text('100'), nullable=True),
    sa.Column('business_hours', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.CheckConstraint("assignment_strategy IN ('round_robin', 'load_balance', 'priority')", name=op.f('departments_assignment_strategy_check')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('departments_organization_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['whatsapp_number_id'], ['whatsapp_numbers.id'], name=op.f('departments_whatsapp_number_id_fkey'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('departments_pkey')),
    sa.UniqueConstraint('organization_id', 'name', name=op.f('departments_organization_id_name_key'))
    )
    op.create_index('idx_departments_active', 'departments', ['organization_id', 'is_active'], unique=False)
    op.create_index('idx_departments_org', 'departments', ['organization_id'], unique=False)
    op.create_table('integrations',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('config', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('credentials_encrypted', sa.Text(), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('last_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.CheckConstraint("type IN ('webhook', 'zapier', 'shopify', 'woocommerce', 'hubspot', 'salesforce', 'google_sheets', 'custom_api')", name=op.f('integrations_type_check')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('integrations_created_by_fkey'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('integrations_organization_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('integrations_pkey'))
    )
    op.create_index('idx_integrations_organization', 'integrations', ['organization_id'], unique=False)
    op.create_index('idx_integrations_type', 'integrations', ['type'], unique=False)
    op.create_table('quick_replies',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('shortcut', sa.String(length=50), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('media_url', sa.Text(), nullable=True),
    sa.Column('media_type', sa.String(length=50), nullable=True),
    sa.Column('usage_count', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('is_global', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('quick_replies_created_by_fkey'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('quick_replies_organization_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('quick_replies_pkey')),
    sa.UniqueConstraint('organization_id', 'shortcut', name=op.f('quick_replies_organization_id_shortcut_key'))
    )
    op.create_index('idx_quick_replies_global', 'quick_replies', ['organization_id', 'is_global'], unique=False)
    op.create_index('idx_quick_replies_organization', 'quick_replies', ['organization_id'], unique=False)
    op.create_table('refresh_tokens',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=255), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.Column('ip_address', postgresql.INET(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('refresh_tokens_user_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('refresh_tokens_pkey')),
    sa.UniqueConstraint('token_hash', name=op.f('refresh_tokens_token_hash_key'))
    )
    op.create_index('idx_refresh_tokens_expires', 'refresh_tokens', ['expires_at'], unique=False)
    op.create_index('idx_refresh_tokens_token', 'refresh_tokens', ['token_hash'], unique=False)
    op.create_index('idx_refresh_tokens_user', 'refresh_tokens', ['user_id'], unique=False)
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('webhook_id', sa.Uuid(), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('response_time_ms', sa.Integer(), nullable=True),
    sa.Column('attempt_number', sa.Integer(), server_default=sa.text('1'), nullable=True),
    sa.Column('success', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], name=op.f('webhook_deliveries_webhook_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('webhook_deliveries_pkey'))
    )
    op.create_index('idx_webhook_deliveries_success', 'webhook_deliveries', ['success'], unique=False)
    op.create_index('idx_webhook_deliveries_webhook', 'webhook_deliveries', ['webhook_id', sa.literal_column('created_at DESC')], unique=False)
    op.create_table('whatsapp_templates',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('whatsapp_number_id', sa.Uuid(), nullable=True),
    sa.Column('meta_template_id', sa.String(length=255), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('language', sa.String(length=10), server_default=sa.text("'pt_BR'"), nullable=True),
    sa.Column('category', sa.String(length=50), nullable=True),
    sa.Column('meta_status', sa.String(length=50), server_default=sa.text("'PENDING'"), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('is_enabled_in_flows', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('header_type', sa.String(length=50), nullable=True),
    sa.Column('header_content', sa.Text(), nullable=True),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('footer_text', sa.Text(), nullable=True),
    sa.Column('buttons', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=True),
    sa.Column('variables', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=True),
    sa.Column('sync_status', sa.String(length=50), server_default=sa.text("'pending'"), nullable=True),
    sa.Column('last_synced_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sync_error', sa.Text(), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('quality_score', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.CheckConstraint("category IN ('MARKETING', 'UTILITY', 'AUTHENTICATION')", name=op.f('whatsapp_templates_category_check')),
    sa.CheckConstraint("header_type IN ('TEXT', 'IMAGE', 'VIDEO', 'DOCUMENT')", name=op.f('whatsapp_templates_header_type_check')),
    sa.CheckConstraint("meta_status IN ('PENDING', 'APPROVED', 'REJECTED', 'PAUSED', 'DISABLED')", name=op.f('whatsapp_templates_meta_status_check')),
    sa.CheckConstraint("sync_status IN ('pending', 'synced', 'error')", name=op.f('whatsapp_templates_sync_status_check')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('whatsapp_templates_organization_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['whatsapp_number_id'], ['whatsapp_numbers.id'], name=op.f('whatsapp_templates_whatsapp_number_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('whatsapp_templates_pkey')),
    sa.UniqueConstraint('organization_id', 'whatsapp_number_id', 'name', 'language', name=op.f('whatsapp_templates_organization_id_whatsapp_number_id_name_language_key'))
    )
    op.create_index('idx_templates_active', 'whatsapp_templates', ['is_active', 'is_enabled_in_flows'], unique=False)
    op.create_index('idx_templates_meta_status', 'whatsapp_templates', ['meta_status'], unique=False)
    op.create_index('idx_templates_organization', 'whatsapp_templates', ['organization_id'], unique=False)
    op.create_index('idx_templates_sync', 'whatsapp_templates', ['sync_status'], unique=False)
    op.create_index('idx_templates_whatsapp_number', 'whatsapp_templates', ['whatsapp_number_id'], unique=False)
    op.create_table('campaigns',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=50), server_default=sa.text("'draft'"), nullable=True),
    sa.Column('target_type', sa.String(length=50), nullable=True),
    sa.Column('target_filters', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('template_id', sa.Uuid(), nullable=True),
    sa.Column('message_type', sa.String(length=50), server_default=sa.text("'template'"), nullable=True),
    sa.Column('message_content', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('send_rate_limit', sa.Integer(), server_default=sa.text('100'), nullable=True),
    sa.Column('total_recipients', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('sent_count', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('delivered_count', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('read_count', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('failed_count', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('replied_count', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled')", name=op.f('campaigns_status_check')),
    sa.CheckConstraint("target_type IN ('all', 'tags', 'segment', 'custom')", name=op.f('campaigns_target_type_check')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('campaigns_created_by_fkey'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('campaigns_organization_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['template_id'], ['whatsapp_templates.id'], name=op.f('campaigns_template_id_fkey'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('campaigns_pkey'))
    )
    op.create_index('idx_campaigns_organization', 'campaigns', ['organization_id'], unique=False)
    op.create_index('idx_campaigns_scheduled', 'campaigns', ['scheduled_at'], unique=False, postgresql_where=sa.text("status = 'scheduled'"))
    op.create_index('idx_campaigns_status', 'campaigns', ['status'], unique=False)
    op.create_table('flows',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('chatbot_id', sa.Uuid(), nullable=False),
    sa.Column('whatsapp_number_id', sa.Uuid(), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('type', sa.String(length=50), server_default=sa.text("'main'"), nullable=True),
    sa.Column('trigger_type', sa.String(length=50), server_default=sa.text("'keyword'"), nullable=True),
    sa.Column('trigger_keywords', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=True),
    sa.Column('trigger_conditions', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=True),
    sa.Column('canvas_data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text('\'{"nodes": [], "edges": []}\'::jsonb'), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.CheckConstraint("trigger_type IN ('keyword', 'event', 'schedule', 'webhook')", name=op.f('flows_trigger_type_check')),
    sa.CheckConstraint("type IN ('main', 'sub', 'template')", name=op.f('flows_type_check')),
    sa.ForeignKeyConstraint(['chatbot_id'], ['chatbots.id'], name=op.f('flows_chatbot_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('flows_created_by_fkey'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['whatsapp_number_id'], ['whatsapp_numbers.id'], name=op.f('flows_whatsapp_number_id_fkey'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('flows_pkey'))
    )
    op.create_index('idx_flows_chatbot', 'flows', ['chatbot_id'], unique=False)
    op.create_index('idx_flows_type', 'flows', ['chatbot_id', 'type'], unique=False)
    op.create_index('idx_flows_whatsapp_number', 'flows', ['whatsapp_number_id'], unique=False)
    op.create_table('user_departments',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('department_id', sa.Uuid(), nullable=False),
    sa.Column('is_primary', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('can_pull_from_queue', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('max_concurrent_conversations', sa.Integer(), server_default=sa.text('5'), nullable=True),
    sa.Column('priority_level', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('user_departments_department_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('user_departments_user_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'department_id', name=op.f('user_departments_pkey'))
    )
    op.create_index('idx_user_departments_dept', 'user_departments', ['department_id'], unique=False)
    op.create_index('idx_user_departments_user', 'user_departments', ['user_id'], unique=False)
    op.create_table('flow_versions',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('flow_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('canvas', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('program', sa.LargeBinary(), nullable=False),
    sa.Column('program_hash', sa.String(length=64), nullable=False),
    sa.Column('compiled_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.CheckConstraint('version >= 1', name=op.f('flow_versions_version_check')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('flow_versions_created_by_fkey'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['flow_id'], ['flows.id'], name=op.f('flow_versions_flow_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('flow_versions_pkey')),
    sa.UniqueConstraint('flow_id', 'version', name=op.f('flow_versions_flow_id_version_key'))
    )
    op.create_table('nodes',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('flow_id', sa.Uuid(), nullable=False),
    sa.Column('position_x', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('position_y', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('label', sa.String(length=255), nullable=True),
    sa.Column('content', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('next_node_id', sa.Uuid(), nullable=True),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.CheckConstraint("type IN ('start', 'message', 'question', 'condition', 'action', 'api_call', 'ai_prompt', 'jump', 'end', 'handoff')", name=op.f('nodes_type_check')),
    sa.ForeignKeyConstraint(['flow_id'], ['flows.id'], name=op.f('nodes_flow_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['next_node_id'], ['nodes.id'], name=op.f('nodes_next_node_id_fkey'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('nodes_pkey'))
    )
    op.create_index('idx_nodes_flow', 'nodes', ['flow_id'], unique=False)
    op.create_index('idx_nodes_type', 'nodes', ['flow_id', 'type'], unique=False)
    op.create_table('conversations',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('contact_id', sa.Uuid(), nullable=False),
    sa.Column('chatbot_id', sa.Uuid(), nullable=True),
    sa.Column('whatsapp_number_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=50), server_default=sa.text("'open'"), nullable=True),
    sa.Column('department_id', sa.Uuid(), nullable=True),
    sa.Column('assigned_to', sa.Uuid(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('entered_queue_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pulled_from_queue_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('queue_position', sa.Integer(), nullable=True),
    sa.Column('is_bot_active', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('handoff_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handoff_reason', sa.Text(), nullable=True),
    sa.Column('current_flow_id', sa.Uuid(), nullable=True),
    sa.Column('current_node_id', sa.Uuid(), nullable=True),
    sa.Column('flow_variables', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('last_customer_message_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('twenty_four_hour_window_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('can_send_free_form', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('first_message_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('response_time_avg', sa.Integer(), nullable=True),
    sa.Column('message_count', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('tags', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('priority', sa.String(length=20), server_default=sa.text("'normal'"), nullable=True),
    sa.Column('satisfaction_rating', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name=op.f('conversations_priority_check')),
    sa.CheckConstraint("status IN ('waiting_in_queue', 'open', 'pending', 'assigned', 'resolved', 'closed')", name=op.f('conversations_status_check')),
    sa.CheckConstraint('satisfaction_rating BETWEEN 1 AND 5', name=op.f('conversations_satisfaction_rating_check')),
    sa.ForeignKeyConstraint(['assigned_to'], ['users.id'], name=op.f('conversations_assigned_to_fkey'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['chatbot_id'], ['chatbots.id'], name=op.f('conversations_chatbot_id_fkey'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('conversations_contact_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['current_flow_id'], ['flows.id'], name=op.f('conversations_current_flow_id_fkey'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['current_node_id'], ['nodes.id'], name=op.f('conversations_current_node_id_fkey'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('conversations_department_id_fkey'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('conversations_organization_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['whatsapp_number_id'], ['whatsapp_numbers.id'], name=op.f('conversations_whatsapp_number_id_fkey'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('conversations_pkey'))
    )
    op.create_index('idx_conversations_24h_window', 'conversations', ['twenty_four_hour_window_expires_at'], unique=False, postgresql_where=sa.text('twenty_four_hour_window_expires_at IS NOT NULL'))
    op.create_index('idx_conversations_agent_open', 'conversations', ['assigned_to', 'status'], unique=False, postgresql_where=sa.text("status IN ('open', 'pending', 'assigned')"))
    op.create_index('idx_conversations_analytics', 'conversations', ['organization_id', 'created_at', 'status'], unique=False)
    op.create_index('idx_conversations_assigned', 'conversations', ['assigned_to'], unique=False)
    op.create_index('idx_conversations_contact', 'conversations', ['contact_id'], unique=False)
    op.create_index('idx_conversations_department', 'conversations', ['department_id'], unique=False)
    op.create_index('idx_conversations_last_message', 'conversations', [sa.literal_column('last_message_at DESC')], unique=False)
    op.create_index('idx_conversations_organization', 'conversations', ['organization_id'], unique=False)
    op.create_index('idx_conversations_queue', 'conversations', ['department_id', 'status'], unique=False, postgresql_where=sa.text("status = 'waiting_in_queue'"))
    op.create_index('idx_conversations_status', 'conversations', ['organization_id', 'status'], unique=False)
    op.create_index('idx_conversations_whatsapp_number', 'conversations', ['whatsapp_number_id'], unique=False)
    op.create_table('messages',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('conversation_id', sa.Uuid(), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('sender_type', sa.String(length=20), nullable=True),
    sa.Column('sender_id', sa.Uuid(), nullable=True),
    sa.Column('whatsapp_message_id', sa.String(length=255), nullable=True),
    sa.Column('type', sa.String(length=50), server_default=sa.text("'text'"), nullable=True),
    sa.Column('content', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=20), server_default=sa.text("'pending'"), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("direction IN ('inbound', 'outbound')", name=op.f('messages_direction_check')),
    sa.CheckConstraint("sender_type IN ('contact', 'bot', 'agent')", name=op.f('messages_sender_type_check')),
    sa.CheckConstraint("status IN ('pending', 'sent', 'delivered', 'read', 'failed')", name=op.f('messages_status_check')),
    sa.CheckConstraint("type IN ('text', 'image', 'video', 'audio', 'document', 'location', 'contacts', 'button', 'list', 'template')", name=op.f('messages_type_check')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('messages_conversation_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sender_id'], ['users.id'], name=op.f('messages_sender_id_fkey'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', 'created_at', name=op.f('messages_pkey')),
    postgresql_partition_by='RANGE (created_at)'
    )
    op.create_index('idx_messages_conversation', 'messages', ['conversation_id', sa.literal_column('created_at DESC')], unique=False)
    op.create_index('idx_messages_created', 'messages', [sa.literal_column('created_at DESC')], unique=False)
    op.create_index('idx_messages_recent', 'messages', ['conversation_id', sa.literal_column('created_at DESC')], unique=False, postgresql_include=['type', 'direction'])
    op.create_index('idx_messages_status', 'messages', ['status'], unique=False, postgresql_where=sa.text("direction = 'outbound'"))
    op.create_index('idx_messages_whatsapp_id', 'messages', ['whatsapp_message_id'], unique=False)
    op.create_table('campaign_recipients',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('campaign_id', sa.Uuid(), nullable=False),
    sa.Column('contact_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=50), server_default=sa.text("'pending'"), nullable=True),
    sa.Column('message_id', sa.Uuid(), nullable=True),
    sa.Column('message_created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('whatsapp_message_id', sa.String(length=255), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sent', 'delivered', 'read', 'failed')", name=op.f('campaign_recipients_status_check')),
    sa.CheckConstraint('(message_id IS NULL) = (message_created_at IS NULL)', name=op.f('campaign_recipients_message_ref_check')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('campaign_recipients_campaign_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('campaign_recipients_contact_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id', 'message_created_at'], ['messages.id', 'messages.created_at'], name='campaign_recipients_message_id_fkey', ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('campaign_recipients_pkey')),
    sa.UniqueConstraint('campaign_id', 'contact_id', name=op.f('campaign_recipients_campaign_id_contact_id_key'))
    )
    op.create_index('idx_campaign_recipients_campaign', 'campaign_recipients', ['campaign_id'], unique=False)
    op.create_index('idx_campaign_recipients_status', 'campaign_recipients', ['campaign_id', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('idx_campaign_recipients_status', table_name='campaign_recipients')
    op.drop_index('idx_campaign_recipients_campaign', table_name='campaign_recipients')
    op.drop_table('campaign_recipients')
    op.drop_index('idx_messages_whatsapp_id', table_name='messages')
    op.drop_index('idx_messages_status', table_name='messages', postgresql_where=sa.text("direction = 'outbound'"))
    op.drop_index('idx_messages_recent', table_name='messages', postgresql_include=['type', 'direction'])
    op.drop_index('idx_messages_created', table_name='messages')
    op.drop_index('idx_messages_conversation', table_name='messages')
    op.drop_table('messages')
    op.drop_index('idx_conversations_whatsapp_number', table_name='conversations')
    op.drop_index('idx_conversations_status', table_name='conversations')
    op.drop_index('idx_conversations_queue', table_name='conversations', postgresql_where=sa.text("status = 'waiting_in_queue'"))
    op.drop_index('idx_conversations_organization', table_name='conversations')
    op.drop_index('idx_conversations_last_message', table_name='conversations')
    op.drop_index('idx_conversations_department', table_name='conversations')
    op.drop_index('idx_conversations_contact', table_name='conversations')
    op.drop_index('idx_conversations_assigned', table_name='conversations')
    op.drop_index('idx_conversations_analytics', table_name='conversations')
    op.drop_index('idx_conversations_agent_open', table_name='conversations', postgresql_where=sa.text("status IN ('open', 'pending', 'assigned')"))
    op.drop_index('idx_conversations_24h_window', table_name='conversations', postgresql_where=sa.text('twenty_four_hour_window_expires_at IS NOT NULL'))
    op.drop_table('conversations')
    op.drop_index('idx_nodes_type', table_name='nodes')
    op.drop_index('idx_nodes_flow', table_name='nodes')
    op.drop_table('nodes')
    op.drop_table('flow_versions')
    op.drop_index('idx_user_departments_user', table_name='user_departments')
    op.drop_index('idx_user_departments_dept', table_name='user_departments')
    op.drop_table('user_departments')
    op.drop_index('idx_flows_whatsapp_number', table_name='flows')
    op.drop_index('idx_flows_type', table_name='flows')
    op.drop_index('idx_flows_chatbot', table_name='flows')
    op.drop_table('flows')
    op.drop_index('idx_campaigns_status', table_name='campaigns')
    op.drop_index('idx_campaigns_scheduled', table_name='campaigns', postgresql_where=sa.text("status = 'scheduled'"))
    op.drop_index('idx_campaigns_organization', table_name='campaigns')
    op.drop_table('campaigns')
    op.drop_index('idx_templates_whatsapp_number', table_name='whatsapp_templates')
    op.drop_index('idx_templates_sync', table_name='whatsapp_templates')
    op.drop_index('idx_templates_organization', table_name='whatsapp_templates')
    op.drop_index('idx_templates_meta_status', table_name='whatsapp_templates')
    op.drop_index('idx_templates_active', table_name='whatsapp_templates')
    op.drop_table('whatsapp_templates')
    op.drop_index('idx_webhook_deliveries_webhook', table_name='webhook_deliveries')
    op.drop_index('idx_webhook_deliveries_success', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_index('idx_refresh_tokens_user', table_name='refresh_tokens')
    op.drop_index('idx_refresh_tokens_token', table_name='refresh_tokens')
    op.drop_index('idx_refresh_tokens_expires', table_name='refresh_tokens')
    op.drop_table('refresh_tokens')
    op.drop_index('idx_quick_replies_organization', table_name='quick_replies')
    op.drop_index('idx_quick_replies_global', table_name='quick_replies')
    op.drop_table('quick_replies')
    op.drop_index('idx_integrations_type', table_name='integrations')
    op.drop_index('idx_integrations_organization', table_name='integrations')
    op.drop_table('integrations')
    op.drop_index('idx_departments_org', table_name='departments')
    op.drop_index('idx_departments_active', table_name='departments')
    op.drop_table('departments')
    op.drop_index('idx_chatbots_organization', table_name='chatbots')
    op.drop_index('idx_chatbots_active', table_name='chatbots')
    op.drop_table('chatbots')
    op.drop_index('idx_audit_logs_user', table_name='audit_logs')
    op.drop_index('idx_audit_logs_resource', table_name='audit_logs')
    op.drop_index('idx_audit_logs_organization', table_name='audit_logs')
    op.drop_index('idx_audit_logs_action', table_name='audit_logs')
    op.drop_table('audit_logs')
    op.drop_index('idx_agent_greetings_user', table_name='agent_greetings')
    op.drop_table('agent_greetings')
    op.drop_index('idx_whatsapp_numbers_phone', table_name='whatsapp_numbers')
    op.drop_index('idx_whatsapp_numbers_org', table_name='whatsapp_numbers')
    op.drop_index('idx_whatsapp_numbers_active', table_name='whatsapp_numbers')
    op.drop_table('whatsapp_numbers')
    op.drop_index('idx_webhooks_organization', table_name='webhooks')
    op.drop_index('idx_webhooks_active', table_name='webhooks')
    op.drop_table('webhooks')
    op.drop_index('idx_users_role', table_name='users')
    op.drop_index('idx_users_organization', table_name='users')
    op.drop_index('idx_users_email', table_name='users')
    op.drop_table('users')
    op.drop_index('idx_tags_organization', table_name='tags')
    op.drop_table('tags')
    op.drop_index('idx_contacts_whatsapp_id', table_name='contacts')
    op.drop_index('idx_contacts_tags', table_name='contacts', postgresql_using='gin')
    op.drop_index('idx_contacts_search', table_name='contacts', postgresql_using='gin')
    op.drop_index('idx_contacts_organization', table_name='contacts')
    op.drop_index('idx_contacts_last_message', table_name='contacts')
    op.drop_index('idx_contacts_attributes', table_name='contacts', postgresql_using='gin')
    op.drop_table('contacts')
    op.drop_index('idx_organizations_slug', table_name='organizations')
    op.drop_table('organizations')
    op.drop_table('message_whatsapp_ids')
