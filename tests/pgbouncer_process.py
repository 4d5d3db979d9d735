"""Start and stop a real PgBouncer (Debian's /usr/sbin/pgbouncer) in transaction mode.

``PGBOUNCER=/path/to/pgbouncer`` picks another build; ``?pooler=pgbouncer-prepared``
needs a PgBouncer 1.21+ (`prepared_pgbouncer`): ``PGBOUNCER_PREPARED``, else
``PGBOUNCER`` if it is one (.ci/run builds Debian 13's 1.24 for it:
.ci/pgbouncer_prepared.sh).

The one starter of the tests' fixtures (tests/pgbouncer.py, which holds the pytest side)
and of bench/scale.py; no pytest here. `running_pgbouncer(server_url, workdir, **settings)`
writes ``pgbouncer.ini`` into ``workdir`` (every database name passed through to
``server_url``'s server: ``* = host=... port=...``; ``settings`` override `DEFAULTS`, the
tests' tiny server pool), starts PgBouncer on a free 127.0.0.1 port with its log in
``workdir/pgbouncer.log`` (its stderr: as root it switches to an unprivileged user and could
not open a log file of its own here; a pipe nobody reads would fill up and stop it), waits
until a client can log in through it and run a statement, and stops it on the way out.
Failing to start raises with the tail of that log.
"""

from __future__ import annotations

import asyncio
import functools
import os
import pwd
import socket
import subprocess
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

from sqlalchemy.engine import make_url

PGBOUNCER = Path(os.environ.get("PGBOUNCER") or "/usr/sbin/pgbouncer")
TRACKS_PREPARED_FROM = (1, 21)  # max_prepared_statements
START_TIMEOUT = 60.0  # a loaded 2-core machine starts processes slowly
STOP_TIMEOUT = 10.0  # then SIGKILL
LOG_TAIL_LINES = 20
# server connections per (database, user): fewer than the transactions the tests run at
# once, so clients share (and queue for) server connections
SERVER_POOL_SIZE = 3
DEFAULTS: dict[str, object] = {
    "pool_mode": "transaction",
    "default_pool_size": SERVER_POOL_SIZE,
    "min_pool_size": 0,
    "reserve_pool_size": 0,
    "max_client_conn": 1000,
}


@dataclass(frozen=True)
class PgBouncer:
    host: str
    port: int
    pid: int
    log: Path  # its stderr


@functools.lru_cache(maxsize=None)  # asked at every start of a PgBouncer
def pgbouncer_version(binary: Path = PGBOUNCER) -> tuple[int, ...]:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True).stdout
    return tuple(int(part) for part in out.split()[1].split("."))


def tracks_prepared_statements(binary: Path = PGBOUNCER) -> bool:
    """Whether this PgBouncer can keep clients' named statements (1.21+: ``max_prepared_statements``)."""
    return pgbouncer_version(binary) >= TRACKS_PREPARED_FROM


def prepared_pgbouncer() -> tuple[Path | None, str]:
    """``(a PgBouncer 1.21+, "")``, or ``(None, why there is none)``."""
    named = os.environ.get("PGBOUNCER_PREPARED")
    candidates = ([Path(named)] if named else []) + [PGBOUNCER]
    present = [binary for binary in candidates if binary.exists()]
    for binary in present:
        if tracks_prepared_statements(binary):
            return binary, ""
    found = "; ".join([f"{b} is {'.'.join(map(str, pgbouncer_version(b)))}" for b in present]
                      + [f"{b} is missing" for b in candidates if b not in present])
    return None, (f"no PgBouncer 1.21+ to keep prepared statements ({found}): "
                  "set PGBOUNCER_PREPARED (.ci/pgbouncer_prepared.sh builds one)")


def through(database_url: str, host: str, port: int, pooler: str = "pgbouncer-transaction") -> str:
    """``database_url`` as reached through PgBouncer at ``host:port``, as PyTake is given it."""
    url = make_url(database_url).difference_update_query(["host", "port"])
    url = url.set(host=host, port=port).update_query_dict({"pooler": pooler})
    return url.render_as_string(hide_password=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unprivileged_user(socket_dir: str | None = None) -> str | None:
    """PgBouncer refuses to run as root: there it switches to the owner of the server's
    socket directory when that is not root (the embedded server's system user, the only
    one who may enter it), else to ``postgres`` (or ``nobody``)."""
    if os.geteuid() != 0:
        return None
    if socket_dir is not None:
        try:
            owner = os.stat(socket_dir).st_uid
        except OSError:
            owner = 0
        if owner != 0:
            return pwd.getpwuid(owner).pw_name
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root, and neither a postgres nor a nobody user to run pgbouncer as")


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(the log is empty)"


@asynccontextmanager
async def running_pgbouncer(server_url: str, workdir: Path, *, connect_query: str | None = None,
                            binary: Path = PGBOUNCER, **settings: object) -> AsyncIterator[PgBouncer]:
    """A PgBouncer (``binary``) before ``server_url``'s server, ready (a client logged in
    through it); ``connect_query`` runs on each server connection it opens."""
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing: apt-get install pgbouncer (.ci/run does)")
    server = make_url(server_url)
    user = server.username or "postgres"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "users.txt").write_text(f"{_quote(user)} {_quote(server.password or '')}\n")
    port = _free_port()
    host = server.host or server.query.get("host") or "127.0.0.1"
    server_port = server.port or int(server.query.get("port") or 5432)
    options = {**DEFAULTS, "listen_addr": "127.0.0.1", "listen_port": port, "unix_socket_dir": "",
               "auth_type": "trust", "auth_file": workdir / "users.txt", **settings}
    if tracks_prepared_statements(binary):  # 1.22+ keeps 200 by default: off unless asked, as 1.18
        options.setdefault("max_prepared_statements", 0)
    if (run_as := _unprivileged_user(host if host.startswith("/") else None)) is not None:
        options.setdefault("user", run_as)
    ini = workdir / "pgbouncer.ini"
    database = f"host={host} port={server_port}"
    if connect_query:
        database += " connect_query='" + connect_query.replace("'", "''") + "'"
    ini.write_text(f"[databases]\n* = {database}\n\n[pgbouncer]\n"
                   + "".join(f"{name} = {value}\n" for name, value in options.items()))
    log = workdir / "pgbouncer.log"
    with open(log, "wb") as stderr:  # the child keeps its own descriptor
        proc = subprocess.Popen([str(binary), str(ini)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        await _wait_ready(proc, port, user, server.database or "postgres", log)
        yield PgBouncer("127.0.0.1", port, proc.pid, log)
    finally:
        await _stop(proc)


async def _wait_ready(proc: subprocess.Popen, port: int, user: str, database: str, log: Path) -> None:
    """Until a client logs in through PgBouncer and its server answers a statement."""
    import asyncpg

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"pgbouncer exited ({proc.returncode}); the tail of {log}:\n{log_tail(log)}")
        try:
            conn = await asyncpg.connect(host="127.0.0.1", port=port, user=user, database=database,
                                         statement_cache_size=0, timeout=10)
            try:
                await conn.execute("SELECT 1")
            finally:
                await conn.close()
            return
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer was not ready within {START_TIMEOUT:.0f} s ({exc!r}); "
                                   f"the tail of {log}:\n{log_tail(log)}") from exc
            await asyncio.sleep(0.05)


async def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM (PgBouncer 1.18: shut down at once), SIGKILL if it is still there after
    `STOP_TIMEOUT` (or the wait is cancelled); reaped either way."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        await asyncio.to_thread(proc.wait, STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except BaseException:  # cancelled meanwhile: never leave it running
        proc.kill()
        proc.wait()
        raise
