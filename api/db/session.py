"""`Database`: one async engine (asyncpg) and its session factory.

Create it inside the event loop that will use it (asyncpg connections belong
to a loop) and ``await db.dispose()`` when done.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from api.settings import normalize_database_url


class Database:
    """An engine plus ``session()`` (you commit) and ``transaction()`` (commits
    on success, rolls back on error)."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalize_database_url(url) or url
        engine_kwargs.setdefault("pool_pre_ping", True)
        self.engine: AsyncEngine = create_async_engine(self.url, **engine_kwargs)
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            async with session.begin():
                yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A pooled Core connection in autocommit, for single-statement reads.

        No ORM session and no BEGIN/ROLLBACK round trips around the query:
        each statement sees its own snapshot, which is all a one-statement
        read needs (a list page and its total are one statement).
        """
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    def single_statement(self):
        """An autocommit connection for one write statement that holds the whole
        change (its CTEs): atomic by itself, one round trip instead of three."""
        return self.reading()

    async def dispose(self) -> None:
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"
