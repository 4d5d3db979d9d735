"""Alembic environment (async, asyncpg).

The URL is, in order: ``config.attributes["database_url"]`` (set by
`pytake db` and the tests), ``-x url=...``, then ``Settings.from_env()``; with
none, the embedded PostgreSQL is started. A caller may also pass an open
synchronous connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from api.db.migration_filters import AUTOGENERATE_OPTIONS
from api.db.models import Base

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.attributes.get("database_url") or context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    from api.settings import Settings

    settings = Settings.from_env()
    if settings.database_url:
        return settings.database_url
    from api.embedded import ensure_servers_sync

    database_url, _ = ensure_servers_sync(settings, redis=False)
    return database_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        **AUTOGENERATE_OPTIONS,
        transaction_per_migration=True,
    )


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    from api.db.session import create_engine_for

    engine = create_engine_for(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_sync(connection)
        return
    asyncio.run(_run_async(_database_url()))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
