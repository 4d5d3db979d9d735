"""A real PgBouncer that keeps prepared statements, for tests: PyTake behind it with
``?pooler=pgbouncer-prepared`` (docs/runtime.md "PgBouncer"), its statement caches on.

PgBouncer tracks clients' named statements from 1.21 on (``max_prepared_statements``).
Debian 12's is 1.18, so these tests run a PgBouncer named by ``PGBOUNCER_PREPARED``
(.ci/run builds Debian 13's 1.24 for it: .ci/pgbouncer_prepared.sh), and are reported as
skipped, with the reason, when there is none. A test module goes through it by importing
the fixture::

    from tests.pgbouncer_prepared import database_url  # noqa: F401 - through PgBouncer, prepared
"""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest

from tests.pgbouncer import PREPARED, prepared_pgbouncer, running_pgbouncer, through

__all__ = ["database_url", "require_prepared_pgbouncer"]


def require_prepared_pgbouncer() -> Path:
    """The PgBouncer 1.21+ to run, or the test is skipped saying why there is none."""
    binary, why = prepared_pgbouncer()
    if binary is None:
        pytest.skip(why)
    return binary


@pytest.fixture(name="database_url")
async def database_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """The test database (the root fixture's) through its own PgBouncer with
    ``max_prepared_statements``."""
    binary = require_prepared_pgbouncer()
    async with running_pgbouncer(database_url, tmp_path / "pgbouncer", binary=binary, **PREPARED) as bouncer:
        yield through(database_url, bouncer.host, bouncer.port, "pgbouncer-prepared")
