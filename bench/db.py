"""Database benchmark: the queries the product runs most, on a realistic volume.

Creates a separate database (`pytake_bench`) on DATABASE_URL's server (or the
embedded PostgreSQL), migrates it, and loads in SQL (generate_series):
1,000,000 messages across 12 monthly partitions, 100,000 contacts, 50,000
conversations, 10 organizations with 20 agents each. Then prints p50/p99 (ms,
asyncpg prepared statements, 500 runs with varied parameters; round trip as
the client sees it, and server time from EXPLAIN ANALYZE, which a busy machine
disturbs less) and the plan lines naming the index used, for:

- the latest 50 messages of a conversation,
- an agent's open conversations,
- contact full-text search (Portuguese),
- analytics: conversations per status for one organization and month.

Target: p99 <= 5 ms each (server time; the round trip is printed beside it).

    .venv/bin/python bench/db.py            # reuses a loaded bench database
    .venv/bin/python bench/db.py --reload   # drops and loads it again
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from api import embedded  # noqa: E402
from api.settings import Settings  # noqa: E402
from bench.api import fresh_database  # noqa: E402
from bench.pgbench_floor import server_address  # noqa: E402

BENCH_DB = "pytake_bench"
ORGS, AGENTS_PER_ORG = 10, 20
CONTACTS, CONVERSATIONS, MESSAGES = 100_000, 50_000, 1_000_000
MONTHS = 12
RUNS = 500

FIRST_NAMES = ["Ana", "João", "Maria", "José", "Francisca", "Antônio", "Adriana", "Carlos",
               "Juliana", "Paulo", "Márcia", "Pedro", "Aline", "Lucas", "Fernanda", "Marcos",
               "Patrícia", "Rafael", "Camila", "Gabriel", "Letícia", "Bruno", "Beatriz", "Thiago"]
LAST_NAMES = ["Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira",
              "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes",
              "Soares", "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade"]


def _connect_kwargs(url: str, database: str) -> dict:
    u = make_url(url)
    host, port = server_address(u)
    kwargs = {"user": u.username, "password": u.password, "host": host, "port": port, "database": database}
    return {k: v for k, v in kwargs.items() if v is not None}


def _sql_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


LOAD_SQL = [
    # tenants and agents
    f"""INSERT INTO organizations (id, name, slug)
        SELECT ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid, 'Org ' || g, 'org-' || g
        FROM generate_series(1, {ORGS}) g""",
    f"""INSERT INTO users (organization_id, email, password_hash, full_name, role)
        SELECT o.id, 'agent' || g || '@' || o.slug || '.example', 'x', 'Agente ' || g, 'agent'
        FROM organizations o, generate_series(1, {AGENTS_PER_ORG}) g""",
    # contacts: Portuguese names, e-mails, spread over the organizations
    f"""INSERT INTO contacts (organization_id, whatsapp_id, name, email, tags, last_message_at)
        SELECT ('00000000-0000-0000-0000-' || lpad((1 + g % {ORGS})::text, 12, '0'))::uuid,
               (5511900000000 + g)::text,
               f[1 + (g * 7) % array_length(f, 1)] || ' ' || l[1 + (g * 13) % array_length(l, 1)]
                   || ' ' || l[1 + (g * 31) % array_length(l, 1)],
               'cliente' || g || '@exemplo.com.br',
               CASE WHEN g % 10 = 0 THEN ARRAY['vip'] ELSE ARRAY[]::text[] END,
               now() - (g % 365) * interval '1 day'
        FROM generate_series(1, {CONTACTS}) g,
             (SELECT {_sql_array(FIRST_NAMES)} AS f, {_sql_array(LAST_NAMES)} AS l) names""",
    # conversations: created over the last 12 months, a status mix, assigned agents
    f"""WITH c AS (SELECT id, organization_id, row_number() OVER (ORDER BY id) AS n FROM contacts),
             a AS (SELECT id, organization_id,
                          row_number() OVER (PARTITION BY organization_id ORDER BY id) AS k FROM users)
        INSERT INTO conversations (organization_id, contact_id, status, assigned_to, created_at,
                                   last_message_at)
        SELECT c.organization_id, c.id,
               (ARRAY['open','pending','assigned','resolved','closed','resolved','closed',
                      'waiting_in_queue'])[1 + (g * 7) % 8],
               a.id,
               span.start + ((g * 7919) % span.minutes) * interval '1 minute',
               now() - (g % 1000) * interval '1 minute'
        FROM generate_series(1, {CONVERSATIONS}) g
        CROSS JOIN (SELECT m.start, (extract(epoch FROM now() - m.start) / 60)::int - 200 AS minutes
                    FROM (SELECT (date_trunc('month', now() AT TIME ZONE 'UTC')
                                  - interval '{MONTHS - 1} months') AT TIME ZONE 'UTC' AS start) m) span
        JOIN c ON c.n = g * 2
        JOIN a ON a.organization_id = c.organization_id AND a.k = 1 + g % {AGENTS_PER_ORG}""",
    # messages: 20 per conversation, a few minutes apart, half inbound with a WhatsApp id
    f"""WITH conv AS (SELECT id, created_at, row_number() OVER (ORDER BY id) - 1 AS n FROM conversations)
        INSERT INTO messages (conversation_id, direction, sender_type, whatsapp_message_id, type,
                              content, status, created_at)
        SELECT conv.id,
               CASE WHEN g % 2 = 0 THEN 'inbound' ELSE 'outbound' END,
               CASE WHEN g % 2 = 0 THEN 'contact' ELSE 'bot' END,
               CASE WHEN g % 2 = 0 THEN 'wamid.bench.' || g END,
               'text',
               jsonb_build_object('text', 'Mensagem número ' || g || ' sobre o pedido de pizza'),
               (ARRAY['sent','delivered','read','read','failed'])[1 + g % 5],
               conv.created_at + (g / {CONVERSATIONS}) * interval '7 minutes'
        FROM generate_series(0, {MESSAGES - 1}) g
        JOIN conv ON conv.n = g % {CONVERSATIONS}""",
    "VACUUM ANALYZE",
]

QUERIES = {
    "latest 50 messages of a conversation": (
        "SELECT id, type, direction, content, created_at FROM messages "
        "WHERE conversation_id = $1 ORDER BY created_at DESC LIMIT 50"),
    "an agent's open conversations": (
        "SELECT id, contact_id, status, last_message_at FROM conversations "
        "WHERE assigned_to = $1 AND status IN ('open', 'pending', 'assigned') "
        "ORDER BY last_message_at DESC LIMIT 50"),
    "contact full-text search": (
        "SELECT id, name, email FROM contacts WHERE organization_id = $1 AND "
        "to_tsvector('portuguese', name || ' ' || COALESCE(email, '')) "
        "@@ plainto_tsquery('portuguese', $2) LIMIT 20"),
    "conversations per status, one org, one month": (
        "SELECT status, count(*) FROM conversations WHERE organization_id = $1 "
        "AND created_at >= $2 AND created_at < $3 GROUP BY status"),
}


async def _load(server_url: str) -> str:
    bench_url = await fresh_database(server_url, BENCH_DB)
    conn = await asyncpg.connect(**_connect_kwargs(server_url, BENCH_DB))
    try:
        await conn.execute("SELECT pytake_ensure_message_partitions(3, $1)", MONTHS - 1)
        for sql in LOAD_SQL:
            started = time.perf_counter()
            await conn.execute(sql)
            print(f"  {sql.split()[0].lower()} {sql.split()[2] if sql.startswith('INSERT') else ''}"
                  f"{' (messages)' if 'INTO messages' in sql else ''}: {time.perf_counter() - started:.1f} s")
    finally:
        await conn.close()
    return bench_url


async def _loaded(server_url: str) -> bool:
    try:
        conn = await asyncpg.connect(**_connect_kwargs(server_url, BENCH_DB))
    except asyncpg.InvalidCatalogNameError:
        return False
    try:
        return await conn.fetchval("SELECT count(*) FROM messages") == MESSAGES
    except asyncpg.PostgresError:
        return False
    finally:
        await conn.close()


async def _params(conn: asyncpg.Connection) -> dict[str, list[tuple]]:
    rng = random.Random(7)
    convs = [r[0] for r in await conn.fetch("SELECT id FROM conversations ORDER BY random() LIMIT $1", RUNS)]
    agents = [r[0] for r in await conn.fetch("SELECT id FROM users ORDER BY random() LIMIT $1", RUNS)]
    orgs = [r[0] for r in await conn.fetch("SELECT id FROM organizations")]
    words = [w.lower() for w in FIRST_NAMES + LAST_NAMES]
    now = datetime.now(timezone.utc)
    months = []
    for back in range(MONTHS):
        m = now.year * 12 + now.month - 1 - back
        start = datetime(m // 12, m % 12 + 1, 1, tzinfo=timezone.utc)
        m += 1
        months.append((start, datetime(m // 12, m % 12 + 1, 1, tzinfo=timezone.utc)))
    return {
        "latest 50 messages of a conversation": [(rng.choice(convs),) for _ in range(RUNS)],
        "an agent's open conversations": [(rng.choice(agents),) for _ in range(RUNS)],
        "contact full-text search": [
            (rng.choice(orgs), f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
             if rng.random() < 0.7 else rng.choice(words)) for _ in range(RUNS)],
        "conversations per status, one org, one month": [
            (rng.choice(orgs), *rng.choice(months)) for _ in range(RUNS)],
    }


def _index_lines(plan: list[str]) -> list[str]:
    lines = [line.strip() for line in plan if " using " in line.lower() or "Bitmap Index" in line]
    return lines or [plan[0].strip()]


def _percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


async def _parent_index(conn: asyncpg.Connection, line: str) -> str:
    """Name a partition's index by the partitioned index it belongs to."""
    for word in line.split():
        parent = await conn.fetchval(
            "SELECT p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE c.relname = $1 AND c.relkind = 'i'", word)
        if parent:
            return line.replace(word, f"{parent} [{word.split('_conversation')[0]}]")
    return line


async def _measure(server_url: str) -> bool:
    """Client round trip (what a request waits for) and server execution time
    (EXPLAIN ANALYZE: planning + execution, without network and client
    scheduling) for each query."""
    conn = await asyncpg.connect(**_connect_kwargs(server_url, BENCH_DB))
    ok = True
    try:
        params = await _params(conn)
        print(f"\n{'query':<46} {'round trip p50/p99 ms':>22} {'server p50/p99 ms':>18}")
        plans = {}
        for name, sql in QUERIES.items():
            stmt = await conn.prepare(sql)
            explain = await conn.prepare("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql)
            for args in params[name][:20]:  # warm-up (plans, caches)
                await stmt.fetch(*args)
            wall, server = [], []
            for args in params[name]:
                started = time.perf_counter()
                await stmt.fetch(*args)
                wall.append((time.perf_counter() - started) * 1000)
            for args in params[name]:
                doc = json.loads(await explain.fetchval(*args))[0]
                server.append(doc["Planning Time"] + doc["Execution Time"])
            (w50, w99), (s50, s99) = _percentiles(wall), _percentiles(server)
            ok &= s99 <= 5.0
            print(f"{name:<46} {w50:10.2f} / {w99:6.2f}    {s50:7.2f} / {s99:6.2f}")
            plan = [r[0] for r in await conn.fetch("EXPLAIN " + sql, *params[name][0])]
            plans[name] = [await _parent_index(conn, line) for line in _index_lines(plan)]
        print("\nindexes used (EXPLAIN):")
        for name, lines in plans.items():
            print(f"  {name}:")
            for line in lines[:2]:
                print(f"    {line}")
            if len(lines) > 2:
                print(f"    ... and {len(lines) - 2} more partitions, same index")
    finally:
        await conn.close()
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
          f"target server p99 <= 5 ms: {'met' if ok else 'NOT met'}")
    return ok


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reload", action="store_true", help="drop and load the bench database")
    args = parser.parse_args()
    settings = Settings.from_env()
    server_url, _ = await asyncio.to_thread(embedded.ensure_servers_sync, settings, redis=False)
    assert server_url
    try:
        if args.reload or not await _loaded(server_url):
            print(f"loading {MESSAGES:,} messages, {CONTACTS:,} contacts into {BENCH_DB} ...")
            started = time.perf_counter()
            await _load(server_url)
            print(f"loaded in {time.perf_counter() - started:.0f} s")
        conn = await asyncpg.connect(**_connect_kwargs(server_url, BENCH_DB))
        try:
            parts = await conn.fetchval(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass")
            filled = await conn.fetchval(
                "SELECT count(DISTINCT tableoid) FROM messages")
            print(f"{BENCH_DB}: {await conn.fetchval('SELECT count(*) FROM messages'):,} messages in "
                  f"{filled} partitions ({parts} incl. future and DEFAULT), "
                  f"{await conn.fetchval('SELECT count(*) FROM contacts'):,} contacts, "
                  f"{await conn.fetchval('SELECT count(*) FROM conversations'):,} conversations")
        finally:
            await conn.close()
        await _measure(server_url)
    finally:
        await asyncio.to_thread(embedded.stop)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
