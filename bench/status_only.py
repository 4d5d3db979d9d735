"""The status-only phase of bench/e2e.py: status webhooks alone.

N outbound messages are already sent (rows with their wamid, status
``sent``); Meta's ``sent``, ``delivered`` and ``read`` webhooks for them are
built and signed beforehand (so this process spends its CPU on the wire only)
and offered at fixed rates (open loop, Poisson arrivals) and at saturation
(closed loop, ``concurrency`` posters). Per step: status webhooks/s handled,
the webhook's p50/p99, API and PostgreSQL CPU per status, PostgreSQL
transactions per status and this process's own CPU, each also per 1,000
pgbench single-row insert tps.

This process is the client: a pause of its own would be counted in the
answer times of the webhooks in flight, and the ones that fell due meanwhile
would go out as one burst. Its full garbage collection walks the ~100,000
objects of what it imported plus the step's bodies and tasks (about 100 ms of
CPU on 2 cores), and a 2,100/s step allocates enough to run one or two.
Meta's side is not what is measured: each step runs with this process's heap
frozen and its collector off (`client_gc_off`).
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from sqlalchemy import text


def client_gc_off() -> None:
    """Collect now, then no collector pause in this process until `client_gc_on`."""
    gc.collect()
    gc.freeze()
    gc.disable()


def client_gc_on() -> None:
    gc.enable()
    gc.unfreeze()


@dataclass
class Probe:
    """What the phase reads off the machine (bench/e2e.py's helpers)."""

    db: Any
    api_pid: int
    post: Callable[[bytes, str], Awaitable[tuple[int, bytes]]]  # (body, signature) -> (status, answer)
    api_cpu: Callable[[], float]
    backend_cpu: Callable[[Any], Awaitable[dict[int, float]]]
    backend_delta: Callable[[dict, dict], float]
    transactions: Callable[[Any], Awaitable[int]]
    pct: Callable[[list[float], float], float]
    floor_tps: float


async def sent_messages(db: Any, organization_id: Any, number_id: Any, count: int) -> list[str]:
    """``count`` outbound rows already accepted by WhatsApp; their wamids."""
    wamids = [f"wamid.bench-{uuid.uuid4().hex}" for _ in range(count)]
    per_conversation = 20
    async with db.transaction() as s:
        for start in range(0, count, per_conversation):
            chunk = wamids[start:start + per_conversation]
            contact = (await s.execute(text(
                "INSERT INTO contacts (organization_id, whatsapp_id) VALUES (:o, :w) RETURNING id"),
                {"o": organization_id, "w": f"55117{start:08d}"})).scalar()
            conv = (await s.execute(text(
                "INSERT INTO conversations (organization_id, contact_id, whatsapp_number_id, is_bot_active) "
                "VALUES (:o, :c, :n, false) RETURNING id"), {"o": organization_id, "c": contact, "n": number_id})).scalar()
            await s.execute(text(
                "INSERT INTO messages (conversation_id, direction, sender_type, type, content, status, "
                "whatsapp_message_id, sent_at, metadata) "
                "SELECT :c, 'outbound', 'agent', 'text', '{\"text\": \"promo\"}', 'sent', w, now(), '{}' "
                "FROM unnest(CAST(:w AS text[])) AS w"), {"c": conv, "w": chunk})
    return wamids


def status_bodies(webhooks: Any, sign: Callable[[str, bytes], str], secret: str, phone_number_id: str,
                  wamids: list[str]) -> list[tuple[bytes, str]]:
    """Signed bodies: ``sent`` of every message, then ``delivered``, then ``read``."""
    bodies = []
    for status in ("sent", "delivered", "read"):
        for wamid in wamids:
            body = webhooks.encode(webhooks.status_update(phone_number_id, wamid, status, "5511999999999"))
            bodies.append((body, sign(secret, body)))
    return bodies


async def measure(probe: Probe, label: str, bodies: list[tuple[bytes, str]], rate: float | None,
                  concurrency: int) -> dict[str, float]:
    answer_ms: list[float] = []
    failures = 0

    async def one(body: bytes, signature: str) -> None:
        nonlocal failures
        started = time.perf_counter()
        try:
            status, _ = await probe.post(body, signature)
        except (OSError, asyncio.IncompleteReadError):  # the server dropped the connection: Meta would retry
            failures += 1
            return
        answer_ms.append((time.perf_counter() - started) * 1000)
        if status != 200:
            failures += 1

    client_gc_off()
    api0, pg0, x0, own0 = probe.api_cpu(), await probe.backend_cpu(probe.db), await probe.transactions(probe.db), \
        time.process_time()
    started = time.perf_counter()
    if rate is None:  # saturation: `concurrency` posters, each posting its next as soon as answered
        todo = iter(bodies)

        async def poster() -> None:
            for body, signature in todo:
                await one(body, signature)

        await asyncio.gather(*(poster() for _ in range(concurrency)))
    else:
        rng = random.Random(11)
        tasks = []
        due = started
        for body, signature in bodies:
            due += rng.expovariate(rate)
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(one(body, signature)))
        await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    own = time.process_time() - own0
    client_gc_on()
    n = len(bodies)
    api_ms = (probe.api_cpu() - api0) * 1000 / n
    pg_ms = probe.backend_delta(pg0, await probe.backend_cpu(probe.db)) * 1000 / n
    xacts = (await probe.transactions(probe.db) - x0) / n
    per_s = n / elapsed
    floor = probe.floor_tps / 1000
    offered = "saturation" if rate is None else f"offered {rate:.0f}/s"
    print(f"  {label:<24} {offered:>16}: {per_s:7.0f} status webhooks/s ({per_s / floor:5.0f} per 1,000 pgbench tps)"
          f"{f', {failures} not answered 200' if failures else ''}")
    print(f"    webhook p50 / p99 {probe.pct(answer_ms, 50):6.1f} / {probe.pct(answer_ms, 99):6.1f} ms; per status: "
          f"API CPU {api_ms:.3f} ms, PostgreSQL CPU {pg_ms:.3f} ms, {xacts:.2f} transactions, "
          f"this process {own * 1000 / n:.3f} ms")
    return {"per_s": per_s, "p50": probe.pct(answer_ms, 50), "p99": probe.pct(answer_ms, 99), "api_ms": api_ms,
            "pg_ms": pg_ms, "xacts": xacts}


async def run(probe: Probe, webhooks: Any, sign: Callable[[str, bytes], str], secret: str, phone_number_id: str,
              organization_id: Any, number_id: Any, rates: list[float], seconds: float, saturation: int,
              concurrency: int) -> None:
    print(f"status webhooks alone (3 per message: sent, delivered, read; pgbench floor "
          f"{probe.floor_tps:.0f} single-row insert tps):")
    steps: list[tuple[str, float | None, int]] = [("fixed rate", r, max(3, int(r * seconds))) for r in rates]
    steps.append(("saturation", None, saturation))
    total = sum(-(-count // 3) for _, _, count in steps)
    wamids = await sent_messages(probe.db, organization_id, number_id, total)
    async with probe.db.session() as s:
        await s.execute(text("ANALYZE messages"))
        await s.commit()
    for label, rate, count in steps:
        messages = -(-count // 3)
        chunk, wamids = wamids[:messages], wamids[messages:]
        await measure(probe, label, status_bodies(webhooks, sign, secret, phone_number_id, chunk), rate, concurrency)
