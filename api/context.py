"""Per-app services for route code: settings, database and redis.

They live in ``current_app.extensions`` (set up by `api.app.create_app`), so
route modules never import a global connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Awaitable, Callable, TypeVar

from quart import current_app, g

if TYPE_CHECKING:  # pragma: no cover
    import redis.asyncio as aioredis

    from api.db.replica import ReadRouter
    from api.db.session import Database
    from api.redis_pipe import ScriptPipe
    from api.resources.totals import TotalsCache
    from api.settings import Settings

SETTINGS_KEY = "pytake.settings"
DB_KEY = "pytake.db"
REDIS_KEY = "pytake.redis"
TOTALS_KEY = "pytake.totals"
AUTH_PIPE_KEY = "pytake.auth_pipe"
READER_KEY = "pytake.reader"
T = TypeVar("T")


def get_settings() -> "Settings":
    return current_app.extensions[SETTINGS_KEY]


def get_db() -> "Database":
    db = current_app.extensions.get(DB_KEY)
    if db is None:
        raise RuntimeError("the database is not open (app not started?)")
    return db


def get_reader() -> "ReadRouter | None":
    """The read router (`api.db.replica`) when a replica is configured, else None."""
    return current_app.extensions.get(READER_KEY)


async def on_read_db(read: "Callable[[Database], Awaitable[T]]") -> T:
    """``await read(db)`` for a read-only route: on the replica when one is
    configured and it has replayed the caller's own latest write, else (or
    when it fails to answer) on the primary. ``read`` must only read."""
    router = current_app.extensions.get(READER_KEY)
    if router is None:
        return await read(get_db())
    principal = g.get("principal")
    return await router.run(principal.user_id if principal is not None else None, read)


def get_redis() -> "aioredis.Redis":
    redis = current_app.extensions.get(REDIS_KEY)
    if redis is None:
        raise RuntimeError("redis is not open (app not started?)")
    return redis


def get_auth_pipe() -> "ScriptPipe | None":
    """The process's pipelined connection for the per-request auth script
    (`api.redis_pipe`), when the app opened one."""
    return current_app.extensions.get(AUTH_PIPE_KEY)


def get_totals() -> "TotalsCache":
    """This process's cache of large list totals (`api.resources.totals`)."""
    return current_app.extensions[TOTALS_KEY]
