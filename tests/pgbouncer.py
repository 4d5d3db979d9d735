"""A real PgBouncer (Debian's /usr/sbin/pgbouncer) in transaction mode, for tests.

`running_pgbouncer(server_url)` starts one on a free 127.0.0.1 port in front of
the test server (any database name is passed through: ``* = host=... port=...``),
with a server pool much smaller than the clients' pools, so that consecutive
transactions of one client land on different PostgreSQL connections and a
statement prepared in one is gone in the next. `through` turns a test
database URL into the URL PyTake is given: PgBouncer's address plus
``?pooler=pgbouncer-transaction``.

A test module runs its tests (or tests it imports from another module) through
PgBouncer by importing the `database_url` fixture below, which overrides the root
one (and so every fixture built on it: ``db``, settings, apps, workers)::

    from tests.pgbouncer import database_url  # noqa: F401 - through PgBouncer
"""

from __future__ import annotations

import asyncio
import os
import pwd
import socket
import subprocess
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

PGBOUNCER = Path("/usr/sbin/pgbouncer")
# server connections per (database, user): fewer than the transactions the
# tests run at once, so clients share (and queue for) server connections
SERVER_POOL_SIZE = 3


def pgbouncer_version() -> tuple[int, ...]:
    out = subprocess.run([str(PGBOUNCER), "--version"], capture_output=True, text=True, check=True).stdout
    return tuple(int(part) for part in out.split()[1].split("."))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unprivileged_user() -> str:
    """PgBouncer refuses to run as root: there it switches to ``postgres`` (or ``nobody``)."""
    if os.geteuid() != 0:
        return ""
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return f"user = {name}\n"
    raise RuntimeError("running as root, and neither a postgres nor a nobody user to run pgbouncer as")


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@asynccontextmanager
async def running_pgbouncer(server_url: str, workdir: Path) -> AsyncIterator[tuple[str, int]]:
    """``(host, port)`` of a PgBouncer in transaction mode before ``server_url``'s server."""
    if not PGBOUNCER.exists():
        raise RuntimeError(f"{PGBOUNCER} is missing: apt-get install pgbouncer (.ci/run does)")
    server = make_url(server_url)
    user = server.username or "postgres"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "users.txt").write_text(f"{_quote(user)} {_quote(server.password or '')}\n")
    port = _free_port()
    host = server.host or server.query.get("host") or "127.0.0.1"
    server_port = server.port or int(server.query.get("port") or 5432)
    ini = workdir / "pgbouncer.ini"
    ini.write_text(f"""[databases]
* = host={host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {workdir / 'users.txt'}
pool_mode = transaction
default_pool_size = {SERVER_POOL_SIZE}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 1000
{_unprivileged_user()}""")
    # it logs to stderr (no log file: as root it switches users and could not open one here)
    proc = subprocess.Popen([str(PGBOUNCER), str(ini)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        await _wait_accepting(proc, port, workdir)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _wait_accepting(proc: subprocess.Popen, port: int, workdir: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pgbouncer exited ({proc.returncode}): {proc.stderr.read().decode()}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError("pgbouncer did not accept connections within 60 s")


def through(database_url: str, host: str, port: int) -> str:
    """``database_url`` (a test database) as reached through PgBouncer at ``host:port``."""
    url = make_url(database_url).difference_update_query(["host", "port"])
    url = url.set(host=host, port=port).update_query_dict({"pooler": "pgbouncer-transaction"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
async def database_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """The test database (the root fixture's) through its own PgBouncer."""
    async with running_pgbouncer(database_url, tmp_path / "pgbouncer") as (host, port):
        yield through(database_url, host, port)
