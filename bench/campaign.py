"""Campaign throughput: N recipients at a 1,000 msg/s tier, the sandbox posting sent/delivered/read for each.

A scratch database; the API (``pytake serve --no-worker``) and one worker
(``pytake worker``) as processes; the sandbox in this process (bench/http_lite)
posting Meta's three status webhooks for every message it accepts. The audience
(``--recipients`` contacts) is materialised by ``start`` (timed), the worker's
runner sends it at the number's tier (``--rate``). Printed:

- sustained campaign msg/s (first to last send the sandbox accepted) and its
  ratio to a same-run pgbench single-row insert floor (bench/pgbench_floor.py);
- statuses applied (the recipients' delivered/read) and whether the campaign's
  counters equal its recipients' counts exactly at the end;
- the reply p99 of live conversations (a customer's "oi" → the bot's answer at
  the sandbox) without a campaign, then during it;
- the worker's and the API's peak RSS against the recipients, and CPU per message
  of the worker, the API and PostgreSQL's backends (meaningful on a loaded machine,
  unlike wall-clock figures).

Run small for correctness: ``python bench/campaign.py --recipients 2000``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import http_lite, pgbench_floor  # noqa: E402
from bench.e2e import (  # noqa: E402
    ENCRYPTION_KEY, FLOW, PNID, SECRET, backend_cpu, backend_delta, create_database, drop_database, pct, wait_http)
from bench.proc_stats import free_port, process_tree, tree_cpu_seconds  # noqa: E402


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

    live_prefix = "55300"
    arrivals: dict[str, asyncio.Queue] = {}
    first_send: list[float] = []
    last_send: list[float] = []

    class BenchSandbox(SandboxApp):
        def _messages(self, phone_number_id, body, headers):
            status, doc = super()._messages(phone_number_id, body, headers)
            if status == 200 and isinstance(doc, dict) and doc.get("messages"):
                to = self.state.accepted[-1]["to"]
                now = time.perf_counter()
                if to.startswith(live_prefix):
                    queue = arrivals.get(to)
                    if queue is not None:
                        queue.put_nowait(now)
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
    sandbox_server = await http_lite.serve(sandbox.handle, "127.0.0.1", sandbox_port)

    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "PYTHONPATH": str(REPO),
           "PYTAKE_WHATSAPP_APP_SECRET": SECRET, "PYTAKE_GRAPH_API_URL": f"http://127.0.0.1:{sandbox_port}",
           "PYTAKE_DATA_DIR": str(REPO / ".pytake" / "bench"),
           "PYTAKE_ENCRYPTION_KEY": ENCRYPTION_KEY, "PYTAKE_SECRET_KEY": "b" * 48}
    cli = [sys.executable, "-c", "import sys; from pytake.cli import main; sys.exit(main())"]
    logs = REPO / ".pytake" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    procs = [
        subprocess.Popen([*cli, "serve", "--no-worker", "--no-migrate", "--port", str(api_port)], env=env,
                         stdout=subprocess.DEVNULL, stderr=open(logs / "campaign-api.log", "w")),
        subprocess.Popen([*cli, "worker", "--concurrency", "100"], env=env,
                         stdout=subprocess.DEVNULL, stderr=open(logs / "campaign-worker.log", "w")),
    ]
    client = http_lite.ConnectionPool(api_port)

    async def live_replies(n: int, every: float, tag: str) -> list[float]:
        """``n`` customers each say "oi" (one every ``every`` s); ms until the bot's answer."""
        out: list[float] = []

        async def one(i: int) -> None:
            wa_id = f"{live_prefix}{tag}{i:06d}"
            queue = arrivals.setdefault(wa_id, asyncio.Queue())
            body = webhooks.encode(webhooks.inbound_message(PNID, wa_id, webhooks.text_message("oi")))
            started = time.perf_counter()
            await client.request("POST", "/webhooks/whatsapp", {"Content-Type": "application/json",
                                                                HEADER: sign(SECRET, body)}, body)
            out.append((await asyncio.wait_for(queue.get(), 300) - started) * 1000)

        tasks = []
        for i in range(n):
            tasks.append(asyncio.create_task(one(i)))
            await asyncio.sleep(every)
        await asyncio.gather(*tasks)
        return out

    try:
        await wait_http(f"http://127.0.0.1:{api_port}/health")
        await asyncio.sleep(2.0)
        await live_replies(10, 0.05, "9")  # warm-up
        quiet = await live_replies(args.live, args.live_every, "1")

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
        t0 = time.perf_counter()
        async with db.transaction() as s:
            await start(s, campaign_id, seeded.organization_id)
        materialised = time.perf_counter() - t0
        wcpu0, acpu0, pg0 = tree_cpu_seconds(procs[1].pid), tree_cpu_seconds(procs[0].pid), await backend_cpu(db)
        await enqueue(redis, RUN_CAMPAIGN, str(campaign_id))
        peak = dict(rss0)

        async def watch() -> None:
            while True:
                peak["worker"] = max(peak["worker"], rss_mb(procs[1].pid))
                peak["api"] = max(peak["api"], rss_mb(procs[0].pid))
                await asyncio.sleep(0.5)
        watcher = asyncio.create_task(watch())
        during_task = asyncio.create_task(live_replies(args.live, args.live_every, "2"))
        deadline = time.monotonic() + args.timeout
        while True:
            row = await counts(db, campaign_id)
            if row["status"] == "completed" and row["read_count"] == args.recipients:
                break
            if time.monotonic() > deadline:
                print(f"timed out: {row}")
                break
            await asyncio.sleep(0.5)
        during = await during_task
        watcher.cancel()
        n = args.recipients
        wcpu = tree_cpu_seconds(procs[1].pid) - wcpu0
        acpu = tree_cpu_seconds(procs[0].pid) - acpu0
        pgcpu = backend_delta(pg0, await backend_cpu(db))
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
        print(f"  live reply p50/p99 without a campaign        : {pct(quiet, 50):.0f} / {pct(quiet, 99):.0f} ms")
        print(f"  live reply p50/p99 during the campaign       : {pct(during, 50):.0f} / {pct(during, 99):.0f} ms")
        print(f"  worker RSS: {rss0['worker']:.0f} MB before, {peak['worker']:.0f} MB peak "
              f"({(peak['worker'] - rss0['worker']) * 1024 / max(1, n):.2f} KB per recipient); "
              f"API RSS {rss0['api']:.0f} -> {peak['api']:.0f} MB")
        print(f"  CPU per message: worker {wcpu * 1000 / n:.2f} ms, API (3 status webhooks) {acpu * 1000 / n:.2f} ms, "
              f"PostgreSQL backends {pgcpu * 1000 / n:.2f} ms")
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
        await db.dispose()
        if args.keep_database:
            print(f"  database kept: {database_url}")
        else:
            await drop_database(database_url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000, help="the number's tier, messages/s (at most 1,000)")
    parser.add_argument("--live", type=int, default=100, help="live customers measured, without then during")
    parser.add_argument("--live-every", type=float, default=0.1, help="seconds between two live customers")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--keep-database", action="store_true")
    from api.event_loop import run as run_loop

    sys.exit(run_loop(main(parser.parse_args())))
