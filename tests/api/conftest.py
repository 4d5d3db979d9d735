"""Fixtures for API tests: the app, a client, and signed-in users of every role.

Built on the root fixtures (`database_url`, `db`, `redis_url`, `redis`).
Stable names other API test modules rely on:

- ``app``: a started app (`create_app`) on the test database and redis;
- ``client``: its test client;
- ``org_admin``, ``agent``, ``viewer``, ``super_admin``: users of organization A,
  each an `Actor` with ``.token``, ``.user_id``, ``.org_id``, ``.role``,
  ``.email``, ``.password`` and ``.headers`` (the Authorization header);
- ``other_org_admin``: the org_admin of a second organization, B;
- ``actors``: role name → `Actor` for organization A;
- ``make_actor``: coroutine factory ``await make_actor(org_id, role)`` for more users;
- ``api_settings``: the `Settings` the app runs with (fresh keys per test).
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from cryptography.fernet import Fernet

from api.app import create_app
from api.auth.passwords import hash_password
from api.auth.tokens import create_access_token
from api.db.models import Organization, User
from api.settings import Settings

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


@dataclass(frozen=True)
class Actor:
    """A user who can call the API: ids, credentials and a ready Authorization header."""

    user_id: uuid.UUID
    org_id: uuid.UUID
    role: str
    email: str
    token: str
    password: str = PASSWORD
    headers: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One Argon2 hash of `PASSWORD`, computed once (hashing is deliberately slow)."""
    return hash_password(PASSWORD)


def settings_for(database_url: str, redis_url: str, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        data_dir=data_dir,
        secret_key="test-secret-" + uuid.uuid4().hex,
        encryption_key=Fernet.generate_key().decode("ascii"),
        **overrides,
    )


@pytest.fixture
def api_settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, redis_url, tmp_path)


@pytest.fixture
async def app(api_settings: Settings, redis):  # noqa: ANN001 - `redis` makes the db clean first
    application = create_app(api_settings)
    async with application.test_app():
        yield application


@pytest.fixture
def client(app):  # noqa: ANN001
    return app.test_client()


async def create_organization(db, name: str) -> uuid.UUID:  # noqa: ANN001
    async with db.transaction() as session:
        org = Organization(name=name, slug=f"{name.lower().replace(' ', '-')}-{next(_counter)}-"
                                              f"{uuid.uuid4().hex[:6]}")
        session.add(org)
        await session.flush()
        return org.id


@pytest.fixture
def make_actor(db, api_settings: Settings, password_hash: str) -> Callable[..., Awaitable[Actor]]:  # noqa: ANN001
    async def make(org_id: uuid.UUID, role: str, *, email: str | None = None) -> Actor:
        email = email or f"{role}-{next(_counter)}-{uuid.uuid4().hex[:6]}@example.com"
        async with db.transaction() as session:
            user = User(organization_id=org_id, email=email, full_name=f"Test {role}",
                        password_hash=password_hash, role=role)
            session.add(user)
            await session.flush()
            user_id = user.id
        token, _ = create_access_token(
            api_settings.secret_key, user_id=user_id, organization_id=org_id, role=role,
            ttl_seconds=api_settings.access_token_ttl_seconds,
        )
        return Actor(user_id=user_id, org_id=org_id, role=role, email=email, token=token,
                     headers={"Authorization": f"Bearer {token}"})

    return make


@pytest.fixture
async def org_a(db) -> uuid.UUID:  # noqa: ANN001
    return await create_organization(db, "Org A")


@pytest.fixture
async def org_b(db) -> uuid.UUID:  # noqa: ANN001
    return await create_organization(db, "Org B")


@pytest.fixture
async def org_admin(make_actor, org_a) -> Actor:  # noqa: ANN001
    return await make_actor(org_a, "org_admin")


@pytest.fixture
async def super_admin(make_actor, org_a) -> Actor:  # noqa: ANN001
    return await make_actor(org_a, "super_admin")


@pytest.fixture
async def agent(make_actor, org_a) -> Actor:  # noqa: ANN001
    return await make_actor(org_a, "agent")


@pytest.fixture
async def viewer(make_actor, org_a) -> Actor:  # noqa: ANN001
    return await make_actor(org_a, "viewer")


@pytest.fixture
async def other_org_admin(make_actor, org_b) -> Actor:  # noqa: ANN001
    return await make_actor(org_b, "org_admin")


@pytest.fixture
def actors(super_admin: Actor, org_admin: Actor, agent: Actor, viewer: Actor) -> dict[str, Actor]:
    return {"super_admin": super_admin, "org_admin": org_admin, "agent": agent, "viewer": viewer}
