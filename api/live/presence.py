"""Who is connected, in Redis, surviving the death of an API process.

Keys (docs/SCHEMA.md "WebSocket Connections"), all under the hash tag
``{ws}`` so that they share one Redis Cluster slot (the sweep's one script
walks the sets of many users; presence is a few commands per connect,
disconnect and heartbeat, so one slot carries it):

- ``{ws}:user:<user_id>``: Set of the user's socket ids, ``<process_id>:<n>``;
- ``{ws}:proc:<process_id>``: the process's heartbeat, a String that expires
  (``3 x live_heartbeat_seconds``) unless the process renews it;
- ``{ws}:proc:<process_id>:users``: Set of ``<organization_id>:<user_id>`` with a
  socket on that process;
- ``{ws}:procs``: Set of the process ids that registered sockets;
- ``{ws}:away``: Set of ``<organization_id>:<user_id>`` the sweep left without a
  socket and has yet to mark away (a sweep that fails between the two is
  finished by the next one).

A user's first socket marks them online and their last one away
(`api.assignment.set_status`, which is what automatic assignment reads).
Every change of a user's status, whoever made it (a socket opening or closing,
the sweep, a ``status`` message, ``POST /agents/me/status``), is announced to
that user's own sockets on every process (`change_status`, `announce`): another tab, or a socket
whose ``ready`` read the status just before the first socket's write landed,
learns the status as it now is. A
process that dies without closing its sockets leaves its heartbeat to expire;
`sweep` (run by every API process's heartbeat and by the workers' maintenance
loop) removes a dead process's sockets and marks away the users left with none,
so assignment stops picking them. A process whose heartbeat was swept while it
was merely stalled re-registers its sockets (`Heartbeat.beat`).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, Iterable

from api.assignment import set_status
from api.assignment.presence import Presence
from api.live.protocol import dumps
from api.live.publisher import channel
from api.redis_scripts import memo_key, resend_safe

log = logging.getLogger("pytake.live")

PROCS = "{ws}:procs"
AWAY = "{ws}:away"  # "<organization_id>:<user_id>" swept of their last socket, not yet marked away
USER_PREFIX = "{ws}:user:"


def user_key(user_id: Any) -> str:
    return f"{USER_PREFIX}{user_id}"


def proc_key(process_id: str) -> str:
    return f"{{ws}}:proc:{process_id}"


def proc_users_key(process_id: str) -> str:
    return f"{{ws}}:proc:{process_id}:users"


# KEYS: {ws}:user:<uid>, {ws}:proc:<pid>:users, {ws}:procs ; ARGV: socket id, "{org}:{uid}", pid -> sockets of the user
_JOIN = """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
return redis.call('SCARD', KEYS[1])
"""
# KEYS: {ws}:user:<uid>, {ws}:proc:<pid>:users ; ARGV: socket id, "{org}:{uid}", 1 if the user's last socket here
_LEAVE = """
redis.call('SREM', KEYS[1], ARGV[1])
if ARGV[3] == '1' then redis.call('SREM', KEYS[2], ARGV[2]) end
return redis.call('SCARD', KEYS[1])
"""
# KEYS: {ws}:proc:<pid>, {ws}:proc:<pid>:users, {ws}:procs ; ARGV: pid, the user key prefix -> the "{org}:{uid}" left without sockets
# (nothing when the process is alive: its heartbeat key exists)
_SWEEP = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {} end
local prefix = ARGV[1] .. ':'
local emptied = {}
for _, member in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local uid = string.sub(member, string.find(member, ':', 1, true) + 1)
  local key = ARGV[2] .. uid
  for _, sid in ipairs(redis.call('SMEMBERS', key)) do
    if string.sub(sid, 1, #prefix) == prefix then redis.call('SREM', key, sid) end
  end
  if redis.call('SCARD', key) == 0 then
    emptied[#emptied + 1] = member
    redis.call('SADD', KEYS[4], member)
  end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return emptied
"""
# KEYS: {ws}:proc:<pid>, {ws}:procs ; ARGV: pid, ttl ms -> 1 renewed, 0 the key was gone (swept).
# Sent twice, the second run answers the first's 0 (api.redis_scripts), not a 1 for the key the first
# set: a process whose heartbeat had expired always learns it, and registers its sockets again.
# (_JOIN, _LEAVE and _SWEEP answer the same when run twice: set operations, and the users a sweep
# left without sockets wait in AWAY for whichever sweep marks them away.)
_BEAT = resend_safe("""
local alive = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
if alive == 0 then return keep(0) end
return 1
""")


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def join(redis: Any, process_id: str, socket_id: str, user_id: Any, organization_id: Any) -> int:
    """Record a socket; the user's sockets now (1: they just came online)."""
    return int(await redis.eval(_JOIN, 3, user_key(user_id), proc_users_key(process_id), PROCS,
                                socket_id, f"{organization_id}:{user_id}", process_id))


async def leave(redis: Any, process_id: str, socket_id: str, user_id: Any, organization_id: Any,
                last_here: bool) -> int:
    """Forget a socket; the user's sockets left (0: they just went away)."""
    return int(await redis.eval(_LEAVE, 2, user_key(user_id), proc_users_key(process_id),
                                socket_id, f"{organization_id}:{user_id}", "1" if last_here else "0"))


async def sockets(redis: Any, user_id: Any) -> set[str]:
    return {_s(s) for s in await redis.smembers(user_key(user_id))}


async def beat(redis: Any, process_id: str, ttl_seconds: float) -> bool:
    """Renew the process's heartbeat; False when it had expired (and may have been swept)."""
    return bool(await redis.eval(_BEAT, 3, proc_key(process_id), PROCS, memo_key(proc_key(process_id)),
                                 process_id, int(ttl_seconds * 1000)))


def status_message(presence: Presence) -> str:
    """The ``status`` frame a socket is sent (docs/live.md)."""
    return dumps({"type": "status", "status": presence.status,
                  "assigned_conversation_ids": [str(a.conversation_id) for a in presence.assigned]})


async def announce(redis: Any, organization_id: Any, user_id: Any, presence: Presence | None, *,
                   except_socket: str | None = None) -> None:
    """Tell the user's own sockets (on every API process, not ``except_socket``) their
    status as ``presence`` left it. On the organization's live channel, with a header
    that only the user's sockets pass (`api.live.hub.Hub.route`: ``s``, ``x``). A
    notice: the status is already written, so a Redis that fails the PUBLISH is
    logged, not raised (the next ``ready`` carries the status)."""
    if presence is None:
        return
    header: dict[str, Any] = {"d": [], "u": [str(user_id)], "s": str(user_id)}
    if except_socket is not None:
        header["x"] = except_socket
    try:
        await redis.publish(channel(organization_id),
                            json.dumps(header, separators=(",", ":")) + "\n" + status_message(presence))
    except Exception as exc:  # noqa: BLE001 - see above
        log.warning("live: could not announce user %s's status (%s: %s)", user_id, type(exc).__name__, exc)


async def change_status(db: Any, redis: Any, user_id: Any, organization_id: Any, status: str, *,
                        except_socket: str | None = None) -> Presence | None:
    """`api.assignment.set_status`, then `announce` the result to the user's sockets (not
    ``except_socket``, which answers itself): every status change goes through here, so
    every one reaches every socket. None: no such user in the organization."""
    presence = await set_status(db, redis, user_id, organization_id, status)
    await announce(redis, organization_id, user_id, presence, except_socket=except_socket)
    return presence


async def went_online(db: Any, redis: Any, user_id: uuid.UUID, organization_id: uuid.UUID,
                      socket_id: str | None = None) -> None:
    """Mark online a user whose first socket (``socket_id``: its ``ready`` says so) opened."""
    await change_status(db, redis, user_id, organization_id, "online", except_socket=socket_id)


async def went_away(db: Any, redis: Any, members: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Mark away the users (``(organization_id, user_id)``) left without sockets, then
    look again: one who connected meanwhile (their socket is recorded before they are
    marked online) is marked online again."""
    for organization_id, user_id in members:
        await change_status(db, redis, user_id, organization_id, "away")
        if await redis.scard(user_key(user_id)):
            await went_online(db, redis, user_id, organization_id)


async def sweep(db: Any, redis: Any) -> int:
    """Remove the sockets of every process whose heartbeat expired; mark away the
    users left without one. The script that removes the sockets also records those
    users in `AWAY` (same slot), and each leaves it only once marked away, so a
    failure in between (PostgreSQL out of reach, this process killed) is made good
    by the next sweep, of any process, instead of leaving them online for good.
    Returns how many users this call marked away."""
    for process_id in [_s(p) for p in await redis.smembers(PROCS)]:
        emptied = await redis.eval(_SWEEP, 4, proc_key(process_id), proc_users_key(process_id), PROCS, AWAY,
                                   process_id, USER_PREFIX)
        if emptied:
            log.warning("live: process %s is gone; %d user(s) left without a socket marked away",
                        process_id, len(emptied))
    marked = 0
    for member in [_s(m) for m in await redis.smembers(AWAY)]:
        org, _, user = member.partition(":")
        await went_away(db, redis, [(uuid.UUID(org), uuid.UUID(user))])
        await redis.srem(AWAY, member)
        marked += 1
    return marked
