"""A real PgBouncer in transaction mode for tests: the pytest side of
tests/pgbouncer_process.py (which starts and stops it; bench/scale.py uses that too).

Its server pool is much smaller than the clients' pools, so that consecutive
transactions of one client land on different PostgreSQL connections and a
statement prepared in one is gone in the next. `through` turns a test
database URL into the URL PyTake is given: PgBouncer's address plus
``?pooler=pgbouncer-transaction``.

A test module runs its tests (or tests it imports from another module) through
PgBouncer by importing the `database_url` fixture below, which overrides the root
one (and so every fixture built on it: ``db``, settings, apps, workers)::

    from tests.pgbouncer import database_url  # noqa: F401 - through PgBouncer

tests/pgbouncer_prepared.py's `database_url` is the same with PgBouncer keeping
prepared statements (``max_prepared_statements``, PgBouncer 1.21+; `PREPARED`) and
PyTake told so (``?pooler=pgbouncer-prepared``).
"""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest

from tests.pgbouncer_process import PgBouncer, pgbouncer_version, prepared_pgbouncer, running_pgbouncer, through

__all__ = ["PREPARED", "PgBouncer", "database_url", "pgbouncer_version", "prepared_pgbouncer", "running_pgbouncer",
           "through"]

# PgBouncer's settings for ``?pooler=pgbouncer-prepared`` (docs/runtime.md "PgBouncer"):
# statements kept per server connection, planned as PyTake's direct connections plan them
PREPARED: dict[str, object] = {"max_prepared_statements": 200,
                               "connect_query": "SET plan_cache_mode = force_generic_plan"}


@pytest.fixture
async def database_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """The test database (the root fixture's) through its own PgBouncer."""
    async with running_pgbouncer(database_url, tmp_path / "pgbouncer") as bouncer:
        yield through(database_url, bouncer.host, bouncer.port)
