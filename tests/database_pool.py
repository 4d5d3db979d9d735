"""Test databases cloned once per session and emptied between tests.

PostgreSQL 15 forces a checkpoint for every ``DROP DATABASE`` (and for every
``CREATE DATABASE ... STRATEGY FILE_COPY``); one per test made a busy machine
wait minutes for a drop. So a session clones only as many databases as its
tests use at once (usually one) and, after each test, gives the database back
as the template left it:

1. the test's leftover connections (a server process it spawned, a pool it
   did not close) are terminated;
2. the tables holding rows are emptied (a superuser: ``DELETE`` with
   foreign keys and triggers off, and planner statistics forgotten; else one
   ``TRUNCATE ... RESTART IDENTITY CASCADE``, ten times slower);
3. partitions the test created (``messages_2031_05`` ...) are dropped;
4. if the schema still differs from the template (a test dropped an index,
   added a trigger or a sequence), the database is not reused: it is dropped
   and the next test gets a fresh clone;
5. rows the migrations insert (``alembic_version``) are put back, and every
   sequence is set back to where the template has it.

A database that cannot be reset for any reason is dropped, never reused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

log = logging.getLogger(__name__)

# Everything a test could change in the schema of `public` (and a few
# database-wide catalogs), by name and definition: an object a test drops and
# creates again the same (a foreign key around a partition move) is no change;
# the clones PostgreSQL makes of it for each partition are left out (their
# names carry a counter).
_SCHEMA_FINGERPRINT = r"""
SELECT md5(coalesce(string_agg(x, E'\n' ORDER BY x), '')) FROM (
  SELECT concat_ws(':', 'c', relname, relkind, relpersistence, reloptions)
    FROM pg_class WHERE relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(':', 'a', a.attrelid::regclass, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
                   a.attnotnull, a.attisdropped, a.attgenerated, a.attidentity, pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0
  UNION ALL
  SELECT concat_ws(':', 'i', pg_get_indexdef(i.indexrelid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(':', 'k', conrelid::regclass, contypid::regtype, conname, convalidated, pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conparentid = 0
  UNION ALL
  SELECT concat_ws(':', 't', t.tgenabled, pg_get_triggerdef(t.oid)) FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
  UNION ALL
  SELECT concat_ws(':', 'p', proname, pg_get_function_identity_arguments(oid), md5(prosrc))
    FROM pg_proc WHERE pronamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(':', 'y', typname) FROM pg_type WHERE typnamespace = 'public'::regnamespace
  UNION ALL SELECT concat_ws(':', 'n', nspname) FROM pg_namespace
  UNION ALL SELECT concat_ws(':', 'e', extname, extversion) FROM pg_extension
  UNION ALL SELECT concat_ws(':', 'v', enumtypid::regtype, enumsortorder, enumlabel) FROM pg_enum
  UNION ALL SELECT concat_ws(':', 'r', polrelid::regclass, polname) FROM pg_policy
  UNION ALL SELECT concat_ws(':', 'g', setconfig) FROM pg_db_role_setting
   WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
) s(x)
"""

# Tables that hold rows, partitioned parents included; partitions are emptied
# through their parent.
_TABLES = """
SELECT quote_ident(c.relname) FROM pg_class c
 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
 ORDER BY c.relname
"""

_PARTITIONS = """
SELECT quote_ident(p.relname), quote_ident(c.relname) FROM pg_class c
  JOIN pg_inherits i ON i.inhrelid = c.oid JOIN pg_class p ON p.oid = i.inhparent
 WHERE c.relnamespace = 'public'::regnamespace AND c.relispartition AND c.relkind IN ('r', 'p')
"""

_SEQUENCES = """
SELECT format('%I.%I', schemaname, sequencename), last_value, start_value FROM pg_sequences
 WHERE schemaname = 'public'
"""

_OTHER_BACKENDS = """
SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


@dataclass
class Template:
    """What a clone looks like before any test touched it."""

    fingerprint: str
    tables: list[str]
    partitions: set[str]
    seeds: dict[str, str]  # table -> its rows as JSON (tables the migrations filled)
    sequences: dict[str, int | None]  # sequence -> last_value (None: never used)
    superuser: bool  # may switch foreign keys off and forget planner statistics

    @classmethod
    async def read(cls, conn: Any) -> "Template":
        tables = [r[0] for r in await conn.fetch(_TABLES)]
        seeds = {}
        for table in tables:
            rows = await conn.fetchval(f"SELECT json_agg(t) FROM {table} t")
            if rows is not None:
                seeds[table] = rows
        return cls(fingerprint=await conn.fetchval(_SCHEMA_FINGERPRINT), tables=tables,
                   partitions={r[1] for r in await conn.fetch(_PARTITIONS)}, seeds=seeds,
                   sequences={r[0]: r[1] for r in await conn.fetch(_SEQUENCES)},
                   superuser=await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))


class SchemaChanged(Exception):
    """The test changed the schema: the database cannot be reused."""


async def reset(conn: Any, template: Template) -> list[str]:
    """Give the database behind ``conn`` back as the template left it; returns
    the tables emptied. Raises `SchemaChanged` when it cannot."""
    await conn.fetch(_OTHER_BACKENDS)
    async with conn.transaction():
        await conn.execute("SET LOCAL lock_timeout = '20s'")
        filled = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT FROM {t})" for t in template.tables)
        dirty = sorted({r[0] for r in await conn.fetch(filled)} | set(template.seeds))
        if dirty and template.superuser:
            # DELETE of a test's few rows costs ms where TRUNCATE's new files for every table it
            # cascades to cost 0.2 s; with foreign keys and triggers off, in any order
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("; ".join(f"DELETE FROM {table}" for table in dirty))
            await conn.execute("SET LOCAL session_replication_role = DEFAULT")
        elif dirty:
            await conn.execute(f"TRUNCATE {', '.join(dirty)} RESTART IDENTITY CASCADE")
        if template.superuser:  # an earlier test's ANALYZE (or autovacuum's) must not steer a later one's plans
            await conn.execute("DELETE FROM pg_statistic WHERE starelid IN "
                               "(SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)")
        # (empty now: a foreign key to a partitioned table lets a partition go only so)
        for parent, partition in await conn.fetch(_PARTITIONS):
            if partition not in template.partitions:
                await conn.execute(f"ALTER TABLE {parent} DETACH PARTITION {partition}")
                await conn.execute(f"DROP TABLE {partition}")
        if await conn.fetchval(_SCHEMA_FINGERPRINT) != template.fingerprint:
            raise SchemaChanged
        for table, rows in template.seeds.items():
            await conn.execute(f"INSERT INTO {table} SELECT * FROM json_populate_recordset(NULL::{table}, $1::json)",
                               rows)
        for name, last_value, start in await conn.fetch(_SEQUENCES):
            want = template.sequences.get(name)
            if last_value != want:
                await conn.execute("SELECT setval($1::regclass, $2, $3)", name,
                                   start if want is None else want, want is not None)
    return dirty


@dataclass
class DatabasePool:
    """Databases cloned from one template, lent to one test at a time."""

    clone: Callable[[], Awaitable[str]]  # creates a database from the template, returns its name
    drop: Callable[[str], None]  # drops a database (in the background)
    connect: Callable[[str], Awaitable[Any]]  # an asyncpg connection to a database
    template: Template | None = None
    free: list[str] = field(default_factory=list)
    created: int = 0
    discarded: int = 0

    async def acquire(self) -> str:
        if self.free:
            return self.free.pop()
        name = await self.clone()
        self.created += 1
        if self.template is None:
            conn = await self.connect(name)
            try:
                self.template = await Template.read(conn)
            finally:
                await conn.close()
        return name

    async def release(self, name: str) -> None:
        assert self.template is not None
        try:
            conn = await self.connect(name)
            try:
                await reset(conn, self.template)
            finally:
                await conn.close()
        except SchemaChanged:
            self._discard(name)
        except Exception as exc:  # noqa: BLE001 - any failure: do not reuse it
            log.warning("test database %s could not be reset (%r); dropping it", name, exc)
            self._discard(name)
        else:
            self.free.append(name)

    def _discard(self, name: str) -> None:
        self.discarded += 1
        self.drop(name)

    def close(self) -> None:
        while self.free:
            self.drop(self.free.pop())

