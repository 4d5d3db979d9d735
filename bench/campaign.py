"""Campaign throughput: N recipients at a 1,000 msg/s tier, the sandbox posting sent/delivered/read for each.

A scratch database; the API (``pytake serve --no-worker``) and two workers
(``pytake worker --lanes bulk`` and ``--lanes live``) as processes; the sandbox
in this process (bench/http_lite) posting Meta's three status webhooks for every
message it accepts. The audience (``--recipients`` contacts) is materialised by
``start`` (timed), the bulk worker's runner sends it at the number's tier
(``--rate``), the live worker answers the live customers. Printed:

- sustained campaign msg/s (first to last send the sandbox accepted) and its
  ratio to a same-run pgbench single-row insert floor (bench/pgbench_floor.py);
- statuses applied (the recipients' delivered/read) and whether the campaign's
  counters equal its recipients' counts exactly at the end;
- the reply p99 of live conversations (a customer's "oi" → the bot's answer at
  the sandbox) without a campaign, then during it: as many replies in each phase,
  one every ``--live-every`` s over 90% of the campaign's time at its tier (900
  for 100,000 recipients at 1,000 msg/s), not only its first seconds. A reply
  ends when its bytes reached the sandbox's socket (the kernel's receive time),
  as it would at Meta: this process also posts 3,000 status webhooks a second,
  and the time its loop then took to read the reply is Meta's, not PyTake's
  (printed too, with the loop's lag);
- the bulk worker's and the API's peak RSS against the recipients, and CPU per message
  of each worker, the API and PostgreSQL's backends (meaningful on a loaded machine,
  unlike wall-clock figures; the bench's own polling backend is left out);
- per message: the WAL the server wrote (PyTake's write amplification, unlike
  time a steady figure on a noisy machine), row versions written per table (and
  how many were HOT) and the index entries read, from the scratch database's statistics.

``--api-processes N`` runs the API as ``pytake serve --processes N`` (one per
core is what a deployment runs; the default, 1, is what the figures in
docs/campaigns.md were measured with).

``--pg-detail`` also logs every statement of the scratch database
(``log_min_duration_statement = 0`` set on that database only) and prints where
PostgreSQL's time went, per statement, per campaign message (the server's log
is parsed; logging itself costs time, so the totals are not the plain run's).

Run small for correctness: ``python bench/campaign.py --recipients 2000``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import http_lite, pgbench_floor  # noqa: E402
from bench.e2e import (  # noqa: E402
    ENCRYPTION_KEY, FLOW, PNID, SECRET, backend_cpu, backend_delta, create_database, drop_database, pct, wait_http)
from bench.proc_stats import cpu_seconds, free_port, process_tree, tree_cpu_seconds  # noqa: E402

# pg_stat_user_tables / pg_stat_user_indexes, summed over a table's partitions (messages_2026_12 -> messages)
_TABLE_STATS = """
SELECT regexp_replace(relname, '_(\\d{4}_\\d{2}|default)$', '') AS t, sum(n_tup_ins) AS ins, sum(n_tup_upd) AS upd,
       sum(n_tup_hot_upd) AS hot, sum(n_tup_del) AS del, sum(seq_tup_read) AS seq_read
  FROM pg_stat_user_tables GROUP BY 1"""
_INDEX_STATS = """
SELECT regexp_replace(indexrelname, '^(messages|message_logs)_(\\d{4}_\\d{2}|default)_', '\\1_') AS i,
       sum(idx_scan) AS scans, sum(idx_tup_read) AS read
  FROM pg_stat_user_indexes GROUP BY 1"""


LIVE_PREFIX = "55300"
RECEIVED_AT = "x-bench-received-at"  # the sandbox server's kernel receive time of a request (http_lite)
PHASES = ("webhook answered", "posted -> stored", "stored -> processed", "processed -> outbox",
          "outbox -> claimed", "claimed -> at sandbox")
# a live customer's "oi" and the bot's first answer after it, with the times each step wrote
_LIVE_ROWS = """
SELECT ct.whatsapp_id, extract(epoch FROM mi.created_at) AS stored,
       extract(epoch FROM CAST(mi.metadata->>'processed_at' AS timestamptz)) AS processed,
       extract(epoch FROM mo.created_at) AS outbox,
       extract(epoch FROM CAST(mo.metadata->>'claimed_at' AS timestamptz)) AS claimed
  FROM contacts ct JOIN conversations c ON c.contact_id = ct.id
  JOIN messages mi ON mi.conversation_id = c.id AND mi.direction = 'inbound'
  JOIN LATERAL (SELECT created_at, metadata FROM messages mo
                 WHERE mo.conversation_id = c.id AND mo.direction = 'outbound' AND mo.created_at >= mi.created_at
                 ORDER BY mo.created_at LIMIT 1) mo ON true
 WHERE ct.whatsapp_id LIKE $1"""


async def live_phases(conn, tag: str, walls: dict[str, dict[str, float]]) -> dict[str, list[float]]:
    """Where each live reply's time went (ms): the webhook's answer, then the rows' own
    timestamps (stored, processed, the answer's outbox row, its claim by the sender), then its
    arrival at the sandbox. The database's clock is this machine's. A worker's step claims
    its first reply in its own statement, with a claim made just before the row's own time:
    "outbox -> claimed" is then about 0 (slightly below), and "claimed -> at sandbox" runs
    from the step's statement to Meta."""
    out: dict[str, list[float]] = {name: [] for name in PHASES}
    for r in await conn.fetch(_LIVE_ROWS, f"{LIVE_PREFIX}{tag}%"):
        w = walls.get(r["whatsapp_id"], {})
        if "posted" not in w or "arrived" not in w or None in (r["processed"], r["claimed"]):
            continue
        points = [w["posted"], float(r["stored"]), float(r["processed"]), float(r["outbox"]), float(r["claimed"]),
                  w["arrived"]]
        out["webhook answered"].append((w["answered"] - w["posted"]) * 1000)
        for name, a, b in zip(PHASES[1:], points, points[1:]):
            out[name].append((b - a) * 1000)
    return out


async def loop_lag(samples: list[float], every: float = 0.005) -> None:
    """Until cancelled: how late this process's event loop wakes a timer (ms). The sandbox's
    handler and the live customers run on this loop: their times include its lag."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + every
        await asyncio.sleep(every)
        samples.append((loop.time() - due) * 1000)


async def sample_waits(conn, counts: dict[tuple[str, str], int], every: float = 0.1) -> None:
    """Until cancelled: what the scratch database's active backends are doing (wait event and
    the statement's start), counted per look."""
    while True:
        for r in await conn.fetch(
                "SELECT coalesce(wait_event_type || ':' || wait_event, 'on CPU') AS w, "
                "regexp_replace(left(query, 300), '\\s+', ' ', 'g') AS q FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'"):
            key = (r["w"], r["q"][:90])
            counts[key] = counts.get(key, 0) + 1
        counts[("", "looks")] = counts.get(("", "looks"), 0) + 1
        await asyncio.sleep(every)


def print_waits(counts: dict[tuple[str, str], int]) -> None:
    looks = max(1, counts.pop(("", "looks"), 0))
    busy = sum(counts.values())
    print(f"  active backends (sampled {looks} times): {busy / looks:.2f} on average; the most seen:")
    for (w, q), c in sorted(counts.items(), key=lambda kv: -kv[1])[:14]:
        print(f"    {c / looks:5.2f}  {w:28} {q}")


async def pg_stats(conn) -> dict[str, dict[str, dict[str, int]]]:
    """The scratch database's table and index counters (flushed first)."""
    await conn.execute("SELECT pg_stat_force_next_flush()")
    await asyncio.sleep(1.2)  # every backend reports its counters at most once a second when idle
    tables = {r["t"]: {k: int(r[k] or 0) for k in ("ins", "upd", "hot", "del", "seq_read")}
              for r in await conn.fetch(_TABLE_STATS)}
    indexes = {r["i"]: {k: int(r[k] or 0) for k in ("scans", "read")} for r in await conn.fetch(_INDEX_STATS)}
    xacts = await conn.fetchval("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                                "WHERE datname = current_database()")
    wal = await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
    return {"tables": tables, "indexes": indexes, "db": {"": {"xacts": int(xacts), "wal": int(wal)}}}


def print_pg_stats(before: dict, after: dict, n: int) -> None:
    def delta(kind: str, name: str, key: str) -> int:
        return after[kind].get(name, {}).get(key, 0) - before[kind].get(name, {}).get(key, 0)
    print(f"  per message: {delta('db', '', 'xacts') / n:.2f} transactions, {delta('db', '', 'wal') / n:.0f} bytes "
          "of WAL (the server's: rows, index entries, full pages); row versions written "
          "(inserted + updated (of which HOT)):")
    rows = sorted(after["tables"], key=lambda t: -(delta("tables", t, "ins") + delta("tables", t, "upd")))
    for t in rows[:8]:
        ins, upd, hot = (delta("tables", t, k) for k in ("ins", "upd", "hot"))
        if ins + upd:
            print(f"    {t:28} {ins / n:5.2f} + {upd / n:5.2f} ({hot / n:4.2f} HOT); "
                  f"seq-scanned rows {delta('tables', t, 'seq_read') / n:8.1f}")
    print("  per message, index entries read (most first):")
    for i in sorted(after["indexes"], key=lambda i: -delta("indexes", i, "read"))[:8]:
        print(f"    {i:56} {delta('indexes', i, 'read') / n:9.1f} in {delta('indexes', i, 'scans') / n:5.2f} scans")


_LOG_LINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] \S+@(\S+) LOG:  duration: ([\d.]+) ms  (?:(parse|bind|execute) "
                       r"[^:]*|statement): (.*)$")


def statement_times(log_path: Path, offset: int, database: str) -> dict[str, list[float]]:
    """From the server log after ``offset``: each statement of ``database`` (its first 110
    characters, whitespace folded) -> [executions, total ms of parse + bind + execute]."""
    out: dict[str, list[float]] = {}
    current: list[Any] | None = None  # [key parts, ms, executed]

    def close() -> None:
        if current is not None:
            key = " ".join(" ".join(current[0]).split())[:110]
            entry = out.setdefault(key, [0, 0.0])
            entry[0] += current[2]
            entry[1] += current[1]
    with open(log_path, "rb") as f:
        f.seek(offset)
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith("\t"):
                if current is not None and sum(len(p) for p in current[0]) < 400:
                    current[0].append(line.strip())
                continue
            close()
            current = None
            m = _LOG_LINE.match(line)
            if m and m.group(2) == database:
                current = [[m.group(5)], float(m.group(3)), 1 if m.group(4) in (None, "execute") else 0]
    close()
    return out


def print_statement_times(times: dict[str, list[float]], n: int) -> None:
    total = sum(ms for _, ms in times.values())
    print(f"  statements logged: {sum(c for c, _ in times.values()):.0f} ({sum(c for c, _ in times.values()) / n:.2f} "
          f"per message), {total / n:.3f} ms of statement time per message; the most costly:")
    for key, (count, ms) in sorted(times.items(), key=lambda kv: -kv[1][1])[:14]:
        print(f"    {ms / n:7.3f} ms/msg {count / n:6.2f}/msg {ms / max(1, count):7.2f} ms each  {key[:110]}")


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children, MB."""
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


async def main(args: argparse.Namespace) -> int:
    import redis.asyncio as aioredis
    from sqlalchemy import text

    from api.campaigns import start
    from api.db.models import Campaign, WhatsAppTemplate
    from api.db.session import Database
    from api.sandbox import webhooks
    from api.sandbox.server import SandboxApp, SandboxConfig, SandboxState
    from api.whatsapp.signature import HEADER, sign
    from api.workers.queue import LANES, RUN_CAMPAIGN, enqueue
    from pytake.hosting.seed import add_flow, seed_organization
    from tests.runtime.campaign_helpers import counts, mismatches

    server_db = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    database_url = await create_database(server_db)
    db = Database(database_url)
    seeded = await seed_organization(db, phone_number_id=PNID, number_settings={
        "rate_limit_per_second": args.rate, "pair_rate_limit": None})
    await add_flow(db, seeded, "pedido", FLOW)
    redis = aioredis.from_url(redis_url)
    await redis.delete(*LANES)
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    host, port = pgbench_floor.server_address(url)  # a unix socket too, as the platform's own connections
    # the bench's own queries (polling, statistics) on one connection, left out of PostgreSQL's CPU figure
    probe = await asyncpg.connect(user=url.username, host=host, port=port, database=url.database)
    side = await asyncpg.connect(user=url.username, host=host, port=port, database=url.database)
    own_pids = {await probe.fetchval("SELECT pg_backend_pid()"), await side.fetchval("SELECT pg_backend_pid()")}
    log_path, log_offset = None, 0
    if args.pg_detail:
        data_dir = Path(await probe.fetchval("SHOW data_directory"))
        log_path = Path(os.environ.get("PG_SERVER_LOG") or "/var/log/postgresql/postgresql-15-main.log")
        if not log_path.exists():
            log_path = data_dir / await probe.fetchval("SHOW log_directory")
        for setting in ("log_min_duration_statement = 0", "log_parameter_max_length = 0",
                        "log_parameter_max_length_on_error = 0"):
            await probe.execute(f'ALTER DATABASE "{url.database}" SET {setting}')

    live_prefix = LIVE_PREFIX
    arrivals: dict[str, asyncio.Queue] = {}
    walls: dict[str, dict[str, float]] = {}  # a live customer's wall-clock times in this process
    first_send: list[float] = []
    last_send: list[float] = []

    class BenchSandbox(SandboxApp):
        def _messages(self, phone_number_id, body, headers):
            status, doc = super()._messages(phone_number_id, body, headers)
            if status == 200 and isinstance(doc, dict) and doc.get("messages"):
                to = self.state.accepted[-1]["to"]
                # when the send reached this side of the wire (the kernel's receive time), and when
                # this process's loop got to read it: PyTake's latency ends at the first
                read = time.time()
                now = float(headers.get(RECEIVED_AT) or read)
                if to.startswith(live_prefix):
                    queue = arrivals.get(to)
                    if queue is not None:
                        walls.setdefault(to, {})["arrived"] = now
                        queue.put_nowait((now, read))
                else:
                    if not first_send:
                        first_send.append(now)
                    last_send[:] = [now]
                self.state.accepted.clear()  # a long campaign: keep nothing per message here
                self.state.inboxes.clear()
            return status, doc

    sandbox_port, api_port = free_port(), free_port()
    status_pool = http_lite.ConnectionPool(api_port)
    posted = [0]

    async def post_status(url: str, headers: dict[str, str], body: bytes) -> int:
        posted[0] += 1
        return (await status_pool.request("POST", "/webhooks/whatsapp", headers, body))[0]

    sandbox = BenchSandbox(SandboxState(SandboxConfig(
        webhook_url=f"http://127.0.0.1:{api_port}/webhooks/whatsapp", app_secret=SECRET, send_statuses=True,
        auto_read=True)), poster=post_status)
    floor_tps, floor_how = await pgbench_floor.insert_tps(database_url)
    print(f"floor: {floor_tps:.0f} single-row insert transactions/s ({floor_how})")
    sandbox_server = await http_lite.serve(sandbox.handle, "127.0.0.1", sandbox_port, received_header=RECEIVED_AT)

    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "PYTHONPATH": str(REPO),
           "PYTAKE_WHATSAPP_APP_SECRET": SECRET, "PYTAKE_GRAPH_API_URL": f"http://127.0.0.1:{sandbox_port}",
           "PYTAKE_DATA_DIR": str(REPO / ".pytake" / "bench"),
           "PYTAKE_ENCRYPTION_KEY": ENCRYPTION_KEY, "PYTAKE_SECRET_KEY": "b" * 48}
    cli = [sys.executable, "-c", "import sys; from pytake.cli import main; sys.exit(main())"]
    logs = REPO / ".pytake" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    procs = [
        subprocess.Popen([*cli, "serve", "--no-worker", "--no-migrate", "--port", str(api_port),
                          "--processes", str(args.api_processes)], env=env,
                         stdout=subprocess.DEVNULL, stderr=open(logs / "campaign-api.log", "w")),
        # a bulk worker runs the campaign (and the chores), a live worker the conversations
        # (`pytake worker --lanes`, docs/runtime.md): the deployment a campaign-sending number wants
        subprocess.Popen([*cli, "worker", "--concurrency", "100", "--lanes", "bulk",
                          *(["--nice", str(args.bulk_nice)] if args.bulk_nice is not None else [])], env=env,
                         stdout=subprocess.DEVNULL, stderr=open(logs / "campaign-worker.log", "w")),
        subprocess.Popen([*cli, "worker", "--concurrency", "100", "--lanes", "live"], env=env,
                         stdout=subprocess.DEVNULL, stderr=open(logs / "campaign-live-worker.log", "w")),
    ]
    client = http_lite.ConnectionPool(api_port)
    # the same number of replies in each phase, the campaign's spread over nearly all of it (not
    # only its first seconds): a p99 of 100 replies is their second slowest, one stray pause
    live = args.live or max(100, int(0.9 * args.recipients / args.rate / args.live_every))

    async def live_replies(n: int, every: float, tag: str) -> tuple[list[float], list[float]]:
        """``n`` customers each say "oi" (one every ``every`` s); ms until the bot's answer reached
        the sandbox, in the order they arrived, and until the sandbox's loop read it."""
        out, out_read = [0.0] * n, [0.0] * n

        async def one(i: int) -> None:
            wa_id = f"{live_prefix}{tag}{i:06d}"
            queue = arrivals.setdefault(wa_id, asyncio.Queue())
            body = webhooks.encode(webhooks.inbound_message(PNID, wa_id, webhooks.text_message("oi")))
            started = time.time()
            walls.setdefault(wa_id, {})["posted"] = started
            await client.request("POST", "/webhooks/whatsapp", {"Content-Type": "application/json",
                                                                HEADER: sign(SECRET, body)}, body)
            walls[wa_id]["answered"] = time.time()
            arrived, read = await asyncio.wait_for(queue.get(), 300)
            out[i], out_read[i] = (arrived - started) * 1000, (read - started) * 1000

        tasks = []
        for i in range(n):
            tasks.append(asyncio.create_task(one(i)))
            await asyncio.sleep(every)
        await asyncio.gather(*tasks)
        return out, out_read

    try:
        await wait_http(f"http://127.0.0.1:{api_port}/health")
        await asyncio.sleep(2.0)
        await live_replies(10, 0.05, "9")  # warm-up
        lag_quiet: list[float] = []
        lagger = asyncio.create_task(loop_lag(lag_quiet))
        quiet, quiet_read = await live_replies(live, args.live_every, "1")
        lagger.cancel()
        quiet_phases = await live_phases(probe, "1", walls)

        async with db.transaction() as s:
            await s.execute(text("UPDATE organizations SET monthly_message_limit = NULL WHERE id = :o"),
                            {"o": seeded.organization_id})
            template = WhatsAppTemplate(organization_id=seeded.organization_id, whatsapp_number_id=seeded.number_id,
                                        name="aviso", language="pt_BR", category="UTILITY", meta_status="APPROVED",
                                        body_text="Aviso importante.")
            s.add(template)
            await s.flush()
            campaign = Campaign(organization_id=seeded.organization_id, name="bench", template_id=template.id,
                                message_content={}, target_type="tags", target_filters={"tags": ["bench"]})
            s.add(campaign)
            await s.flush()
            campaign_id = campaign.id
            await s.execute(text(
                "INSERT INTO contacts (organization_id, whatsapp_id, tags) "
                "SELECT :o, '55119' || lpad(g::text, 8, '0'), ARRAY['bench'] FROM generate_series(1, :n) g"),
                {"o": seeded.organization_id, "n": args.recipients})
        async with db.session() as s:
            await s.execute(text("ANALYZE"))
            await s.commit()
        rss0 = {"worker": rss_mb(procs[1].pid), "api": rss_mb(procs[0].pid)}
        if log_path is not None:
            log_offset = log_path.stat().st_size
        stats0 = await pg_stats(probe)
        t0 = time.perf_counter()
        async with db.transaction() as s:
            await start(s, campaign_id, seeded.organization_id)
        materialised = time.perf_counter() - t0
        wcpu0, lcpu0, acpu0 = (tree_cpu_seconds(p.pid) for p in (procs[1], procs[2], procs[0]))
        own0, wall0 = time.process_time(), time.perf_counter()  # this process: the sandbox, its webhooks, the live customers
        pg0 = await backend_cpu(db)
        for pid in own_pids:
            pg0.pop(pid, None)
        pg_seen = dict(pg0)  # the last CPU figure of every backend seen (one that exits keeps it)

        async def sample_backends() -> None:
            for pid in await side.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                         "AND pid <> pg_backend_pid()"):
                pg_seen[pid[0]] = max(pg_seen.get(pid[0], 0.0), cpu_seconds(pid[0]))

        await enqueue(redis, RUN_CAMPAIGN, str(campaign_id))
        peak = dict(rss0)

        async def watch() -> None:
            while True:
                peak["worker"] = max(peak["worker"], rss_mb(procs[1].pid))
                peak["api"] = max(peak["api"], rss_mb(procs[0].pid))
                await sample_backends()
                await asyncio.sleep(0.5)
        watcher = asyncio.create_task(watch())
        waits: dict[tuple[str, str], int] = {}
        if args.pg_detail:
            wait_conn = await asyncpg.connect(user=url.username, host=host, port=port, database=url.database)
            own_pids.add(await wait_conn.fetchval("SELECT pg_backend_pid()"))
            waiter = asyncio.create_task(sample_waits(wait_conn, waits))
        lag_during: list[float] = []
        lagger = asyncio.create_task(loop_lag(lag_during))
        during_task = asyncio.create_task(live_replies(live, args.live_every, "2"))
        deadline = time.monotonic() + args.timeout
        while True:  # the campaign's own row: cheap to poll (its counters move with its recipients)
            row = dict(await probe.fetchrow("SELECT status, read_count FROM campaigns WHERE id = $1", campaign_id))
            if row["status"] == "completed" and row["read_count"] == args.recipients:
                break
            if time.monotonic() > deadline:
                print(f"timed out: {row}")
                break
            await asyncio.sleep(0.5)
        during, during_read = await during_task
        lagger.cancel()
        during_phases = await live_phases(probe, "2", walls)
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        if args.pg_detail:
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
            await wait_conn.close()
        n = args.recipients
        wcpu = tree_cpu_seconds(procs[1].pid) - wcpu0
        lcpu = tree_cpu_seconds(procs[2].pid) - lcpu0
        own, own_wall = time.process_time() - own0, time.perf_counter() - wall0
        acpu = tree_cpu_seconds(procs[0].pid) - acpu0
        await sample_backends()
        for pid in own_pids:
            pg_seen.pop(pid, None)
        pgcpu = backend_delta(pg0, pg_seen)
        stats1 = await pg_stats(probe)
        elapsed = (last_send[0] - first_send[0]) if first_send and last_send else float("nan")
        rate = n / elapsed if elapsed == elapsed and elapsed > 0 else float("nan")
        row = await counts(db, campaign_id)
        print(f"campaign: {n} recipients at a {args.rate} msg/s tier; audience materialised in {materialised:.2f} s")
        print(f"  sustained msg/s (sandbox, first to last send): {rate:8.1f}   "
              f"per 1,000 pgbench tps: {rate / (floor_tps / 1000):.1f}")
        print(f"  status webhooks posted by the sandbox        : {posted[0]}")
        print(f"  statuses applied: sent {row['sent']}, delivered {row['delivered']}, read {row['read']}, "
              f"failed {row['failed']}")
        bad = mismatches(row)
        print(f"  counters equal to recipients at the end      : {'yes' if not bad else 'NO: ' + '; '.join(bad)}")
        print(f"  live reply p50/p99 without a campaign        : {pct(quiet, 50):.0f} / {pct(quiet, 99):.0f} ms "
              f"({len(quiet)} replies)")
        print(f"  live reply p50/p99 during the campaign       : {pct(during, 50):.0f} / {pct(during, 99):.0f} ms "
              f"({len(during)} replies, one every {args.live_every:g} s from its start)")
        tenth = max(1, len(during) // 10)
        print("    p99 by tenth of them, in arrival order    : "
              + " ".join(f"{pct(during[k:k + tenth], 99):.0f}" for k in range(0, tenth * 10, tenth)) + " ms")
        print(f"    as read by this process's loop (its lag in): {pct(quiet_read, 50):.0f} / {pct(quiet_read, 99):.0f} "
              f"without, {pct(during_read, 50):.0f} / {pct(during_read, 99):.0f} during ms")
        print("  live reply phases p50/p99 ms, without | during the campaign:")
        for name in PHASES:
            print(f"    {name:22} {pct(quiet_phases[name], 50):7.1f} / {pct(quiet_phases[name], 99):7.1f}  |  "
                  f"{pct(during_phases[name], 50):7.1f} / {pct(during_phases[name], 99):7.1f}")
        print(f"  this process's event loop lag p50/p99 ms   : {pct(lag_quiet, 50):.1f} / {pct(lag_quiet, 99):.1f} "
              f"without | {pct(lag_during, 50):.1f} / {pct(lag_during, 99):.1f} during (the sandbox's times include it)")
        print(f"  bulk worker RSS: {rss0['worker']:.0f} MB before, {peak['worker']:.0f} MB peak "
              f"({(peak['worker'] - rss0['worker']) * 1024 / max(1, n):.2f} KB per recipient); "
              f"API RSS {rss0['api']:.0f} -> {peak['api']:.0f} MB")
        print(f"  this bench process (sandbox: 1 send in, 3 status webhooks out per message; live customers): "
              f"{own * 1000 / n:.2f} ms CPU per message, {own / own_wall:.0%} of a core (one process: at 100% "
              "it, not PyTake, sets the pace)")
        print(f"  CPU per message: bulk worker {wcpu * 1000 / n:.2f} ms (live worker {lcpu * 1000 / n:.2f} ms), "
              f"API (3 status webhooks) {acpu * 1000 / n:.2f} ms, PostgreSQL backends {pgcpu * 1000 / n:.2f} ms")
        print_pg_stats(stats0, stats1, n)
        if args.pg_detail:
            print_waits(waits)
        if log_path is not None:
            print_statement_times(statement_times(log_path, log_offset, url.database), n)
        print(f"  machine load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        return 0 if not bad and row["read_count"] == n else 1
    finally:
        for p in procs:
            p.send_signal(2)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        sandbox_server.close()
        await sandbox.aclose()
        await redis.aclose()
        await probe.close()
        await side.close()
        await db.dispose()
        if args.keep_database:
            print(f"  database kept: {database_url}")
        else:
            await drop_database(database_url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000, help="the number's tier, messages/s (at most 1,000)")
    parser.add_argument("--live", type=int, default=None,
                        help="live customers measured, without then during (default: as many as arrive, one "
                             "every --live-every, in 90%% of the campaign's time at its tier; at least 100)")
    parser.add_argument("--live-every", type=float, default=0.1, help="seconds between two live customers")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--bulk-nice", type=int, default=None,
                        help="the bulk worker's --nice (default: its own, 10), to measure what it does")
    parser.add_argument("--api-processes", type=int, default=1,
                        help="`pytake serve --processes` (default 1; a deployment runs one per core)")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--pg-detail", action="store_true",
                        help="log the scratch database's statements and print their time per message")
    from api.event_loop import run as run_loop

    sys.exit(run_loop(main(parser.parse_args())))
