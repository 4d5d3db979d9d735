"""A real PgBouncer that keeps prepared statements, for tests: PyTake behind it with
``?pooler=pgbouncer-prepared`` (docs/runtime.md "PgBouncer"), its statement caches on.

PgBouncer tracks clients' named statements from 1.21 on (``max_prepared_statements``).
Debian 12's is 1.18, so these tests run when ``PGBOUNCER`` names a 1.21+ build (README,
"Tests") and are reported as skipped, with that reason, when it does not. A test module
goes through it by importing the fixture::

    from tests.pgbouncer_prepared import database_url  # noqa: F401 - through PgBouncer, prepared
"""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest

from tests.pgbouncer import PREPARED, pgbouncer_version, running_pgbouncer, through, tracks_prepared_statements

__all__ = ["database_url", "require_prepared_statements"]


def require_prepared_statements() -> None:
    if not tracks_prepared_statements():
        version = ".".join(map(str, pgbouncer_version()))
        pytest.skip(f"PgBouncer {version} keeps no prepared statements (1.21+ does): "
                    "set PGBOUNCER to a 1.21+ build to run ?pooler=pgbouncer-prepared")


@pytest.fixture(name="database_url")
async def database_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """The test database (the root fixture's) through its own PgBouncer with
    ``max_prepared_statements``."""
    require_prepared_statements()
    async with running_pgbouncer(database_url, tmp_path / "pgbouncer", **PREPARED) as bouncer:
        yield through(database_url, bouncer.host, bouncer.port, "pgbouncer-prepared")
