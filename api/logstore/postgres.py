"""The PostgreSQL log store (the embedded default): the tables of migration 0017.

Every write is one statement per batch (``INSERT ... SELECT FROM unnest``),
idempotent: a message keeps one row (``ON CONFLICT`` merges its status
history), a webhook attempt or request row is keyed by its own id, a session
row is written whole. The partitions a batch needs are created first (a
process remembers those it has seen); rows already past their lifetime are
not written (their partition would be dropped anyway).

The queries live in `PostgresLogReads`, on one database: the store's own (the
primary) or, for the ``/logs`` routes, the read replica (`PostgresLogStore.reads_on`,
chosen by `api.db.replica`); writes always go to the primary.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any

import orjson

from api.db.growth import GrowthAnalyzer
from api.logstore import partitions
from api.logstore.store import (LIFETIMES, MessageQuery, RequestQuery, StoreUnavailable, WebhookQuery,
                                fold_sessions)

STATUS_ORDER = "ARRAY['received','pending','sent','delivered','read','failed']::text[]"


# orjson gives the stdlib's JSON here (dates and dataclasses go through ``default=str`` as before);
# the stdlib takes what orjson refuses (an integer beyond 64 bits, NaN keys ...)
_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _j(value: Any) -> str | None:
    """A JSON column's value as text (a ``jsonb`` parameter): one per row and column of a batch."""
    if value is None:
        return None
    try:
        return orjson.dumps(value, default=str, option=_ORJSON).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, default=str)


_MESSAGE_COLUMNS = ("message_id", "organization_id", "conversation_id", "contact_id", "direction", "sender_type",
                    "type", "content", "text", "whatsapp_message_id", "whatsapp_metadata", "status",
                    "status_history", "created_at")
_MESSAGE_TYPES = ("uuid", "uuid", "uuid", "uuid", "text", "text", "text", "text", "text", "text", "text", "text",
                  "text", "timestamptz")
_JSON = {"content": "{}", "whatsapp_metadata": "{}", "status_history": "[]"}  # JSON columns, their empty value

_UPSERT_MESSAGES = f"""
INSERT INTO message_logs ({', '.join(_MESSAGE_COLUMNS)})
SELECT {', '.join(f"COALESCE({c}::jsonb, '{_JSON[c]}')" if c in _JSON else c for c in _MESSAGE_COLUMNS)}
  FROM unnest({', '.join(f'${i + 1}::{t}[]' for i, t in enumerate(_MESSAGE_TYPES))})
       AS r({', '.join(_MESSAGE_COLUMNS)})
ON CONFLICT (message_id, created_at) DO UPDATE SET
  conversation_id = COALESCE(message_logs.conversation_id, EXCLUDED.conversation_id),
  contact_id = COALESCE(message_logs.contact_id, EXCLUDED.contact_id),
  direction = COALESCE(message_logs.direction, EXCLUDED.direction),
  sender_type = COALESCE(message_logs.sender_type, EXCLUDED.sender_type),
  type = COALESCE(message_logs.type, EXCLUDED.type),
  content = CASE WHEN EXCLUDED.content = '{{}}'::jsonb THEN message_logs.content ELSE EXCLUDED.content END,
  text = COALESCE(EXCLUDED.text, message_logs.text),
  whatsapp_message_id = COALESCE(message_logs.whatsapp_message_id, EXCLUDED.whatsapp_message_id),
  status_history = message_logs.status_history || COALESCE((
      SELECT jsonb_agg(h) FROM jsonb_array_elements(EXCLUDED.status_history) h
       WHERE NOT message_logs.status_history @> jsonb_build_array(jsonb_build_object('status', h->'status'))),
      '[]'::jsonb),
  status = CASE WHEN COALESCE(array_position({STATUS_ORDER}, EXCLUDED.status::text), 0)
                     > COALESCE(array_position({STATUS_ORDER}, message_logs.status::text), 0)
                THEN EXCLUDED.status ELSE message_logs.status END,
  indexed_at = now()
"""

# a status of a message logged earlier: found by id (any partition), history merged
_UPDATE_STATUSES = f"""
UPDATE message_logs m SET
  status_history = m.status_history || COALESCE((
      SELECT jsonb_agg(h) FROM jsonb_array_elements(r.history::jsonb) h
       WHERE NOT m.status_history @> jsonb_build_array(jsonb_build_object('status', h->'status'))), '[]'::jsonb),
  status = CASE WHEN COALESCE(array_position({STATUS_ORDER}, r.status), 0)
                     > COALESCE(array_position({STATUS_ORDER}, m.status::text), 0)
                THEN r.status ELSE m.status END,
  whatsapp_message_id = COALESCE(m.whatsapp_message_id, r.wamid),
  indexed_at = now()
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS r(id, history, status, wamid)
 WHERE m.message_id = r.id
RETURNING m.message_id
"""

_SESSION_COLUMNS = ("id", "organization_id", "conversation_id", "contact_id", "session_start", "session_end",
                    "duration_seconds", "message_count", "bot_message_count", "human_message_count", "flow_path",
                    "ai_prompts", "handoff_occurred", "handoff_reason", "handoff_timestamp", "agent_id", "resolved",
                    "resolution_time_seconds", "satisfaction_rating", "outcome", "last_event_id", "created_at")
_SESSION_TYPES = ("uuid", "uuid", "uuid", "uuid", "timestamptz", "timestamptz", "int", "int", "int", "int", "text",
                  "text", "bool", "text", "timestamptz", "uuid", "bool", "int", "int", "text", "bigint",
                  "timestamptz")
_UPSERT_SESSIONS = f"""
INSERT INTO conversation_logs ({', '.join(_SESSION_COLUMNS)})
SELECT {', '.join(f'{c}::jsonb' if c in ('flow_path', 'ai_prompts') else c for c in _SESSION_COLUMNS)}
  FROM unnest({', '.join(f'${i + 1}::{t}[]' for i, t in enumerate(_SESSION_TYPES))})
       AS r({', '.join(_SESSION_COLUMNS)})
ON CONFLICT (id) DO UPDATE SET
{', '.join(f'  {c} = EXCLUDED.{c}' for c in _SESSION_COLUMNS[1:])}
 WHERE conversation_logs.last_event_id < EXCLUDED.last_event_id
"""
_LATEST_SESSIONS = """
SELECT DISTINCT ON (conversation_id) * FROM conversation_logs
 WHERE conversation_id = ANY($1::uuid[])
 ORDER BY conversation_id, session_start DESC, last_event_id DESC
"""

_WEBHOOK_COLUMNS = ("id", "organization_id", "webhook_id", "delivery_id", "event_type", "url", "method", "headers",
                    "payload", "status_code", "response_headers", "response_body", "response_time_ms", "success",
                    "error_message", "attempt_number", "created_at")
_WEBHOOK_TYPES = ("uuid", "uuid", "uuid", "uuid", "text", "text", "text", "text", "text", "int", "text", "text",
                  "int", "bool", "text", "int", "timestamptz")
_REQUEST_COLUMNS = ("id", "organization_id", "user_id", "method", "path", "query_params", "headers", "body",
                    "status_code", "response_time_ms", "ip_address", "user_agent", "success", "error_message",
                    "created_at")
_REQUEST_TYPES = ("uuid", "uuid", "uuid", "text", "text", "text", "text", "text", "int", "float8", "text", "text",
                  "bool", "text", "timestamptz")
_JSON_COLUMNS = {"headers", "payload", "response_headers", "query_params", "body"}


def _insert(table: str, columns: tuple[str, ...], types: tuple[str, ...]) -> str:
    return (f"INSERT INTO {table} ({', '.join(columns)}) "
            f"SELECT {', '.join(f'{c}::jsonb' if c in _JSON_COLUMNS else c for c in columns)} "
            f"FROM unnest({', '.join(f'${i + 1}::{t}[]' for i, t in enumerate(types))}) AS r({', '.join(columns)}) "
            f"ON CONFLICT DO NOTHING")


_INSERT_WEBHOOKS = _insert("webhook_logs", _WEBHOOK_COLUMNS, _WEBHOOK_TYPES)
_INSERT_REQUESTS = _insert("api_request_logs", _REQUEST_COLUMNS, _REQUEST_TYPES)


# U+0000 in a JSON text, as an escape (one not itself escaped: an even run of backslashes before it)
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _storable(value: Any) -> Any:
    """``value`` as PostgreSQL takes it: text and jsonb hold no U+0000, which a request's path, a
    header or a body may carry; it becomes U+FFFD. Before, one such record failed its whole batch on
    every retry, and the buffer's later records waited behind it until dropped."""
    if type(value) is str and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def _storable_json(text: str | None) -> str | None:
    if text is not None and "\\u0000" in text:
        return _JSON_NUL.sub(r"\1\\ufffd", text)
    return text


def _columns(records: list[dict[str, Any]], columns: tuple[str, ...], json_columns: set[str]) -> list[list[Any]]:
    return [[(_storable_json(_j(r.get(c))) if c in json_columns else _storable(r.get(c))) for r in records]
            for c in columns]


class _Where:
    """Conditions and their numbered parameters."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: list[Any] = []

    def add(self, sql: str, value: Any) -> None:
        self.params.append(value)
        self.parts.append(sql.replace("?", f"${len(self.params)}"))

    def common(self, since: datetime | None, until: datetime | None, before: datetime | None) -> None:
        if since is not None:
            self.add("created_at >= ?", since)
        if until is not None:
            self.add("created_at < ?", until)
        if before is not None:
            self.add("created_at < ?", before)

    def sql(self) -> str:
        return " AND ".join(self.parts)


def _row(record: Any) -> dict[str, Any]:
    out = dict(record)
    out.pop("search", None)
    return out


class PostgresLogReads:
    """The log store's queries on one database (``db``: an `api.db.session.Database`):
    the primary's, or a read replica's (`PostgresLogStore.reads_on`). Read-only."""

    def __init__(self, db: Any) -> None:
        self.db = db

    # -- queries ----------------------------------------------------------------------
    async def search_messages(self, q: MessageQuery) -> list[dict[str, Any]]:
        w = _Where()
        w.add("organization_id = ?", q.organization_id)
        if q.text:
            w.add("search @@ websearch_to_tsquery('simple', ?)", q.text)
        if q.contact_id is not None:
            w.add("contact_id = ?", q.contact_id)
        if q.conversation_id is not None:
            w.add("conversation_id = ?", q.conversation_id)
        if q.status is not None:
            w.add("status = ?", q.status)
        if q.direction is not None:
            w.add("direction = ?", q.direction)
        w.common(q.since, q.until, q.before)
        return await self._fetch(f"SELECT * FROM message_logs WHERE {w.sql()} "
                                 f"ORDER BY created_at DESC, message_id LIMIT {int(q.limit)}", w.params)

    async def conversation_sessions(self, organization_id: uuid.UUID,
                                    conversation_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self._fetch("SELECT * FROM conversation_logs WHERE organization_id = $1 AND conversation_id = $2 "
                                 "ORDER BY session_start DESC, last_event_id DESC", [organization_id, conversation_id])
        for r in rows:
            r.pop("last_event_id", None)
        return rows

    async def webhook_logs(self, q: WebhookQuery) -> list[dict[str, Any]]:
        w = _Where()
        w.add("organization_id = ?", q.organization_id)
        w.add("webhook_id = ?", q.webhook_id)
        if q.success is not None:
            w.add("success = ?", q.success)
        w.common(q.since, q.until, q.before)
        return await self._fetch(f"SELECT * FROM webhook_logs WHERE {w.sql()} "
                                 f"ORDER BY created_at DESC, id LIMIT {int(q.limit)}", w.params)

    async def api_request_logs(self, q: RequestQuery) -> list[dict[str, Any]]:
        w = _Where()
        w.add("organization_id = ?", q.organization_id)
        if q.user_id is not None:
            w.add("user_id = ?", q.user_id)
        if q.path is not None:
            w.add("path = ?", q.path)
        if q.method is not None:
            w.add("method = ?", q.method.upper())
        if q.status_code is not None:
            w.add("status_code = ?", q.status_code)
        w.common(q.since, q.until, q.before)
        return await self._fetch(f"SELECT * FROM api_request_logs WHERE {w.sql()} "
                                 f"ORDER BY created_at DESC, id LIMIT {int(q.limit)}", w.params)

    async def _fetch(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        try:
            async with self.db.raw() as conn:
                return [_row(r) for r in await conn.fetch(sql, *params)]
        except OSError as exc:
            raise StoreUnavailable(f"postgresql log store: {exc}") from exc


async def _message_logs_partition(conn: Any, newest: datetime | None) -> dict[str, str]:
    """The ``message_logs`` partition the newest row written went to (`GrowthAnalyzer`'s locate)."""
    if newest is None:
        return {}
    return {"message_logs": partitions.partition_name("message_logs",
                                                      partitions.period_start("message_logs", newest))}


class PostgresLogStore(PostgresLogReads):
    """`api.logstore.store.LogStore` on PostgreSQL (``db``: an `api.db.session.Database`, the
    primary: every write goes there, and the queries unless `reads_on` says otherwise)."""

    kind = "postgresql"

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self._partitions: set[tuple[str, Any]] = set()
        # the planner's counts of the tables this store grows (the status update and the sessions'
        # read would otherwise scan them whole per batch, with plans made while they were small)
        self.growth = GrowthAnalyzer(db, ("message_logs", "conversation_logs"), _message_logs_partition,
                                     what="log store statistics")

    def reads_on(self, db: Any) -> PostgresLogReads:
        """The queries on ``db`` (the routes pass the read replica, `api.context.on_read_db`);
        this store itself for its own database."""
        return self if db is self.db else PostgresLogReads(db)

    async def prepare(self, now: datetime | None = None) -> None:
        async with self.db.raw() as conn:
            await partitions.ensure_ahead(conn, now or datetime.now(timezone.utc))

    async def _ensure(self, conn: Any, table: str, times: list[datetime]) -> None:
        starts = {partitions.period_start(table, t) for t in times}
        missing = {s for s in starts if (table, s) not in self._partitions}
        if missing:
            await partitions.create(conn, table, missing)
            self._partitions.update((table, s) for s in missing)

    @staticmethod
    def _alive(table: str, records: list[dict[str, Any]], key: str = "created_at") -> list[dict[str, Any]]:
        horizon = datetime.now(timezone.utc) - LIFETIMES[table]
        return [r for r in records if r[key] > horizon]

    # -- writes ---------------------------------------------------------------------
    async def write_messages(self, records: list[dict[str, Any]]) -> None:
        records = self._alive("message_logs", records)
        if not records:
            return
        full = [r for r in records if r["full"]]
        statuses = [r for r in records if not r["full"]]
        async with self.db.raw() as conn:
            if statuses:
                found = {r["message_id"] for r in await conn.fetch(
                    _UPDATE_STATUSES, [r["message_id"] for r in statuses], [_j(r["status_history"]) for r in statuses],
                    [r["status"] for r in statuses], [r.get("whatsapp_message_id") for r in statuses])}
                # a status whose message was never logged (logs started later): logged on its own
                full += [r for r in statuses if r["message_id"] not in found]
            if full:
                await self._ensure(conn, "message_logs", [r["created_at"] for r in full])
                await conn.execute(_UPSERT_MESSAGES, *_columns(full, _MESSAGE_COLUMNS, _JSON))
        if full:
            self.growth.grew({"message_logs": len(full)}, max(r["created_at"] for r in full))  # its partition

    async def write_conversation_entries(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        async with self.db.raw() as conn:
            ids = sorted({e["conversation_id"] for e in entries})
            latest = {r["conversation_id"]: dict(r) for r in await conn.fetch(_LATEST_SESSIONS, ids)}
            changed = fold_sessions(latest, entries)
            if changed:
                await conn.execute(_UPSERT_SESSIONS, *_columns(changed, _SESSION_COLUMNS, {"flow_path", "ai_prompts"}))
        if changed:  # rows written (new or rewritten): at most that many added
            self.growth.grew({"conversation_logs": len(changed)})  # the analyzer keeps the last partition named

    async def _append(self, table: str, sql: str, columns: tuple[str, ...], records: list[dict[str, Any]]) -> None:
        records = self._alive(table, records)
        if records:
            async with self.db.raw() as conn:
                await self._ensure(conn, table, [r["created_at"] for r in records])
                await conn.execute(sql, *_columns(records, columns, _JSON_COLUMNS))

    async def write_webhook_attempts(self, records: list[dict[str, Any]]) -> None:
        await self._append("webhook_logs", _INSERT_WEBHOOKS, _WEBHOOK_COLUMNS, records)

    async def write_api_requests(self, records: list[dict[str, Any]]) -> None:
        await self._append("api_request_logs", _INSERT_REQUESTS, _REQUEST_COLUMNS, records)

    # -- upkeep -----------------------------------------------------------------------
    async def enforce_retention(self, now: datetime) -> list[str]:
        async with self.db.raw() as conn:
            dropped = await partitions.drop_expired(conn, now)
        self._partitions = {p for p in self._partitions if partitions.partition_name(*p) not in dropped}
        return dropped

    async def close(self) -> None:
        await self.growth.wait()


__all__ = ["PostgresLogReads", "PostgresLogStore"]
