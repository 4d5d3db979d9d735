"""Fixtures for data-layer tests: an empty database, and a small tenant
(organization, user, contact, conversation, chatbot, flow) to hang rows on."""

from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass
from typing import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from api.db.models import Chatbot, Contact, Conversation, Flow, Organization, User


async def _admin(server_url: str, sql: str) -> None:
    engine = create_async_engine(make_url(server_url).set(database="postgres"),
                                 isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


# Emptied between tests rather than dropped: DROP DATABASE costs a checkpoint
# (see tests/database_pool.py). Anything a test builds lives in `public`.
_EMPTY_PUBLIC = ("DROP SCHEMA public CASCADE", "CREATE SCHEMA public AUTHORIZATION pg_database_owner",
                 "GRANT USAGE ON SCHEMA public TO PUBLIC")


@pytest.fixture(scope="session")
def _empty_databases(_servers, _dropper) -> Iterator[list[str]]:
    free: list[str] = []
    try:
        yield free
    finally:
        for name in free:
            _dropper.names.put(name)


@pytest.fixture
async def empty_database_url(_servers, _empty_databases, _dropper) -> AsyncIterator[str]:
    """A database with nothing in it (not even migrations)."""
    server_url = _servers[0]
    if _empty_databases:
        name = _empty_databases.pop()
    else:
        name = f"pytake_e_{os.getpid()}_{secrets.token_hex(3)}"
        await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
                for sql in _EMPTY_PUBLIC:
                    await conn.execute(text(sql))
        except Exception:  # noqa: BLE001 - not reusable: dropped in the background
            _dropper.names.put(name)
        else:
            _empty_databases.append(name)
        finally:
            await engine.dispose()


@dataclass
class Tenant:
    organization: Organization
    user: User
    contact: Contact
    conversation: Conversation
    chatbot: Chatbot
    flow: Flow


@pytest.fixture
async def tenant(db) -> Tenant:
    async with db.transaction() as s:
        org = Organization(name="Napoli Delivery", slug=f"napoli-{uuid.uuid4().hex[:8]}")
        s.add(org)
        await s.flush()
        user = User(organization_id=org.id, email=f"ana-{uuid.uuid4().hex[:8]}@napoli.example",
                    password_hash="x", full_name="Ana Souza")
        contact = Contact(organization_id=org.id, whatsapp_id="5511987654321", name="João Silva")
        chatbot = Chatbot(organization_id=org.id, name="Atendimento")
        s.add_all([user, contact, chatbot])
        await s.flush()
        conversation = Conversation(organization_id=org.id, contact_id=contact.id,
                                    chatbot_id=chatbot.id, assigned_to=user.id)
        flow = Flow(chatbot_id=chatbot.id, name="nps_survey", created_by=user.id)
        s.add_all([conversation, flow])
    return Tenant(org, user, contact, conversation, chatbot, flow)
