"""Fixtures for data-layer tests: an empty database, and a small tenant
(organization, user, contact, conversation, chatbot, flow) to hang rows on."""

from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass
from typing import AsyncIterator

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


@pytest.fixture
async def empty_database_url(_servers) -> AsyncIterator[str]:
    """A database with nothing in it (not even migrations)."""
    server_url = _servers[0]
    name = f"pytake_e_{os.getpid()}_{secrets.token_hex(3)}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
