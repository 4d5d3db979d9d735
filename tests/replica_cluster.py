"""A real PostgreSQL primary and a streaming standby (pg_basebackup -R), for tests.

`StreamingPair(workdir)` initdb's a primary on a free 127.0.0.1 port
(``wal_level=replica``), clones it with ``pg_basebackup -R -X stream`` into a
standby on another free port, and starts both (as the ``postgres`` user when
the tests run as root: PostgreSQL refuses to run as root). Lag is injected by
pausing the standby's replay (``pg_wal_replay_pause()``); the standby can be
stopped and started again to play an unreachable replica.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")


def _bin(name: str) -> str:
    found = shutil.which(name, path=f"/usr/local/bin:{BIN}")
    if not found:
        raise RuntimeError(f"{name} is missing (PostgreSQL server binaries)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


def _run(argv: list[str]) -> None:
    result = subprocess.run(_as_server_user(argv), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stdout}\n{result.stderr}")


class StreamingPair:
    def __init__(self, workdir: Path | None = None) -> None:
        # its own directory under the system temp dir: the server user must reach it
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="pytake-replica-"))
        self.primary_dir = self.workdir / "primary"
        self.standby_dir = self.workdir / "standby"
        self.primary_port = _free_port()
        self.standby_port = _free_port()

    def url(self, port: int, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{database}"

    def primary_url(self, database: str = "postgres") -> str:
        return self.url(self.primary_port, database)

    def standby_url(self, database: str = "postgres") -> str:
        return self.url(self.standby_port, database)

    def start(self) -> "StreamingPair":
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.workdir, user.pw_uid, user.pw_gid)
        _run([_bin("initdb"), "-D", str(self.primary_dir), "-U", "postgres", "--auth=trust",
              "-E", "UTF8", "--locale=C.UTF-8"])
        with open(self.primary_dir / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {self.primary_port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.workdir}'\nwal_level = replica\n"
                       "max_wal_senders = 4\nfsync = off\nsynchronous_commit = off\n"
                       "full_page_writes = off\nshared_buffers = 32MB\nmax_connections = 100\n")
        self._pg_ctl(self.primary_dir, "start")
        _run([_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
              "-D", str(self.standby_dir), "-R", "-X", "stream", "-c", "fast"])
        with open(self.standby_dir / "postgresql.auto.conf", "a") as conf:
            conf.write(f"\nport = {self.standby_port}\nhot_standby = on\n"
                       # a paused replay must not cancel the tests' reads
                       "max_standby_streaming_delay = -1\n")
        self.start_standby()
        return self

    def _pg_ctl(self, data: Path, action: str) -> None:
        argv = [_bin("pg_ctl"), "-D", str(data), "-w", "-t", "120", action]
        if action in ("start", "restart"):
            argv[1:1] = ["-l", str(data.parent / f"{data.name}.log")]
        else:
            argv += ["-m", "fast"]
        _run(argv)

    def start_standby(self) -> None:
        self._pg_ctl(self.standby_dir, "start")

    def stop_standby(self) -> None:
        self._pg_ctl(self.standby_dir, "stop")

    def stop(self) -> None:
        for data in (self.standby_dir, self.primary_dir):
            if (data / "postmaster.pid").exists():
                try:
                    self._pg_ctl(data, "stop")
                except RuntimeError:
                    pass
        shutil.rmtree(self.workdir, ignore_errors=True)
