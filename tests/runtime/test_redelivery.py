"""Meta redelivering a message, even many copies at the same moment, changes nothing:
one row, one contact, one conversation, every counter moved once. A redelivered
message that is still unprocessed wakes its conversation again (the first wake-up
may have been lost)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from api.sandbox import webhooks
from api.workers.queue import PROCESS_CONVERSATION, QUEUE
from tests.runtime.conftest import PNID

COPIES = 20
CUSTOMERS = 5


def _message(wa_id: str, body: str, wamid: str, stamp: int) -> dict:
    return webhooks.inbound_message(PNID, wa_id, webhooks.text_message(body), wamid=wamid, timestamp=stamp,
                                    profile_name=f"Cliente {wa_id[-2:]}")


async def _assert_counters(query, expected: dict[str, dict[str, Any]]) -> None:
    """``expected``: wa_id -> {"messages": n, "last": newest timestamp}."""
    contacts = await query("SELECT whatsapp_id, total_messages, last_message_at FROM contacts ORDER BY whatsapp_id")
    assert [c["whatsapp_id"] for c in contacts] == sorted(expected)
    for c in contacts:
        want = expected[c["whatsapp_id"]]
        assert c["total_messages"] == want["messages"], c["whatsapp_id"]
        assert c["last_message_at"].timestamp() == want["last"]
    conversations = await query(
        "SELECT ct.whatsapp_id, c.message_count, c.last_message_at, c.last_customer_message_at, "
        "c.first_message_at, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS stored "
        "FROM conversations c JOIN contacts ct ON ct.id = c.contact_id ORDER BY ct.whatsapp_id")
    assert [c["whatsapp_id"] for c in conversations] == sorted(expected)  # one conversation each
    for c in conversations:
        want = expected[c["whatsapp_id"]]
        assert c["message_count"] == c["stored"] == want["messages"], c["whatsapp_id"]
        assert c["last_message_at"].timestamp() == c["last_customer_message_at"].timestamp() == want["last"]
        assert c["first_message_at"].timestamp() == want["first"]


async def test_many_concurrent_copies_of_first_messages_are_stored_and_counted_once(webhook, query):
    stamp = int(time.time()) - 30
    docs = [_message(f"55119000071{i:02d}", f"oi {i}", f"wamid.CONC{i}", stamp + i) for i in range(CUSTOMERS)]
    answers = await asyncio.gather(*(webhook(doc) for doc in docs for _ in range(COPIES)))
    assert sum(a["stored"] for a in answers) == CUSTOMERS
    assert sum(a["duplicates"] for a in answers) == CUSTOMERS * (COPIES - 1)
    await _assert_counters(query, {f"55119000071{i:02d}": {"messages": 1, "first": stamp + i, "last": stamp + i}
                                   for i in range(CUSTOMERS)})


async def test_a_concurrent_mix_of_first_and_later_messages_with_copies_counts_each_message_once(webhook, query):
    stamp = int(time.time()) - 60
    # two customers already talking (their later messages take the one-statement path),
    # three new ones (their first messages race their later ones)
    for i in range(2):
        await webhook(_message(f"55119000072{i:02d}", "antes", f"wamid.MIX{i}.0", stamp))
    docs = [_message(f"55119000072{i:02d}", f"msg {k}", f"wamid.MIX{i}.{k}", stamp + k)
            for i in range(CUSTOMERS) for k in range(1, 5)]
    answers = await asyncio.gather(*(webhook(doc) for doc in docs for _ in range(COPIES // 2)))
    assert sum(a["stored"] for a in answers) == len(docs)
    expected = {f"55119000072{i:02d}": {"messages": 5 if i < 2 else 4, "first": stamp if i < 2 else stamp + 1,
                                        "last": stamp + 4} for i in range(CUSTOMERS)}
    await _assert_counters(query, expected)


async def _queued_conversations(redis) -> list[str]:
    tasks = [orjson.loads(raw) for raw in await redis.lrange(QUEUE, 0, -1)]
    return [t["args"][0] for t in tasks if t["task_name"] == PROCESS_CONVERSATION]


async def test_a_redelivered_unprocessed_message_wakes_its_conversation_again(webhook, query, redis, db):
    from sqlalchemy import text

    doc = _message("5511900007300", "oi", "wamid.LOST", int(time.time()))
    await webhook(doc)
    (conversation,) = [str(r["id"]) for r in await query("SELECT id FROM conversations")]
    await redis.delete(QUEUE)  # the wake-up was lost (a worker popped it and died, Redis lost it...)
    answer = await webhook(doc)
    assert answer["duplicates"] == 1 and answer["stored"] == 0
    assert await _queued_conversations(redis) == [conversation]
    # a later message of the conversation: its redelivery wakes it too
    later = _message("5511900007300", "tudo bem?", "wamid.LOST2", int(time.time()))
    await webhook(later)
    await redis.delete(QUEUE)
    await webhook(later)
    assert await _queued_conversations(redis) == [conversation]
    # once processed, a redelivery wakes nothing
    async with db.transaction() as s:
        await s.execute(text("UPDATE messages SET metadata = metadata || '{\"processed\": true}'"))
    await redis.delete(QUEUE)
    await webhook(doc)
    await webhook(later)
    assert await _queued_conversations(redis) == []
    await _assert_counters(query, {"5511900007300": {"messages": 2, "first": doc_stamp(doc),
                                                     "last": doc_stamp(later)}})


def doc_stamp(doc: dict) -> int:
    return int(doc["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"])
