"""What domain events add to each inbound message: CPU to write them, CPU to consume them.

An inbound message that runs a flow step and gets its reply writes four events
(``message.received``, ``flow.started``, ``flow.completed``, ``message.sent``),
each as one more CTE of a statement the message path runs anyway
(`api.events.EVENTS_CTE`). This bench isolates that cost on a scratch database
(`pytake_bench_event_cost`), with the catalogue's payload builders and a
realistic text message:

1. **write**: N statements ``WITH <a one-row write>, <events CTE> SELECT 1``
   (one per message, autocommit, as the message path's) against N control
   statements making the same one-row write without the events, interleaved
   in blocks of 100: the difference is what the events add to the writer, in
   this process (building payloads and parameters, asyncpg encoding) and in
   PostgreSQL (heap, index, WAL, jsonb). The control writes because every
   statement the events ride on writes anyway: its transaction id, commit
   record and WAL flush are paid with or without events (a read-only control
   counted them, about 150 us of PostgreSQL and 90 us of this process per
   message, as the events' cost). The writer's session commits with
   ``synchronous_commit = off``: the flush is the same for both and only
   adds noise.
2. **consume**: the two consumers every worker runs (webhooks' dispatcher,
   with no subscription, as in bench/e2e.py; assignment's trigger) until the
   backlog is empty: their CPU per message.
3. **idle poll**: 200 dispatches with nothing new: CPU per poll, and the
   transaction ids they burn (a row lock takes one, and its commit a WAL flush).

CPU is read from /proc (this process, and the PostgreSQL backends connected to
the scratch database), so the figures hold on a loaded machine; run it more
than once and take the lowest. Compare with bench/e2e.py's "CPU per inbound
message" (worker + PostgreSQL backends) for the share.

    .venv/bin/python bench/event_cost.py [--messages 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402

from api.assignment import triggers  # noqa: E402
from api.db.session import Database, bind  # noqa: E402
from api.event_loop import run  # noqa: E402
from api.events import EVENTS_CTE, cte_params, event, message_payload  # noqa: E402
from api.events.catalogue import flow_payload  # noqa: E402
from api.events.webhooks import dispatch  # noqa: E402
from api.settings import normalize_database_url  # noqa: E402
from bench.db import _connect_kwargs  # noqa: E402
from bench.events import scratch  # noqa: E402
from bench.proc_stats import cpu_seconds  # noqa: E402

BENCH_DB = "pytake_bench_event_cost"
_CONTROL_WRITE = "control AS (INSERT INTO bench_event_cost_control (id) VALUES (:id))"
_WRITE = f"WITH {_CONTROL_WRITE}, {EVENTS_CTE} SELECT 1"
_CONTROL = f"WITH {_CONTROL_WRITE} SELECT 1"
_BLOCK = 100


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _backends(probe: asyncpg.Connection) -> dict[int, float]:
    """CPU seconds so far of every backend of the scratch database but ``probe``'s own
    (a connection of its own: one from the pool would hide a backend the bench uses)."""
    pids = [r[0] for r in await probe.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                            "AND pid <> pg_backend_pid()")]
    return {pid: cpu_seconds(pid) for pid in pids}


class Meter:
    """CPU seconds of this process and of the database's backends over one or more blocks."""

    def __init__(self, db: asyncpg.Connection) -> None:
        self.db = db
        self.cpu = self.pg = 0.0  # summed over every block it measured

    async def __aenter__(self) -> "Meter":
        self.pg0, self.cpu0 = await _backends(self.db), _self_cpu()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cpu += _self_cpu() - self.cpu0
        after = await _backends(self.db)
        self.pg += sum(v - self.pg0.get(pid, 0.0) for pid, v in after.items())


def _message_events(org: uuid.UUID, conversation: uuid.UUID, contact: uuid.UUID, n: int) -> list:
    now = datetime.now(timezone.utc)
    message = {"id": uuid.uuid4(), "conversation_id": conversation, "contact_id": contact, "direction": "inbound",
               "sender_type": "contact", "type": "text", "content": {"text": f"answer number {n} to the question"},
               "status": "delivered", "whatsapp_message_id": f"wamid.HBgM{n:020d}", "created_at": now}
    reply = {**message, "id": uuid.uuid4(), "direction": "outbound", "sender_type": "bot", "status": "sent",
             "content": {"text": "Thanks! And what is your e-mail address?"}}
    flow = {"id": uuid.uuid4(), "name": "Onboarding"}
    return [event(org, "message.received", message_payload(message), conversation),
            event(org, "flow.started", flow_payload(flow, conversation_id=conversation, contact_id=contact), conversation),
            event(org, "flow.completed", flow_payload(flow, conversation_id=conversation, contact_id=contact,
                                                      outcome="completed", duration_ms=3), conversation),
            event(org, "message.sent", message_payload(reply), conversation)]


async def main(args: argparse.Namespace) -> int:
    server = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    url = await scratch(server, BENCH_DB)
    db = Database(url)
    probe = await asyncpg.connect(**_connect_kwargs(normalize_database_url(url), BENCH_DB))
    n = args.messages
    org, contact = uuid.uuid4(), uuid.uuid4()
    conversations = [uuid.uuid4() for _ in range(max(1, n // 4))]
    try:
        async with db.raw() as conn:  # both consumers registered, at the start of the outbox
            for name in ("webhooks", "assignment"):
                await conn.execute("INSERT INTO event_consumers (name) VALUES ($1) ON CONFLICT DO NOTHING", name)
            await conn.execute("INSERT INTO organizations (id, name, slug) VALUES ($1, 'bench', $2)", org, str(org))
        await dispatch(db)
        await triggers.on_events(db, None)
        async with db.raw() as conn:
            await conn.execute("CREATE TABLE bench_event_cost_control (id uuid PRIMARY KEY)")
            await conn.execute("SET synchronous_commit = off")
            control, write = Meter(probe), Meter(probe)
            for start in range(0, n, _BLOCK):
                block = range(start, min(n, start + _BLOCK))
                async with control:
                    for i in block:
                        await conn.execute(*bind(_CONTROL, {"id": uuid.uuid4()}))
                async with write:
                    for i in block:
                        await conn.execute(*bind(_WRITE, {"id": uuid.uuid4(), **cte_params(_message_events(
                            org, conversations[i % len(conversations)], contact, i))}))
        async with Meter(probe) as consume:
            while await dispatch(db):
                pass
            await triggers.on_events(db, None)
        async with db.raw() as conn:
            xid0 = int(await conn.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text"))
        polls = 200
        async with Meter(probe) as idle:
            for _ in range(polls):
                await dispatch(db)
        async with db.raw() as conn:
            burnt = int(await conn.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")) - xid0
            events = await conn.fetchval("SELECT count(*) FROM events")
        us = 1e6 / n
        added_cpu, added_pg = (write.cpu - control.cpu) * us, (write.pg - control.pg) * us
        print(f"{n} messages, {events} events ({events / n:.0f} per message), no webhook subscribed")
        print(f"write (events CTE vs the same statement without): this process +{added_cpu:.0f} us, "
              f"PostgreSQL +{added_pg:.0f} us per message")
        print(f"consume (webhooks dispatcher + assignment trigger): this process {consume.cpu * us:.0f} us, "
              f"PostgreSQL {consume.pg * us:.0f} us per message")
        total_worker, total_pg = added_cpu + consume.cpu * us, added_pg + consume.pg * us
        print(f"added per inbound message: worker {total_worker:.0f} us, PostgreSQL {total_pg:.0f} us "
              f"(compare with bench/e2e.py's CPU per inbound message)")
        print(f"idle poll (nothing new): this process {idle.cpu * 1e6 / polls:.0f} us, PostgreSQL "
              f"{idle.pg * 1e6 / polls:.0f} us per poll, {burnt / polls:.2f} transaction ids per poll "
              "(other sessions on the server count too)")
        print(json.dumps({"write_worker_us": round(added_cpu), "write_pg_us": round(added_pg),
                          "consume_worker_us": round(consume.cpu * us), "consume_pg_us": round(consume.pg * us),
                          "idle_poll_worker_us": round(idle.cpu * 1e6 / polls),
                          "idle_poll_pg_us": round(idle.pg * 1e6 / polls), "idle_poll_xids": round(burnt / polls, 2)}))
        return 0
    finally:
        await probe.close()
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    sys.exit(run(main(parser.parse_args())))
