"""Run the Alembic migrations from code (`pytake db`, tests, `pytake serve`).

Alembic's environment runs its own event loop, so these functions are
synchronous and, when called from a thread that already runs a loop, do the
work in a helper thread.
"""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path
from typing import Any, Callable

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str, *, stdout: Any = None) -> Config:
    """An Alembic `Config` for our migrations, bound to ``database_url``."""
    config = Config(stdout=stdout or io.StringIO())
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    return config


def _outside_loop(fn: Callable[[], Any]) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target, name="alembic")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


def upgrade(database_url: str, revision: str = "head", *, stdout: Any = None) -> None:
    _outside_loop(lambda: command.upgrade(alembic_config(database_url, stdout=stdout), revision))


def downgrade(database_url: str, revision: str, *, stdout: Any = None) -> None:
    _outside_loop(lambda: command.downgrade(alembic_config(database_url, stdout=stdout), revision))


def current(database_url: str) -> list[str]:
    """The revisions the database is at (empty when it was never migrated)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.pool import NullPool

    from api.db.session import create_engine_for

    async def read() -> list[str]:
        engine = create_engine_for(database_url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: list(MigrationContext.configure(sync).get_current_heads()))
        finally:
            await engine.dispose()

    return _outside_loop(lambda: asyncio.run(read()))


def head() -> str:
    """The newest revision in migrations/versions."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("unused://"))
    heads = script.get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads: {heads}")
    return heads[0]
