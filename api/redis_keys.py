"""The Redis structures of SCHEMA.md ("Redis - Cache e Filas"): key names,
types and TTLs in one place, with small typed async helpers.

| key | type | TTL |
|---|---|---|
| ``session:blacklist:{user_id}:{token_hash}`` | string ``"revoked"`` | until the token expires |
| ``session:valid_after:{user_id}`` | string: epoch milliseconds (PyTake's addition) | an access token's lifetime |
| ``user:session:{user_id}`` | hash (access_token, refresh_token, expires_at, device_info JSON) | 7 days |
| ``ratelimit:{ip}:{endpoint}`` | counter | 60 s window |
| ``ratelimit:user:{user_id}`` | counter | 60 s window |
| ``cache:conversations:{organization_id}:open`` | string (JSON) | 5 min |
| ``cache:contacts:{organization_id}:{contact_id}`` | hash (field -> JSON value) | 15 min |
| ``cache:auth:user:{user_id}`` | string ``"{organization_id} {role}"`` (PyTake's addition) | 60 s |
| ``cache:numbers:generation`` | counter: WhatsApp numbers changed (PyTake's addition, `api.whatsapp.numbers`) | none |
| ``ws:user:{user_id}`` | set of socket ids | none (removed with its last member) |
| ``typing:{conversation_id}:{user_id}`` | string ``"typing"`` | 5 s |
| ``temp:upload:{upload_id}`` | hash (file_path, mime_type, size) | 1 hour |

Every helper takes a ``redis.asyncio.Redis`` or ``RedisCluster`` client
(``decode_responses`` either way).

Redis Cluster (issue 18): a script, a MULTI or a multi-key command must touch
keys of one hash slot. A key's slot is the CRC16 of its *hash tag*, the part
between its first ``{`` and the next ``}``, when there is one. SCHEMA.md
writes its keys with ``{placeholders}``; PyTake keeps those braces in the
key, so the placeholder's value is the hash tag: every key of one user
(``session:valid_after:{user_id}``, ``cache:auth:user:{user_id}``,
``ratelimit:user:{user_id}``, and the blacklist entry, which therefore names
the user too: ``session:blacklist:{user_id}:{token_hash}``) lives in that
user's slot, as `check_auth`'s one script needs. Elsewhere:

- per conversation: ``lock:conversation:{id}``, ``lock:sender:{id}`` and their
  ``:fence`` / ``:missed`` / ``:released`` companions, ``maintenance:woken:*:{id}``,
  ``typing:{conversation_id}:{user_id}`` (the conversation is the tag);
- per WhatsApp number: ``ratelimit:wa:number:{phone_number_id}`` and
  ``ratelimit:wa:pair:{phone_number_id}:{wa_id}`` (one GCRA script takes both, and
  keeps its grant in ``ratelimit:wa:take:{phone_number_id}:<take_id>`` for a retry);
- per campaign: ``campaign:runner:{campaign_id}`` (+ ``:fence``, ``:missed``, ``:released``);
- one slot each, for structures one script walks as a whole: the live
  presence (``{ws}:user:<user_id>``, ``{ws}:proc:<process_id>``,
  ``{ws}:proc:<process_id>:users``, ``{ws}:procs``), the Taskiq lanes
  (``pytake:{tasks}``, ``pytake:{tasks}:default``, ``pytake:{tasks}:low``) and
  the path counts (``analytics:{path}:live``, ``:pending``, ``:pending_id``).

tests/cluster/test_key_slots.py checks every multi-key operation's keys
against this, on a real cluster.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from redis.asyncio import Redis

from api.redis_clients import pipelined
from api.redis_pipe import ScriptPipe

USER_SESSION_TTL = 7 * 24 * 3600
RATE_LIMIT_WINDOW = 60
OPEN_CONVERSATIONS_TTL = 5 * 60
CONTACT_CACHE_TTL = 15 * 60
TYPING_TTL = 5
TEMP_UPLOAD_TTL = 3600
USER_AUTH_CACHE_TTL = 60


# -- key names ---------------------------------------------------------------
def blacklist_key(token_hash: str, user_id: Any) -> str:
    return f"session:blacklist:{{{user_id}}}:{token_hash}"


def sessions_valid_after_key(user_id: Any) -> str:
    return f"session:valid_after:{{{user_id}}}"


def user_session_key(user_id: Any) -> str:
    return f"user:session:{{{user_id}}}"


def ip_rate_key(ip_address: str, endpoint: str) -> str:
    return f"ratelimit:{ip_address}:{endpoint}"


def user_rate_key(user_id: Any) -> str:
    return f"ratelimit:user:{{{user_id}}}"


def user_auth_cache_key(user_id: Any) -> str:
    return f"cache:auth:user:{{{user_id}}}"


def open_conversations_key(organization_id: Any) -> str:
    return f"cache:conversations:{organization_id}:open"


def contact_cache_key(organization_id: Any, contact_id: Any) -> str:
    return f"cache:contacts:{organization_id}:{contact_id}"


def ws_user_key(user_id: Any) -> str:
    return f"{{ws}}:user:{user_id}"  # api.live.presence's: all presence keys share one slot


def typing_key(conversation_id: Any, user_id: Any) -> str:
    return f"typing:{{{conversation_id}}}:{user_id}"


def temp_upload_key(upload_id: Any) -> str:
    return f"temp:upload:{upload_id}"


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


# -- 1. JWT blacklist ----------------------------------------------------------
async def blacklist_token(redis: Redis, token_hash: str, expires_at: datetime | float, user_id: Any) -> None:
    """Mark a token revoked until it would have expired (``expires_at``: an
    aware datetime or a number of seconds). An already expired token is not stored."""
    if isinstance(expires_at, datetime):
        seconds = (expires_at - datetime.now(timezone.utc)).total_seconds()
    else:
        seconds = float(expires_at)
    if seconds <= 0:
        return
    await redis.set(blacklist_key(token_hash, user_id), "revoked", px=max(1, math.ceil(seconds * 1000)))


async def is_blacklisted(redis: Redis, token_hash: str, user_id: Any) -> bool:
    return bool(await redis.exists(blacklist_key(token_hash, user_id)))


# -- 1b. ending every session of a user -------------------------------------------
# Access tokens issued (``iat_ms``) at or before this instant are refused; the
# key lives as long as an access token, after which none issued before it is
# still valid anyway. GREATEST semantics: a later end never moves it back.
_END_SESSIONS = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local after = math.max(current, tonumber(ARGV[1]))
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', ARGV[2])
return after
"""


async def end_sessions(redis: Redis, user_id: Any, at_ms: int, token_ttl_seconds: int) -> None:
    """Refuse every access token of ``user_id`` issued at or before ``at_ms``."""
    ttl_ms = max(1, int(token_ttl_seconds)) * 1000 + 60_000  # margin for clock skew between hosts
    await redis.eval(_END_SESSIONS, 1, sessions_valid_after_key(user_id), int(at_ms), ttl_ms)


async def sessions_valid_after(redis: Redis, user_id: Any) -> int | None:
    raw = await redis.get(sessions_valid_after_key(user_id))
    return None if raw is None else int(_text(raw))


# -- 2. user sessions ---------------------------------------------------------
@dataclass(frozen=True)
class UserSession:
    access_token: str
    refresh_token: str
    expires_at: datetime
    device_info: dict[str, Any]


async def put_user_session(redis: Redis, user_id: Any, session: UserSession) -> None:
    key = user_session_key(user_id)
    mapping = {
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
        "expires_at": session.expires_at.isoformat(),
        "device_info": json.dumps(session.device_info, separators=(",", ":")),
    }

    def fill(pipe: Any) -> None:
        pipe.delete(key)
        pipe.hset(key, mapping=mapping)
        pipe.expire(key, USER_SESSION_TTL)

    await pipelined(redis, fill, transaction=True)


async def get_user_session(redis: Redis, user_id: Any) -> UserSession | None:
    raw = {_text(k): _text(v) for k, v in (await redis.hgetall(user_session_key(user_id))).items()}
    if not raw:
        return None
    return UserSession(
        access_token=raw.get("access_token", ""),
        refresh_token=raw.get("refresh_token", ""),
        expires_at=datetime.fromisoformat(raw["expires_at"]),
        device_info=json.loads(raw.get("device_info") or "{}"),
    )


async def delete_user_session(redis: Redis, user_id: Any) -> None:
    await redis.delete(user_session_key(user_id))


# -- 3. rate limiting (fixed 60 s windows) -------------------------------------
@dataclass(frozen=True)
class RateCount:
    count: int  # requests in the current window, this one included
    ttl: float  # seconds until the window resets


# INCR and the window's expiry in one step: a counter never lives without TTL.
_INCR_WITH_TTL = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


async def _incr(redis: Redis, key: str, window: int) -> RateCount:
    count, ttl_ms = await redis.eval(_INCR_WITH_TTL, 1, key, int(window * 1000))
    return RateCount(int(count), int(ttl_ms) / 1000)


async def hit_ip_rate(redis: Redis, ip_address: str, endpoint: str,
                      window: int = RATE_LIMIT_WINDOW) -> RateCount:
    return await _incr(redis, ip_rate_key(ip_address, endpoint), window)


async def hit_user_rate(redis: Redis, user_id: Any, window: int = RATE_LIMIT_WINDOW) -> RateCount:
    return await _incr(redis, user_rate_key(user_id), window)


# Everything an authenticated request needs from Redis, in one command: is the
# token revoked (logout blacklist, or issued at or before the user's sessions
# were ended: KEYS[3] against ARGV[2], the token's ``iat_ms``), the cached
# (organization, role) of its user, and the user's rate count (INCR with the
# window's expiry, as above) when KEYS[4] is given.
_AUTH_CHECK = """
local revoked = redis.call('EXISTS', KEYS[1])
if revoked == 0 then
  local after = redis.call('GET', KEYS[3])
  if after and tonumber(ARGV[2]) <= tonumber(after) then
    revoked = 2
  end
end
local user = redis.call('GET', KEYS[2]) or ''
local count, ttl = -1, -1
if #KEYS > 3 then
  count = redis.call('INCR', KEYS[4])
  ttl = redis.call('PTTL', KEYS[4])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[4], ARGV[1])
    ttl = tonumber(ARGV[1])
  end
end
return {revoked, user, count, ttl}
"""


@dataclass(frozen=True)
class AuthCheck:
    revoked: bool  # blacklisted by logout
    user: tuple[str, str] | None  # cached (organization_id, role), None when not cached
    rate: RateCount | None  # None when the per-user limit is off
    ended: bool = False  # issued before the user's sessions were ended (`end_sessions`)


def auth_check_pipe(redis_url: str) -> ScriptPipe:
    """A pipelined connection for `check_auth`'s script (one per API process)."""
    return ScriptPipe(redis_url, _AUTH_CHECK)


async def check_auth(redis: Redis, token_hash: str, user_id: Any, *, count_rate: bool,
                     issued_ms: int = 0, window: int = RATE_LIMIT_WINDOW,
                     pipe: ScriptPipe | None = None) -> AuthCheck:
    """Blacklist, ended sessions, cached user and per-user rate count in one
    round trip (one server-side script: an authenticated request needs them
    all); through ``pipe`` (`auth_check_pipe`) when given, else through
    redis-py. ``issued_ms``: when the token was issued (epoch milliseconds)."""
    keys = [blacklist_key(token_hash, user_id), user_auth_cache_key(user_id), sessions_valid_after_key(user_id)]
    if count_rate:
        keys.append(user_rate_key(user_id))
    args = [int(window * 1000), int(issued_ms)]
    if pipe is not None:
        revoked, user, count, ttl_ms = await pipe(keys, args)
    else:
        script = getattr(redis, "_pytake_auth_check", None)
        if script is None:  # registered once per client: EVALSHA, not the script's text, per request
            script = redis.register_script(_AUTH_CHECK)
            redis._pytake_auth_check = script  # type: ignore[attr-defined]
        revoked, user, count, ttl_ms = await script(keys=keys, args=args)
    user = _text(user)
    cached = tuple(user.split(" ", 1)) if user else None
    rate = RateCount(int(count), int(ttl_ms) / 1000) if count_rate else None
    return AuthCheck(int(revoked) == 1, cached, rate, ended=int(revoked) == 2)  # type: ignore[arg-type]


async def cache_user_auth(redis: Redis, user_id: Any, organization_id: Any, role: str) -> None:
    await redis.set(user_auth_cache_key(user_id), f"{organization_id} {role}", ex=USER_AUTH_CACHE_TTL)


async def forget_user_auth(redis: Redis, user_ids: Any) -> None:
    keys = [user_auth_cache_key(user_id) for user_id in user_ids]
    if keys:
        await redis.delete(*keys)


# -- 4. query caches ------------------------------------------------------------
async def cache_open_conversations(redis: Redis, organization_id: Any, conversations: Any) -> None:
    await redis.set(open_conversations_key(organization_id),
                    json.dumps(conversations, default=str, separators=(",", ":")),
                    ex=OPEN_CONVERSATIONS_TTL)


async def cached_open_conversations(redis: Redis, organization_id: Any) -> Any | None:
    raw = await redis.get(open_conversations_key(organization_id))
    return None if raw is None else json.loads(raw)


async def invalidate_open_conversations(redis: Redis, organization_id: Any) -> None:
    await redis.delete(open_conversations_key(organization_id))


async def cache_contact(redis: Redis, organization_id: Any, contact_id: Any,
                        data: Mapping[str, Any]) -> None:
    """Cache a contact as a hash, one field per attribute (values JSON-encoded)."""
    key = contact_cache_key(organization_id, contact_id)
    mapping = {k: json.dumps(v, default=str) for k, v in data.items()}

    def fill(pipe: Any) -> None:
        pipe.delete(key)
        if mapping:
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, CONTACT_CACHE_TTL)

    await pipelined(redis, fill, transaction=True)


async def cached_contact(redis: Redis, organization_id: Any, contact_id: Any) -> dict[str, Any] | None:
    raw = await redis.hgetall(contact_cache_key(organization_id, contact_id))
    if not raw:
        return None
    return {_text(k): json.loads(v) for k, v in raw.items()}


async def invalidate_contact(redis: Redis, organization_id: Any, contact_id: Any) -> None:
    await redis.delete(contact_cache_key(organization_id, contact_id))


# -- 5. WebSocket connections -----------------------------------------------------
async def ws_add(redis: Redis, user_id: Any, socket_id: str) -> None:
    await redis.sadd(ws_user_key(user_id), socket_id)


async def ws_remove(redis: Redis, user_id: Any, socket_id: str) -> None:
    """Forget a socket; the key disappears with the user's last socket."""
    await redis.srem(ws_user_key(user_id), socket_id)


async def ws_sockets(redis: Redis, user_id: Any) -> set[str]:
    return {_text(m) for m in await redis.smembers(ws_user_key(user_id))}


# -- 7. typing indicators -----------------------------------------------------------
async def set_typing(redis: Redis, conversation_id: Any, user_id: Any) -> None:
    await redis.set(typing_key(conversation_id, user_id), "typing", ex=TYPING_TTL)


async def clear_typing(redis: Redis, conversation_id: Any, user_id: Any) -> None:
    await redis.delete(typing_key(conversation_id, user_id))


async def is_typing(redis: Redis, conversation_id: Any, user_id: Any) -> bool:
    return bool(await redis.exists(typing_key(conversation_id, user_id)))


async def typing_users(redis: Redis, conversation_id: Any) -> set[str]:
    """Users typing in a conversation (a SCAN over ``typing:{conversation_id}:*``)."""
    prefix = typing_key(conversation_id, "")
    return {_text(k)[len(prefix):] async for k in redis.scan_iter(match=prefix + "*", count=100)}


# -- 8. temporary uploads ---------------------------------------------------------------
@dataclass(frozen=True)
class TempUpload:
    file_path: str
    mime_type: str
    size: int


async def put_temp_upload(redis: Redis, upload_id: Any, upload: TempUpload) -> None:
    key = temp_upload_key(upload_id)
    mapping = {"file_path": upload.file_path, "mime_type": upload.mime_type, "size": str(upload.size)}

    def fill(pipe: Any) -> None:
        pipe.hset(key, mapping=mapping)
        pipe.expire(key, TEMP_UPLOAD_TTL)

    await pipelined(redis, fill, transaction=True)


async def get_temp_upload(redis: Redis, upload_id: Any) -> TempUpload | None:
    raw = {_text(k): _text(v) for k, v in (await redis.hgetall(temp_upload_key(upload_id))).items()}
    if not raw:
        return None
    return TempUpload(raw["file_path"], raw["mime_type"], int(raw["size"]))


async def delete_temp_upload(redis: Redis, upload_id: Any) -> None:
    await redis.delete(temp_upload_key(upload_id))
