"""Embedded PostgreSQL and Redis: start, keep data across restarts, share one
server between processes, stop cleanly. (Slower: real servers in a temp dir.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import redis as sync_redis
from sqlalchemy import text

from api import embedded
from api.db.session import Database
from api.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def running(pid: int) -> bool:
    """Whether process ``pid`` runs, as /proc shows it (a zombie has stopped), observed
    here rather than through api.embedded's own bookkeeping."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().split(b") ", 1)[1][:1] != b"Z"
    except FileNotFoundError:
        return False


def _traversable_tempdir() -> Path:
    # Not under pytest's tmp_path: as root, PostgreSQL runs as the
    # `embedded_postgres` user, which must traverse the path, and pytest keeps
    # /tmp/pytest-of-root at mode 0700.
    path = Path(tempfile.mkdtemp(prefix="pytake-embedded-"))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def initialized_data_dir():
    """A data dir whose servers were started once and stopped (initdb is slow)."""
    path = _traversable_tempdir()
    embedded.ensure_servers_sync(Settings(data_dir=path / "data"))
    embedded.release(path / "data")
    yield path / "data"
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def data_dir(initialized_data_dir):
    path = _traversable_tempdir()
    subprocess.run(["cp", "-a", str(initialized_data_dir), str(path / "data")], check=True)
    try:
        yield path / "data"
    finally:
        embedded.release(path / "data")
        shutil.rmtree(path, ignore_errors=True)


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])


def _redis_pid(data_dir: Path) -> int:
    return int((data_dir / "redis" / "redis.pid").read_text())


async def _sql(url: str, sql: str):
    db = Database(url)
    try:
        async with db.transaction() as s:
            return (await s.execute(text(sql))).all() if sql.lstrip().upper().startswith("SELECT") \
                else await s.execute(text(sql))
    finally:
        await db.dispose()


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir)


async def test_data_survives_a_stop_and_start(data_dir):
    database_url, redis_url = embedded.ensure_servers_sync(_settings(data_dir))
    await _sql(database_url, "CREATE TABLE kept (v text)")
    await _sql(database_url, "INSERT INTO kept VALUES ('olá')")
    sync_redis.Redis.from_url(redis_url).set("kept", "sim")
    pg_pid, redis_pid = _postmaster_pid(data_dir), _redis_pid(data_dir)

    embedded.release(data_dir)
    assert not running(pg_pid) and not running(redis_pid)

    database_url, redis_url = embedded.ensure_servers_sync(_settings(data_dir))
    assert await _sql(database_url, "SELECT v FROM kept") == [("olá",)]
    assert sync_redis.Redis.from_url(redis_url).get("kept") == b"sim"


async def test_a_second_process_reuses_the_running_servers(data_dir):
    database_url, redis_url = embedded.ensure_servers_sync(_settings(data_dir))
    pg_pid, redis_pid = _postmaster_pid(data_dir), _redis_pid(data_dir)
    script = (
        "import json, sys; from pathlib import Path; from api import embedded; "
        "from api.settings import Settings; "
        "urls = embedded.ensure_servers_sync(Settings(data_dir=Path(sys.argv[1]))); "
        "print(json.dumps(urls))"
    )
    out = subprocess.run([sys.executable, "-c", script, str(data_dir)], cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [database_url, redis_url]
    # the other process exited, but we still use the servers: they keep running
    assert _postmaster_pid(data_dir) == pg_pid and running(pg_pid)
    assert _redis_pid(data_dir) == redis_pid and running(redis_pid)
    assert await _sql(database_url, "SELECT 1") == [(1,)]


async def test_stop_leaves_no_server_process(data_dir):
    embedded.ensure_servers_sync(_settings(data_dir))
    pids = _postmaster_pid(data_dir), _redis_pid(data_dir)
    embedded.release(data_dir)
    assert [running(p) for p in pids] == [False, False]
    assert not (data_dir / "redis" / "redis.sock").exists()


async def test_a_server_left_by_a_killed_process_is_reused_and_stopped(data_dir):
    script = (
        "import os, sys; from pathlib import Path; from api import embedded; "
        "from api.settings import Settings; "
        "embedded.ensure_servers_sync(Settings(data_dir=Path(sys.argv[1]))); "
        "os._exit(0)"  # dies without releasing the servers
    )
    subprocess.run([sys.executable, "-c", script, str(data_dir)], cwd=REPO, timeout=120, check=True)
    pids = _postmaster_pid(data_dir), _redis_pid(data_dir)
    assert all(running(p) for p in pids)
    embedded.ensure_servers_sync(_settings(data_dir))
    assert (_postmaster_pid(data_dir), _redis_pid(data_dir)) == pids
    embedded.release(data_dir)
    assert [running(p) for p in pids] == [False, False]


async def test_configured_urls_start_nothing(tmp_path):
    settings = Settings(database_url="postgresql+asyncpg://db.example/pytake",
                        redis_url="redis://cache.example:6379/0", data_dir=tmp_path)
    assert embedded.ensure_servers_sync(settings) == (settings.database_url, settings.redis_url)
    assert not (tmp_path / "postgres").exists() and not (tmp_path / "redis").exists()
