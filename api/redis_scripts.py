"""Lua scripts that answer the same when Redis runs them twice.

A connection that breaks after the server ran a script but before its reply
came back makes redis-py (and `api.redis_clients.ResilientCluster`, across a
failover) send the script again. For a script whose second run would answer
differently (a pop that would take the next items, a mark that would refuse
its own second attempt), `resend_safe` gives the script a ``keep(answer)``
function: the script returns ``keep(x)`` where its run changed what a second
run would find, and ``x`` is then kept under a key the caller makes fresh for
each call (`memo_key`) for `MEMO_TTL_MS`; a second run finds it, answers it and
changes nothing. Answers a second run would repeat anyway (an empty pop, a
lease found taken) are returned plainly and cost no key.

The answer is kept with ``cmsgpack`` (binary-safe; integers, strings, arrays,
``false``/``nil`` come back as the first run gave them). Scripts whose second
run is harmless by their nature (``SADD``, a ``max``, a rename guarded by its
batch id) need none of this; docs/scaling.md lists which is which.
"""

from __future__ import annotations

import uuid

MEMO_TTL_MS = 60_000  # longer than any client's retries (the cluster's: CLUSTER_RETRY_SECONDS)


def resend_safe(body: str) -> str:
    """``body`` given ``keep(answer)`` (see the module doc); the caller passes a fresh
    `memo_key` as the last of KEYS, which ``body`` does not see (its KEYS are the
    others, numbered as before)."""
    return ("local memo = table.remove(KEYS)\n"
            "local kept = redis.call('GET', memo)\n"
            "if kept then return cmsgpack.unpack(kept) end\n"
            "local function keep(answer)\n"
            f"  redis.call('SET', memo, cmsgpack.pack(answer), 'PX', {MEMO_TTL_MS})\n"
            "  return answer\n"
            "end\n" + body.strip() + "\n")


def memo_key(key: str) -> str:
    """A fresh memo key in ``key``'s Redis Cluster slot (its hash tag, or all of it as the tag)."""
    start = key.find("{")
    if start >= 0 and key.find("}", start + 1) > start + 1:  # a non-empty tag: it decides the slot
        return f"{key}:memo:{uuid.uuid4().hex}"
    assert "{" not in key and "}" not in key, f"{key!r}: no usable hash tag"
    return f"{{{key}}}:memo:{uuid.uuid4().hex}"
