"""SQLAlchemy models: one class per table of SCHEMA.md, plus `FlowVersion`
and `MessageWhatsAppId` (see docs/data-layer.md).

Names of constraints follow PostgreSQL's own defaults (``users_pkey``,
``users_email_key``, ``users_organization_id_fkey``, ``users_role_check``) so the
models, the migrations and a database created from SCHEMA.md's DDL all agree.
Index names are SCHEMA.md's. Nullable columns are nullable as in SCHEMA.md
(``is_active BOOLEAN DEFAULT true`` has a default but no NOT NULL).

Python attributes equal column names, except ``metadata`` (reserved by
SQLAlchemy), mapped as ``metadata_``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB
from sqlalchemy.dialects.postgresql.base import ischema_names as _pg_ischema_names
from sqlalchemy.types import UserDefinedType
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}

TSTZ = DateTime(timezone=True)
NOW = text("now()")
TRUE = text("true")
FALSE = text("false")
EMPTY_OBJECT = text("'{}'::jsonb")
EMPTY_ARRAY_JSON = text("'[]'::jsonb")
EMPTY_TEXT_ARRAY = text("'{}'::text[]")


def _str(value: str) -> Any:
    return text(f"'{value}'")


def _int(value: int) -> Any:
    return text(str(value))


def _in(column: str, *values: str) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _pk() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, server_default=text("gen_random_uuid()"))


def _created_at() -> Mapped[datetime | None]:
    return mapped_column(TSTZ, server_default=NOW)


def _updated_at() -> Mapped[datetime | None]:
    return mapped_column(TSTZ, server_default=NOW, onupdate=func.now())


def _creator_fk() -> ForeignKey:
    """``created_by REFERENCES users(id)``: SCHEMA.md gives no ON DELETE rule;
    we use SET NULL. With NO ACTION, deleting an organization fails whenever a
    row it owns was created by one of its users (PostgreSQL checks the user's
    references before the sibling cascade has removed the row), and deleting a
    user who ever created a flow fails too."""
    return ForeignKey("users.id", ondelete="SET NULL")


def _org_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False)


# ---------------------------------------------------------------------------
# 1. organizations
PLAN_TYPES = ("free", "starter", "professional", "enterprise")


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint(_in("plan_type", *PLAN_TYPES), name="plan_type"),
        Index("idx_organizations_slug", "slug"),
    )

    id: Mapped[uuid.UUID] = _pk()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    slug: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    whatsapp_business_id: Mapped[str | None] = mapped_column(String(255))
    whatsapp_webhook_verify_token: Mapped[str | None] = mapped_column(String(255))
    # added (migration 0009): the organization's Meta app secret, encrypted (api.crypto)
    whatsapp_app_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    plan_type: Mapped[str | None] = mapped_column(String(50), server_default=_str("free"))
    plan_expires_at: Mapped[datetime | None] = mapped_column(TSTZ)
    max_chatbots: Mapped[int | None] = mapped_column(Integer, server_default=_int(1))
    max_whatsapp_numbers: Mapped[int | None] = mapped_column(Integer, server_default=_int(1))
    max_contacts: Mapped[int | None] = mapped_column(Integer, server_default=_int(1000))
    max_agents: Mapped[int | None] = mapped_column(Integer, server_default=_int(3))
    max_departments: Mapped[int | None] = mapped_column(Integer, server_default=_int(3))
    monthly_message_limit: Mapped[int | None] = mapped_column(Integer, server_default=_int(1000))
    # added (migration 0016): campaigns started per calendar month (UTC); NULL: unlimited
    monthly_campaign_limit: Mapped[int | None] = mapped_column(Integer, server_default=_int(10))
    settings: Mapped[dict | None] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()
    deleted_at: Mapped[datetime | None] = mapped_column(TSTZ)


# 2. users
class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", "super_admin", "org_admin", "agent", "viewer"), name="role"),
        Index("idx_users_email", "email"),
        Index("idx_users_organization", "organization_id"),
        Index("idx_users_role", "organization_id", "role"),
    )

    id: Mapped[uuid.UUID] = _pk()
    organization_id: Mapped[uuid.UUID] = _org_fk()
    email: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    email_verified: Mapped[bool | None] = mapped_column(Boolean, server_default=FALSE)
    email_verified_at: Mapped[datetime | None] = mapped_column(TSTZ)
    full_name: Mapped[str] = mapped_column(String(255), nullable=False)
    avatar_url: Mapped[str | None] = mapped_column(Text)
    phone_number: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[str | None] = mapped_column(String(50), server_default=_str("agent"))
    permissions: Mapped[list | None] = mapped_column(JSONB, server_default=EMPTY_ARRAY_JSON)
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    is_online: Mapped[bool | None] = mapped_column(Boolean, server_default=FALSE)
    last_seen_at: Mapped[datetime | None] = mapped_column(TSTZ)
    last_login_at: Mapped[datetime | None] = mapped_column(TSTZ)
    last_login_ip: Mapped[str | None] = mapped_column(INET)
    failed_login_attempts: Mapped[int | None] = mapped_column(Integer, server_default=_int(0))
    locked_until: Mapped[datetime | None] = mapped_column(TSTZ)
    preferences: Mapped[dict | None] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()
    deleted_at: Mapped[datetime | None] = mapped_column(TSTZ)


# 3. refresh_tokens
class RefreshToken(Base):
    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index("idx_refresh_tokens_user", "user_id"),
        Index("idx_refresh_tokens_token", "token_hash"),
        Index("idx_refresh_tokens_expires", "expires_at"),
    )

    id: Mapped[uuid.UUID] = _pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    expires_at: Mapped[datetime] = mapped_column(TSTZ, nullable=False)
    revoked: Mapped[bool | None] = mapped_column(Boolean, server_default=FALSE)
    revoked_at: Mapped[datetime | None] = mapped_column(TSTZ)
    user_agent: Mapped[str | None] = mapped_column(Text)
    ip_address: Mapped[str | None] = mapped_column(INET)
    created_at: Mapped[datetime | None] = _created_at()


# 4. whatsapp_numbers
class WhatsAppNumber(Base):
    __tablename__ = "whatsapp_numbers"
    __table_args__ = (
        # SCHEMA.md writes `IN ('GREEN', 'YELLOW', 'RED', null)`, which accepts any
        # value (x IN (..., NULL) is NULL, and a NULL check passes). NULL passes a
        # CHECK anyway, so the intended constraint is the list without null.
        CheckConstraint(_in("quality_rating", "GREEN", "YELLOW", "RED"), name="quality_rating"),
        UniqueConstraint("organization_id", "phone_number"),
        Index("idx_whatsapp_numbers_org", "organization_id"),
        Index("idx_whatsapp_numbers_phone", "phone_number_id"),
        Index("idx_whatsapp_numbers_active", "organization_id", "is_active"),
    )

    id: Mapped[uuid.UUID] = _pk()
    organization_id: Mapped[uuid.UUID] = _org_fk()
    phone_number: Mapped[str] = mapped_column(String(20), nullable=False)
    phone_number_id: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    display_name: Mapped[str | None] = mapped_column(String(255))
    whatsapp_business_account_id: Mapped[str | None] = mapped_column(String(255))
    access_token_encrypted: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    is_default: Mapped[bool | None] = mapped_column(Boolean, server_default=FALSE)
    is_verified: Mapped[bool | None] = mapped_column(Boolean, server_default=FALSE)
    quality_rating: Mapped[str | None] = mapped_column(String(20))
    messaging_limit_tier: Mapped[str | None] = mapped_column(String(50))
    settings: Mapped[dict | None] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    last_synced_at: Mapped[datetime | None] = mapped_column(TSTZ)
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()
    deleted_at: Mapped[datetime | None] = mapped_column(TSTZ)


# 5. departments
class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (
        CheckConstraint(_in("assignment_strategy", "round_robin", "load_balance", "priority"),
                        name="assignment_strategy"),
        UniqueConstraint("organization_id", "name"),
        Index("idx_departments_org", "organization_id"),
        Index("idx_departments_active", "organization_id", "is_active"),
    )

    id: Mapped[uuid.UUID] = _pk()
    organization_id: Mapped[uuid.UUID] = _org_fk()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    color: Mapped[str | None] = mapped_column(String(7), server_default=_str("#3B82F6"))
    whatsapp_number_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("whatsapp_numbers.id", ondelete="SET NULL"))
    auto_assign_enabled: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    assignment_strategy: Mapped[str | None] = mapped_column(
        String(50), server_default=_str("round_robin"))
    max_queue_size: Mapped[int | None] = mapped_column(Integer, server_default=_int(100))
    business_hours: Mapped[dict | None] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()


# 6. user_departments
class UserDepartment(Base):
    __tablename__ = "user_departments"
    __table_args__ = (
        Index("idx_user_departments_user", "user_id"),
        Index("idx_user_departments_dept", "department_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True)
    is_primary: Mapped[bool | None] = mapped_column(Boolean, server_default=FALSE)
    can_pull_from_queue: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    max_concurrent_conversations: Mapped[int | None] = mapped_column(Integer, server_default=_int(5))
    priority_level: Mapped[int | None] = mapped_column(Integer, server_default=_int(0))
    created_at: Mapped[datetime | None] = _created_at()


# 7. agent_greetings
class AgentGreeting(Base):
    __tablename__ = "agent_greetings"
    __table_args__ = (
        UniqueConstraint("user_id"),
        Index("idx_agent_greetings_user", "user_id"),
    )

    id: Mapped[uuid.UUID] = _pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    message_template: Mapped[str] = mapped_column(Text, nullable=False)
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    auto_send: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()


# 8. chatbots
class Chatbot(Base):
    __tablename__ = "chatbots"
    __table_args__ = (
        # SCHEMA.md lists `null` inside IN (...); see WhatsAppNumber.
        CheckConstraint(_in("ai_provider", "openai", "anthropic", "google"), name="ai_provider"),
        Index("idx_chatbots_organization", "organization_id"),
        Index("idx_chatbots_active", "organization_id", "is_active"),
    )

    id: Mapped[uuid.UUID] = _pk()
    organization_id: Mapped[uuid.UUID] = _org_fk()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    avatar_url: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    is_published: Mapped[bool | None] = mapped_column(Boolean, server_default=FALSE)
    welcome_message: Mapped[str | None] = mapped_column(Text)
    fallback_message: Mapped[str | None] = mapped_column(
        Text, server_default=_str("Desculpe, não entendi. Pode reformular?"))
    away_message: Mapped[str | None] = mapped_column(Text)
    ai_enabled: Mapped[bool | None] = mapped_column(Boolean, server_default=FALSE)
    ai_provider: Mapped[str | None] = mapped_column(String(50))
    ai_model: Mapped[str | None] = mapped_column(String(100))
    ai_api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    ai_system_prompt: Mapped[str | None] = mapped_column(Text)
    ai_temperature: Mapped[Decimal | None] = mapped_column(Numeric(3, 2), server_default=text("0.7"))
    auto_handoff_enabled: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    handoff_keywords: Mapped[list[str] | None] = mapped_column(
        ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
    business_hours: Mapped[dict | None] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    settings: Mapped[dict | None] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    statistics: Mapped[dict | None] = mapped_column(
        JSONB, server_default=text("""'{"total_conversations": 0, "total_messages": 0}'::jsonb"""))
    created_by: Mapped[uuid.UUID | None] = mapped_column(_creator_fk())
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()
    deleted_at: Mapped[datetime | None] = mapped_column(TSTZ)


# 9. flows
class Flow(Base):
    """A chatbot's flow. ``version`` is the current version (see `FlowVersion`)."""

    __tablename__ = "flows"
    __table_args__ = (
        CheckConstraint(_in("type", "main", "sub", "template"), name="type"),
        CheckConstraint(_in("trigger_type", "keyword", "event", "schedule", "webhook"),
                        name="trigger_type"),
        Index("idx_flows_chatbot", "chatbot_id"),
        Index("idx_flows_type", "chatbot_id", "type"),
        Index("idx_flows_whatsapp_number", "whatsapp_number_id"),
    )

    id: Mapped[uuid.UUID] = _pk()
    chatbot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chatbots.id", ondelete="CASCADE"), nullable=False)
    whatsapp_number_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("whatsapp_numbers.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str | None] = mapped_column(String(50), server_default=_str("main"))
    trigger_type: Mapped[str | None] = mapped_column(String(50), server_default=_str("keyword"))
    trigger_keywords: Mapped[list[str] | None] = mapped_column(
        ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
    trigger_conditions: Mapped[dict | None] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    version: Mapped[int | None] = mapped_column(Integer)  # the live version; NULL until one is (migration 0030)
    canvas_data: Mapped[dict | None] = mapped_column(
        JSONB, server_default=text("""'{"nodes": [], "edges": []}'::jsonb"""))
    created_by: Mapped[uuid.UUID | None] = mapped_column(_creator_fk())
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()


class FlowVersion(Base):
    """One saved, compiled version of a flow (added by DESIGN.md: compiled bytecode).

    A running conversation stays on the version it started, so versions are
    kept; ``program`` is `engine.program.Program.to_bytes()`.
    """

    __tablename__ = "flow_versions"
    __table_args__ = (
        UniqueConstraint("flow_id", "version"),
        CheckConstraint("version >= 1", name="version"),
    )

    id: Mapped[uuid.UUID] = _pk()
    flow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("flows.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    canvas: Mapped[Any] = mapped_column(JSONB, nullable=False)
    program: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    program_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    compiled_at: Mapped[datetime] = mapped_column(TSTZ, nullable=False, server_default=NOW)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    # Set when the version is made live (migration 0009: drafts and publishing).
    published_at: Mapped[datetime | None] = mapped_column(TSTZ)
    published_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))


# 6'. nodes (SCHEMA.md numbers it 6 again)
NODE_TYPES = ("start", "message", "question", "condition", "action",
              "api_call", "ai_prompt", "jump", "end", "handoff")


class Node(Base):
    """A flow's node, for SQL reporting; written by the compiler on save.

    ``settings['canvas_id']`` is the node's id in the canvas.
    """

    __tablename__ = "nodes"
    __table_args__ = (
        CheckConstraint(_in("type", *NODE_TYPES), name="type"),
        Index("idx_nodes_flow", "flow_id"),
        Index("idx_nodes_type", "flow_id", "type"),
    )

    id: Mapped[uuid.UUID] = _pk()
    flow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("flows.id", ondelete="CASCADE"), nullable=False)
    position_x: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    position_y: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    type: Mapped[str] = mapped_column(String(50), nullable=False)
    label: Mapped[str | None] = mapped_column(String(255))
    content: Mapped[Any] = mapped_column(JSONB, nullable=False, server_default=EMPTY_OBJECT)
    next_node_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("nodes.id", ondelete="SET NULL"))
    settings: Mapped[dict | None] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()


# 7'. contacts
CONTACT_SEARCH_INDEX_SQL = (
    "to_tsvector('portuguese'::regconfig, (name::text || ' '::text) "
    "|| COALESCE(email, ''::character varying)::text)"
)
CONTACT_SEARCH_SQL = "to_tsvector('portuguese', contacts.name || ' ' || COALESCE(contacts.email, ''))"


def contact_search_document() -> ColumnElement:
    """The expression `idx_contacts_search` indexes. Search with
    ``contact_search_document().bool_op("@@")(func.plainto_tsquery("portuguese", q))``
    so the planner can use the index (written literally: a bound parameter in
    place of ``'portuguese'`` would not match the index expression)."""
    return literal_column(CONTACT_SEARCH_SQL)


# Added search indexes (migration 0004), see `api.services.contacts_search`.
# Both documents hold a contact's phone numbers (``whatsapp_id``, ``phone``) as
# digit strings, each also without its first 2 and first 4 digits (the country
# code 55 and then the area code of a Brazilian number), so that a prefix query
# finds ``5511987654321`` by ``5511…``, ``11987…`` or ``98765…``. The SQL is
# spelled as PostgreSQL reflects it back (casts, parentheses), which serves both
# the index definitions (autogenerate then sees no change) and the queries
# (the planner matches them to the indexes).
PHONE_PREFIXES_DROPPED = (2, 4)


def _concat_words_sql(parts: list[str]) -> str:
    """``a || ' ' || b || ...`` with the parentheses PostgreSQL reflects back (left-nested)."""
    expr = parts[0]
    for part in parts[1:]:
        expr = f"(({expr} || ' '::text) || {part})"
    return expr[1:-1] if len(parts) > 1 else expr  # no parentheses around the whole


def _phone_forms_sql(table: str) -> list[str]:
    forms = []
    for column in ("whatsapp_id", "phone"):
        digits = (f"regexp_replace(COALESCE({table}{column}, ''::character varying)::text, "
                  "'[^0-9]'::text, ''::text, 'g'::text)")
        forms += [digits] + [f"substr({digits}, {n + 1})" for n in PHONE_PREFIXES_DROPPED]
    return forms


def contact_phone_search_sql(table: str = "contacts.") -> str:
    """``idx_contacts_phone_search``'s expression: the phone numbers' digit forms ('simple' words)."""
    return f"to_tsvector('simple'::regconfig, {_concat_words_sql(_phone_forms_sql(table))})"


def contact_unnamed_search_sql(table: str = "contacts.") -> str:
    """``idx_contacts_unnamed_search``'s expression (rows WHERE name IS NULL): e-mail and phone forms."""
    email = f"COALESCE({table}email, ''::character varying)::text"
    return f"to_tsvector('portuguese'::regconfig, {_concat_words_sql([email, *_phone_forms_sql(table)])})"


def contact_phone_search_document() -> ColumnElement:
    """The expression `idx_contacts_phone_search` indexes (every contact)."""
    return literal_column(contact_phone_search_sql())


def contact_unnamed_search_document() -> ColumnElement:
    """The expression `idx_contacts_unnamed_search` indexes (only with ``name IS NULL``)."""
    return literal_column(contact_unnamed_search_sql())


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("organization_id", "whatsapp_id"),
        UniqueConstraint("organization_id", "bsuid", name="uq_contacts_organization_bsuid"),  # migration 0013
        Index("idx_contacts_organization", "organization_id"),
        Index("idx_contacts_whatsapp_id", "whatsapp_id"),
        Index("idx_contacts_tags", "tags", postgresql_using="gin"),
        Index("idx_contacts_attributes", "attributes", postgresql_using="gin"),
        Index("idx_contacts_last_message", text("last_message_at DESC")),
        Index("idx_contacts_search",
              # SCHEMA.md's `to_tsvector('portuguese', name || ' ' || COALESCE(email, ''))`,
              # spelled as PostgreSQL reports it back so autogenerate sees no change.
              text(CONTACT_SEARCH_INDEX_SQL),
              postgresql_using="gin"),
        # search of unnamed contacts and of phone numbers (migration 0004)
        Index("idx_contacts_unnamed_search", text(contact_unnamed_search_sql("")),
              postgresql_using="gin", postgresql_where=text("name IS NULL")),
        Index("idx_contacts_phone_search", text(contact_phone_search_sql("")), postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = _pk()
    organization_id: Mapped[uuid.UUID] = _org_fk()
    whatsapp_id: Mapped[str] = mapped_column(String(255), nullable=False)  # phone wa_id, or the BSUID if hidden
    bsuid: Mapped[str | None] = mapped_column(String(255))  # business-scoped user id (migration 0013)
    whatsapp_name: Mapped[str | None] = mapped_column(String(255))
    whatsapp_profile_pic_url: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(20))
    tags: Mapped[list[str] | None] = mapped_column(ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
    is_blocked: Mapped[bool | None] = mapped_column(Boolean, server_default=FALSE)
    opt_in: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    opt_in_date: Mapped[datetime | None] = mapped_column(TSTZ)
    opt_out_date: Mapped[datetime | None] = mapped_column(TSTZ)
    attributes: Mapped[dict | None] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    last_message_at: Mapped[datetime | None] = mapped_column(TSTZ)
    total_conversations: Mapped[int | None] = mapped_column(Integer, server_default=_int(0))
    total_messages: Mapped[int | None] = mapped_column(Integer, server_default=_int(0))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()
    deleted_at: Mapped[datetime | None] = mapped_column(TSTZ)


# 8'. tags
class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (
        UniqueConstraint("organization_id", "name"),
        Index("idx_tags_organization", "organization_id"),
    )

    id: Mapped[uuid.UUID] = _pk()
    organization_id: Mapped[uuid.UUID] = _org_fk()
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    color: Mapped[str | None] = mapped_column(String(7), server_default=_str("#3B82F6"))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = _created_at()


# 9'. conversations
CONVERSATION_STATUSES = ("waiting_in_queue", "open", "pending", "assigned", "resolved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint(_in("status", *CONVERSATION_STATUSES), name="status"),
        CheckConstraint(_in("priority", *PRIORITIES), name="priority"),
        CheckConstraint("satisfaction_rating BETWEEN 1 AND 5", name="satisfaction_rating"),
        # migration 0024: idx_conversations_organization dropped (idx_conversations_status starts
        # with organization_id); assigned and department hold only rows that have one
        Index("idx_conversations_contact", "contact_id"),
        Index("idx_conversations_status", "organization_id", "status"),
        Index("idx_conversations_assigned", "assigned_to", postgresql_where=text("assigned_to IS NOT NULL")),
        Index("idx_conversations_department", "department_id", postgresql_where=text("department_id IS NOT NULL")),
        Index("idx_conversations_whatsapp_number", "whatsapp_number_id"),
        Index("idx_conversations_queue", "department_id", "status",
              postgresql_where=text("status = 'waiting_in_queue'")),
        Index("idx_conversations_last_message", text("last_message_at DESC")),
        Index("idx_conversations_24h_window", "twenty_four_hour_window_expires_at",
              postgresql_where=text("twenty_four_hour_window_expires_at IS NOT NULL")),
        # Índices críticos
        Index("idx_conversations_agent_open", "assigned_to", "status",
              postgresql_where=text("status IN ('open', 'pending', 'assigned')")),
        Index("idx_conversations_analytics", "organization_id", "created_at", "status"),
        # the default list page (migration 0003): org's conversations, newest activity first
        Index("idx_conversations_org_last_message", "organization_id",
              text("last_message_at DESC NULLS LAST"), "id"),
    )

    id: Mapped[uuid.UUID] = _pk()
    organization_id: Mapped[uuid.UUID] = _org_fk()
    contact_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False)
    chatbot_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("chatbots.id", ondelete="SET NULL"))
    whatsapp_number_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("whatsapp_numbers.id", ondelete="SET NULL"))
    status: Mapped[str | None] = mapped_column(String(50), server_default=_str("open"))
    department_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"))
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime | None] = mapped_column(TSTZ)
    entered_queue_at: Mapped[datetime | None] = mapped_column(TSTZ)
    pulled_from_queue_at: Mapped[datetime | None] = mapped_column(TSTZ)
    queue_position: Mapped[int | None] = mapped_column(Integer)
    is_bot_active: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    handoff_at: Mapped[datetime | None] = mapped_column(TSTZ)
    handoff_reason: Mapped[str | None] = mapped_column(Text)
    current_flow_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("flows.id", ondelete="SET NULL"))
    current_node_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("nodes.id", ondelete="SET NULL"))
    flow_variables: Mapped[dict | None] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    last_customer_message_at: Mapped[datetime | None] = mapped_column(TSTZ)
    twenty_four_hour_window_expires_at: Mapped[datetime | None] = mapped_column(TSTZ)
    can_send_free_form: Mapped[bool | None] = mapped_column(Boolean, server_default=FALSE)
    first_message_at: Mapped[datetime | None] = mapped_column(TSTZ)
    last_message_at: Mapped[datetime | None] = mapped_column(TSTZ)
    resolved_at: Mapped[datetime | None] = mapped_column(TSTZ)
    response_time_avg: Mapped[int | None] = mapped_column(Integer)
    message_count: Mapped[int | None] = mapped_column(Integer, server_default=_int(0))
    tags: Mapped[list[str] | None] = mapped_column(ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
    notes: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str | None] = mapped_column(String(20), server_default=_str("normal"))
    satisfaction_rating: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()


# 10. messages (partitioned by month on created_at; see docs/data-layer.md)
MESSAGE_TYPES = ("text", "image", "video", "audio", "document",
                 "location", "contacts", "button", "list", "template")
MESSAGE_STATUSES = ("pending", "sent", "delivered", "read", "failed")
RECIPIENT_STATUSES = (*MESSAGE_STATUSES, "skipped")  # skipped: never sent (opted out, cancelled)


class Message(Base):
    """A WhatsApp message. Partitioned by month: the primary key is
    ``(id, created_at)``; ``id`` alone is still unique in practice (random
    UUID), and ``whatsapp_message_id`` is unique across all partitions through
    `MessageWhatsAppId` (kept by a trigger). ``created_at`` is NOT NULL because
    it is the partition key.
    """

    __tablename__ = "messages"
    __table_args__ = (
        PrimaryKeyConstraint("id", "created_at"),
        CheckConstraint(_in("direction", "inbound", "outbound"), name="direction"),
        CheckConstraint(_in("sender_type", "contact", "bot", "agent"), name="sender_type"),
        CheckConstraint(_in("type", *MESSAGE_TYPES), name="type"),
        CheckConstraint(_in("status", *MESSAGE_STATUSES), name="status"),
        # idx_messages_conversation (conversation_id, created_at DESC) is idx_messages_recent's keys:
        # not created (migration 0022)
        # rows with a wamid only (migration 0023): a pending row's NULL entry served no lookup
        Index("idx_messages_whatsapp_id", "whatsapp_message_id",
              postgresql_where=text("whatsapp_message_id IS NOT NULL")),
        # idx_messages_status (status, outbound only): not created (migration 0023), so that no
        # index names `status` and an outbound row's delivered and read are HOT updates
        Index("idx_messages_created", text("created_at DESC")),
        # Índices críticos. `content` is left out of INCLUDE: a b-tree entry is
        # limited to ~2.7 kB and a 4096-character text message would not fit.
        Index("idx_messages_recent", "conversation_id", text("created_at DESC"),
              postgresql_include=["type", "direction"]),
        # the outbox sender's read (migration 0006): a conversation's rows waiting to go out; the
        # predicate is what `pending` implies (migration 0023: api.outbox.WAITING), not `status`
        Index("idx_messages_outbox", "conversation_id", "created_at",
              postgresql_where=text("direction = 'outbound' AND whatsapp_message_id IS NULL "
                                    "AND failed_at IS NULL")),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, server_default=text("gen_random_uuid()"))
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    direction: Mapped[str] = mapped_column(String(10), nullable=False)
    sender_type: Mapped[str | None] = mapped_column(String(20))
    sender_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    whatsapp_message_id: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str | None] = mapped_column(String(50), server_default=_str("text"))
    content: Mapped[Any] = mapped_column(JSONB, nullable=False)
    status: Mapped[str | None] = mapped_column(String(20), server_default=_str("pending"))
    error_message: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(TSTZ)
    delivered_at: Mapped[datetime | None] = mapped_column(TSTZ)
    read_at: Mapped[datetime | None] = mapped_column(TSTZ)
    failed_at: Mapped[datetime | None] = mapped_column(TSTZ)
    metadata_: Mapped[dict | None] = mapped_column("metadata", JSONB, server_default=EMPTY_OBJECT)
    created_at: Mapped[datetime] = mapped_column(TSTZ, nullable=False, server_default=NOW)


class MessageWhatsAppId(Base):
    """Global uniqueness of ``messages.whatsapp_message_id`` across partitions.

    A partitioned table can only enforce uniqueness that includes the partition
    key, so this small table holds one row per WhatsApp message id. The triggers
    ``messages_whatsapp_id_sync`` (and ``_update``) keep it in step with every insert,
    delete and update that changes the id or ``created_at`` of a message (raising a unique violation named
    ``messages_whatsapp_message_id_key`` on a duplicate);
    `api.db.messages.store_inbound_message` claims the id first, so a
    redelivered webhook is a no-op instead of an error.
    """

    __tablename__ = "message_whatsapp_ids"

    whatsapp_message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    message_created_at: Mapped[datetime] = mapped_column(TSTZ, nullable=False)


# 11. campaigns
class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(_in("status", "draft", "scheduled", "running", "paused", "completed",
                             "cancelled"), name="status"),
        CheckConstraint(_in("target_type", "all", "tags", "segment", "custom"),
                        name="target_type"),
        Index("idx_campaigns_organization", "organization_id"),
        Index("idx_campaigns_status", "status"),
        Index("idx_campaigns_scheduled", "scheduled_at",
              postgresql_where=text("status = 'scheduled'")),
    )

    id: Mapped[uuid.UUID] = _pk()
    organization_id: Mapped[uuid.UUID] = _org_fk()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(50), server_default=_str("draft"))
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_filters: Mapped[dict | None] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("whatsapp_templates.id", ondelete="SET NULL"))  # see _creator_fk
    message_type: Mapped[str | None] = mapped_column(String(50), server_default=_str("template"))
    message_content: Mapped[Any] = mapped_column(JSONB, nullable=False)
    scheduled_at: Mapped[datetime | None] = mapped_column(TSTZ)
    send_rate_limit: Mapped[int | None] = mapped_column(Integer, server_default=_int(100))
    # added (migration 0016): the sending number (NULL: the template's), the flow a reply
    # starts (NULL: the chatbot's rules), recipients skipped
    whatsapp_number_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("whatsapp_numbers.id", ondelete="SET NULL"))
    flow_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("flows.id", ondelete="SET NULL"))
    skipped_count: Mapped[int | None] = mapped_column(Integer, server_default=_int(0))
    # added (migration 0026): why PyTake paused it (`control.paused_by_pytake`); NULL when not
    # paused, or paused by a user
    pause_reason: Mapped[str | None] = mapped_column(Text)
    total_recipients: Mapped[int | None] = mapped_column(Integer, server_default=_int(0))
    sent_count: Mapped[int | None] = mapped_column(Integer, server_default=_int(0))
    delivered_count: Mapped[int | None] = mapped_column(Integer, server_default=_int(0))
    read_count: Mapped[int | None] = mapped_column(Integer, server_default=_int(0))
    failed_count: Mapped[int | None] = mapped_column(Integer, server_default=_int(0))
    replied_count: Mapped[int | None] = mapped_column(Integer, server_default=_int(0))
    started_at: Mapped[datetime | None] = mapped_column(TSTZ)
    completed_at: Mapped[datetime | None] = mapped_column(TSTZ)
    created_by: Mapped[uuid.UUID | None] = mapped_column(_creator_fk())
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()


# 12. campaign_recipients
class CampaignRecipient(Base):
    """A campaign's recipient. ``message_id`` references ``messages`` through
    the composite key ``(message_id, message_created_at)`` (messages is
    partitioned); set both or neither. Deleting the message (its conversation,
    its contact) unlinks the recipient, which keeps its status and
    ``whatsapp_message_id`` (SCHEMA.md gives no ON DELETE rule; see _creator_fk)."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        CheckConstraint(_in("status", *RECIPIENT_STATUSES), name="status"),
        CheckConstraint("(message_id IS NULL) = (message_created_at IS NULL)",
                        name="message_ref"),
        ForeignKeyConstraint(
            ["message_id", "message_created_at"], ["messages.id", "messages.created_at"],
            name="campaign_recipients_message_id_fkey", ondelete="SET NULL"),
        UniqueConstraint("campaign_id", "contact_id"),
        # migration 0024: no index on campaign_id alone (the unique index above starts with it)
        # nor on whatsapp_message_id: status webhooks find a recipient through its message, and
        # recording its wamid is a HOT update
        Index("idx_campaign_recipients_message", "message_id", postgresql_where=text("message_id IS NOT NULL")),
        Index("idx_campaign_recipients_contact", "contact_id"),
        Index("idx_campaign_recipients_pending", "campaign_id", "id",
              postgresql_where=text("message_id IS NULL AND skip_reason IS NULL")),  # 0021: no index names status
    )

    id: Mapped[uuid.UUID] = _pk()
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False)
    contact_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False)
    status: Mapped[str | None] = mapped_column(String(50), server_default=_str("pending"))
    message_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    message_created_at: Mapped[datetime | None] = mapped_column(TSTZ)
    whatsapp_message_id: Mapped[str | None] = mapped_column(String(255))
    sent_at: Mapped[datetime | None] = mapped_column(TSTZ)
    delivered_at: Mapped[datetime | None] = mapped_column(TSTZ)
    read_at: Mapped[datetime | None] = mapped_column(TSTZ)
    failed_at: Mapped[datetime | None] = mapped_column(TSTZ)
    error_message: Mapped[str | None] = mapped_column(Text)
    skip_reason: Mapped[str | None] = mapped_column(Text)  # added (migration 0016): why never sent
    replied_at: Mapped[datetime | None] = mapped_column(TSTZ)  # added (migration 0016): first reply to it
    # added (migration 0020): the recipients import's own columns, a campaign's {{recipient.<column>}}
    variables: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default=EMPTY_OBJECT)
    created_at: Mapped[datetime | None] = _created_at()


# 13. whatsapp_templates
class WhatsAppTemplate(Base):
    __tablename__ = "whatsapp_templates"
    __table_args__ = (
        CheckConstraint(_in("category", "MARKETING", "UTILITY", "AUTHENTICATION"),
                        name="category"),
        CheckConstraint(_in("meta_status", "PENDING", "APPROVED", "REJECTED", "PAUSED",
                             "DISABLED"), name="meta_status"),
        # SCHEMA.md lists `null` inside IN (...); see WhatsAppNumber.
        CheckConstraint(_in("header_type", "TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"),  # LOCATION: 0028
                        name="header_type"),
        CheckConstraint(_in("sync_status", "pending", "synced", "error"), name="sync_status"),
        UniqueConstraint("organization_id", "whatsapp_number_id", "name", "language"),
        Index("idx_templates_organization", "organization_id"),
        Index("idx_templates_whatsapp_number", "whatsapp_number_id"),
        Index("idx_templates_meta_status", "meta_status"),
        Index("idx_templates_active", "is_active", "is_enabled_in_flows"),
        Index("idx_templates_sync", "sync_status"),
    )

    id: Mapped[uuid.UUID] = _pk()
    organization_id: Mapped[uuid.UUID] = _org_fk()
    whatsapp_number_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("whatsapp_numbers.id", ondelete="CASCADE"))
    meta_template_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    language: Mapped[str | None] = mapped_column(String(10), server_default=_str("pt_BR"))
    category: Mapped[str | None] = mapped_column(String(50))
    meta_status: Mapped[str | None] = mapped_column(String(50), server_default=_str("PENDING"))
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    is_enabled_in_flows: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    header_type: Mapped[str | None] = mapped_column(String(50))
    header_content: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text, nullable=False)
    footer_text: Mapped[str | None] = mapped_column(Text)
    buttons: Mapped[list | None] = mapped_column(JSONB, server_default=EMPTY_ARRAY_JSON)
    variables: Mapped[list | None] = mapped_column(JSONB, server_default=EMPTY_ARRAY_JSON)
    sync_status: Mapped[str | None] = mapped_column(String(50), server_default=_str("pending"))
    last_synced_at: Mapped[datetime | None] = mapped_column(TSTZ)
    sync_error: Mapped[str | None] = mapped_column(Text)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    quality_score: Mapped[dict | None] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()


# 14. integrations
INTEGRATION_TYPES = ("webhook", "zapier", "shopify", "woocommerce",
                     "hubspot", "salesforce", "google_sheets", "custom_api")


class Integration(Base):
    __tablename__ = "integrations"
    __table_args__ = (
        CheckConstraint(_in("type", *INTEGRATION_TYPES), name="type"),
        Index("idx_integrations_organization", "organization_id"),
        Index("idx_integrations_type", "type"),
    )

    id: Mapped[uuid.UUID] = _pk()
    organization_id: Mapped[uuid.UUID] = _org_fk()
    type: Mapped[str] = mapped_column(String(50), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    config: Mapped[Any] = mapped_column(JSONB, nullable=False, server_default=EMPTY_OBJECT)
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    last_sync_at: Mapped[datetime | None] = mapped_column(TSTZ)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(_creator_fk())
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()


# 15. webhooks
class Webhook(Base):
    __tablename__ = "webhooks"
    __table_args__ = (
        Index("idx_webhooks_organization", "organization_id"),
        Index("idx_webhooks_active", "is_active"),
        Index("idx_webhooks_integration", "integration_id", postgresql_where=text("integration_id IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = _pk()
    organization_id: Mapped[uuid.UUID] = _org_fk()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    secret: Mapped[str | None] = mapped_column(String(255))
    events: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=EMPTY_TEXT_ARRAY)
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    max_retries: Mapped[int | None] = mapped_column(Integer, server_default=_int(8))
    retry_delay_seconds: Mapped[int | None] = mapped_column(Integer, server_default=_int(30))
    total_deliveries: Mapped[int | None] = mapped_column(Integer, server_default=_int(0))
    failed_deliveries: Mapped[int | None] = mapped_column(Integer, server_default=_int(0))
    last_delivery_at: Mapped[datetime | None] = mapped_column(TSTZ)
    last_delivery_status: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()
    # 0012: auto-disable after this many consecutive failed attempts (docs/events.md)
    failure_threshold: Mapped[int] = mapped_column(Integer, nullable=False, server_default=_int(50))
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default=_int(0))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(TSTZ)
    # a subscription owned by an integration (Zapier REST hooks, webhook, custom_api)
    integration_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))


# 16. webhook_deliveries
DELIVERY_STATES = ("pending", "retrying", "delivered", "dead")
DELIVERY_LIVE = "state IN ('pending', 'retrying')"


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("idx_webhook_deliveries_webhook", "webhook_id", text("created_at DESC")),
        Index("idx_webhook_deliveries_success", "success"),
        UniqueConstraint("webhook_id", "event_id"),
        CheckConstraint(_in("state", *DELIVERY_STATES), name="state"),
        Index("idx_webhook_deliveries_due", "next_attempt_at", "event_id", postgresql_where=text(DELIVERY_LIVE)),
        Index("idx_webhook_deliveries_order", "webhook_id", "ordering_key", "event_id",
              postgresql_where=text(DELIVERY_LIVE)),
    )

    id: Mapped[uuid.UUID] = _pk()
    webhook_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    payload: Mapped[Any] = mapped_column(JSONB, nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    response_time_ms: Mapped[int | None] = mapped_column(Integer)
    attempt_number: Mapped[int | None] = mapped_column(Integer, server_default=_int(1))
    success: Mapped[bool | None] = mapped_column(Boolean, server_default=FALSE)
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = _created_at()
    # 0012: one row per (webhook, event), every attempt in ``attempts``
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    ordering_key: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    state: Mapped[str] = mapped_column(String(20), nullable=False, server_default=_str("pending"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(TSTZ, server_default=NOW)
    attempts: Mapped[Any] = mapped_column(JSONB, nullable=False, server_default=EMPTY_ARRAY_JSON)
    updated_at: Mapped[datetime | None] = _updated_at()


# 17. quick_replies
class QuickReply(Base):
    __tablename__ = "quick_replies"
    __table_args__ = (
        UniqueConstraint("organization_id", "shortcut"),
        Index("idx_quick_replies_organization", "organization_id"),
        Index("idx_quick_replies_global", "organization_id", "is_global"),
    )

    id: Mapped[uuid.UUID] = _pk()
    organization_id: Mapped[uuid.UUID] = _org_fk()
    shortcut: Mapped[str] = mapped_column(String(50), nullable=False)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    media_url: Mapped[str | None] = mapped_column(Text)
    media_type: Mapped[str | None] = mapped_column(String(50))
    usage_count: Mapped[int | None] = mapped_column(Integer, server_default=_int(0))
    is_global: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    created_by: Mapped[uuid.UUID | None] = mapped_column(_creator_fk())
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()


# 18. audit_logs
class AuditLog(Base):
    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("idx_audit_logs_organization", "organization_id", text("created_at DESC")),
        Index("idx_audit_logs_user", "user_id", text("created_at DESC")),
        Index("idx_audit_logs_resource", "resource_type", "resource_id"),
        Index("idx_audit_logs_action", "action"),
    )

    id: Mapped[uuid.UUID] = _pk()
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(100), nullable=False)
    resource_type: Mapped[str | None] = mapped_column(String(50))
    resource_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    description: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[Any | None] = mapped_column(JSONB)
    metadata_: Mapped[dict | None] = mapped_column("metadata", JSONB, server_default=EMPTY_OBJECT)
    ip_address: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = _created_at()


# Domain events (not in SCHEMA.md; migration 0011, docs/events.md)
class XID8(UserDefinedType):
    """PostgreSQL's 64-bit transaction id (``pg_current_xact_id()``)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "XID8"


# so that reflection (Alembic's comparison with the models) knows the type
_pg_ischema_names["xid8"] = XID8


class Event(Base):
    """One domain event, written in the transaction of the change it describes."""

    __tablename__ = "events"
    __table_args__ = (
        # the consumers' read order (api/events/consumer.py), and the table's only index
        PrimaryKeyConstraint("txid", "id", name="events_pkey"),
        # an analytics snapshot's period (migration 0019): cheap to keep, rows come in time order
        Index("idx_events_occurred_at_brin", "occurred_at", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    type: Mapped[str] = mapped_column(String(100), nullable=False)
    version: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default=_int(1))
    ordering_key: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    payload: Mapped[Any] = mapped_column(JSONB, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(TSTZ, nullable=False, server_default=NOW)
    txid: Mapped[Any] = mapped_column(XID8(), nullable=False, server_default=text("pg_current_xact_id()"))


class EventConsumer(Base):
    """A consumer's cursor over `events`: the last ``(txid, id)`` it has handled."""

    __tablename__ = "event_consumers"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    cursor_txid: Mapped[Any] = mapped_column(XID8(), nullable=False, server_default=text("'0'::xid8"))
    cursor_id: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=_int(0))
    updated_at: Mapped[datetime | None] = _created_at()


class FlowPathCount(Base):
    """How many runs went through a flow version's node / edge, or dropped off at a node, in an hour
    (api/analytics: counted in Redis on every step, added here by the flush)."""

    __tablename__ = "flow_path_counts"
    __table_args__ = (
        CheckConstraint(_in("kind", "node", "edge", "drop"), name="kind"),
        PrimaryKeyConstraint("flow_id", "version", "bucket_hour", "kind", "node_id", "exit", "dest"),
        Index("idx_flow_path_counts_organization", "organization_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False)
    flow_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("flows.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    bucket_hour: Mapped[datetime] = mapped_column(TSTZ, nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    node_id: Mapped[str] = mapped_column(String(255), nullable=False)
    exit: Mapped[str] = mapped_column(String(255), nullable=False, server_default=_str(""))
    dest: Mapped[str] = mapped_column(String(255), nullable=False, server_default=_str(""))
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)


class AnalyticsFlush(Base):
    """A Redis batch of path counts already added to `flow_path_counts` (the flush is exactly once)."""

    __tablename__ = "analytics_flushes"

    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    flushed_at: Mapped[datetime] = mapped_column(TSTZ, nullable=False, server_default=NOW)


class AnalyticsSnapshot(Base):
    """An organization's figures over one hour / day / week / month in its timezone
    (api/analytics/snapshots.py; computing a period again replaces its row)."""

    __tablename__ = "analytics_snapshots"
    __table_args__ = (
        CheckConstraint(_in("period", "hour", "day", "week", "month"), name="period"),
        PrimaryKeyConstraint("organization_id", "period", "start"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False)
    period: Mapped[str] = mapped_column(String(8), nullable=False)
    start: Mapped[datetime] = mapped_column(TSTZ, nullable=False)
    end: Mapped[datetime] = mapped_column(TSTZ, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    conversations: Mapped[dict] = mapped_column(JSONB, nullable=False)
    messages: Mapped[dict] = mapped_column(JSONB, nullable=False)
    contacts: Mapped[dict] = mapped_column(JSONB, nullable=False)
    chatbots: Mapped[dict] = mapped_column(JSONB, nullable=False)
    agents: Mapped[dict] = mapped_column(JSONB, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(TSTZ, nullable=False, server_default=NOW)


__all__ = [
    "Base", "Event", "AnalyticsSnapshot", "EventConsumer", "FlowPathCount", "AnalyticsFlush", "Organization", "User", "RefreshToken", "WhatsAppNumber", "Department",
    "UserDepartment", "AgentGreeting", "Chatbot", "Flow", "FlowVersion", "Node", "Contact",
    "Tag", "Conversation", "Message", "MessageWhatsAppId", "Campaign", "CampaignRecipient",
    "WhatsAppTemplate", "Integration", "Webhook", "WebhookDelivery", "QuickReply", "AuditLog",
    "contact_search_document", "contact_phone_search_document", "contact_unnamed_search_document",
]
