"""Single-statement database access for the runtime's hot path.

A SQLAlchemy session opens a transaction on first use: ``BEGIN``, the
statement, then ``COMMIT``/``ROLLBACK`` — three round trips for one query. A
statement that stands alone (a read, or one write statement whose CTEs hold
the whole change) is atomic by itself, so these run it on an AUTOCOMMIT
connection: one round trip.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncConnection

from api.db.session import Database


@asynccontextmanager
async def reading(db: Database) -> AsyncIterator[AsyncConnection]:
    """A connection for reads, each statement its own snapshot (no transaction)."""
    async with db.engine.connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


# one statement = one atomic change; the name says why the caller uses it
writing = reading
