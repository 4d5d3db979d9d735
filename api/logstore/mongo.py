"""The MongoDB log store (``MONGODB_URL``), through PyMongo's async client.

docs/SCHEMA.md's collections, fields, indexes and TTL indexes (message_logs a
year, webhook_logs 90 days, api_request_logs 30 days), plus what the log
store's queries and idempotent writes need: a unique ``message_id`` and a
``contact_id`` index on message_logs, a ``(organization_id, conversation_id)``
index on conversation_logs. Text search: the ``content.text`` text index
(SCHEMA.md), over ``text`` too (a caption or a list's body is searchable).

UUIDs are stored as BSON UUIDs (``uuidRepresentation="standard"``); a session,
a webhook attempt and a request use their own UUID as ``_id`` (a batch written
twice inserts nothing new). Retention is MongoDB's TTL monitor: nothing for
`enforce_retention` to do.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from api.logstore.store import (LIFETIMES, MessageQuery, RequestQuery, StoreUnavailable, WebhookQuery,
                                fold_sessions)

STATUS_ORDER = ["received", "pending", "sent", "delivered", "read", "failed"]
SERVER_TIMEOUT_MS = 5000

INDEXES: dict[str, list[tuple[list[tuple[str, Any]], dict[str, Any]]]] = {
    "message_logs": [
        ([("organization_id", 1), ("created_at", -1)], {}),
        ([("conversation_id", 1), ("created_at", -1)], {}),
        ([("whatsapp_message_id", 1)], {}),
        ([("content.text", "text"), ("text", "text")], {"name": "message_logs_text", "default_language": "none"}),
        ([("created_at", 1)], {"expireAfterSeconds": int(LIFETIMES["message_logs"].total_seconds())}),
        ([("message_id", 1)], {"unique": True}),
        ([("contact_id", 1), ("created_at", -1)], {}),
    ],
    "conversation_logs": [
        ([("organization_id", 1), ("session_start", -1)], {}),
        ([("contact_id", 1), ("session_start", -1)], {}),
        ([("conversation_id", 1)], {}),
    ],
    "webhook_logs": [
        ([("organization_id", 1), ("created_at", -1)], {}),
        ([("webhook_id", 1), ("created_at", -1)], {}),
        ([("success", 1)], {}),
        ([("created_at", 1)], {"expireAfterSeconds": int(LIFETIMES["webhook_logs"].total_seconds())}),
    ],
    "api_request_logs": [
        ([("organization_id", 1), ("created_at", -1)], {}),
        ([("user_id", 1), ("created_at", -1)], {}),
        ([("path", 1), ("method", 1)], {}),
        ([("created_at", 1)], {"expireAfterSeconds": int(LIFETIMES["api_request_logs"].total_seconds())}),
    ],
}

_BASE_FIELDS = ("organization_id", "conversation_id", "contact_id", "direction", "sender_type", "type", "content",
                "text", "whatsapp_message_id", "whatsapp_metadata", "created_at")


def _rank(expr: Any) -> dict[str, Any]:
    return {"$indexOfArray": [STATUS_ORDER, expr]}


def message_update(r: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The upsert pipeline of one message record: fields kept when already set, statuses
    not yet in the history appended, the furthest status kept."""
    base = {f: {"$ifNull": [f"${f}", {"$literal": r.get(f)}]} for f in _BASE_FIELDS if r.get(f) is not None}
    if r["full"] and r.get("content"):  # values as literals: a text may start with "$"
        base["content"] = {"$literal": r["content"]}
        base["text"] = {"$literal": r.get("text")}
    history = {"$ifNull": ["$status_history", []]}
    new = {"$filter": {"input": {"$literal": r["status_history"]}, "as": "h",
                       "cond": {"$not": [{"$in": ["$$h.status", {"$ifNull": ["$status_history.status", []]}]}]}}}
    status = {"$cond": [{"$gt": [_rank({"$literal": r.get("status")}), _rank({"$ifNull": ["$status", None]})]},
                        {"$literal": r.get("status")}, "$status"]} if r.get("status") else {"$ifNull": ["$status", None]}
    return [{"$set": {**base, "message_id": {"$literal": r["message_id"]}, "status": status,
                      "status_history": {"$concatArrays": [history, new]}, "indexed_at": {"$literal": now}}}]


class MongoLogStore:
    """`api.logstore.store.LogStore` on MongoDB."""

    kind = "mongodb"

    def __init__(self, url: str, database: str | None = None) -> None:
        from pymongo import AsyncMongoClient

        self.client = AsyncMongoClient(url, uuidRepresentation="standard", tz_aware=True,
                                       serverSelectionTimeoutMS=SERVER_TIMEOUT_MS)
        self.db = self.client[database] if database else self.client.get_default_database("pytake")

    async def prepare(self, now: datetime | None = None) -> None:
        from pymongo import IndexModel

        for name, specs in INDEXES.items():
            await self.db[name].create_indexes([IndexModel(keys, **opts) for keys, opts in specs])

    async def write_messages(self, records: list[dict[str, Any]]) -> None:
        from pymongo import UpdateOne

        if not records:
            return
        now = datetime.now().astimezone()
        ops = [UpdateOne({"message_id": r["message_id"]}, message_update(r, now), upsert=True) for r in records]
        await self.db.message_logs.bulk_write(ops, ordered=True)

    async def write_conversation_entries(self, entries: list[dict[str, Any]]) -> None:
        from pymongo import ReplaceOne

        if not entries:
            return
        ids = sorted({e["conversation_id"] for e in entries})
        latest: dict[uuid.UUID, dict[str, Any]] = {}
        cursor = self.db.conversation_logs.aggregate([
            {"$match": {"conversation_id": {"$in": ids}}},
            {"$sort": {"conversation_id": 1, "session_start": -1, "last_event_id": -1}},
            {"$group": {"_id": "$conversation_id", "doc": {"$first": "$$ROOT"}}}])
        async for row in cursor:
            doc = row["doc"]
            doc["id"] = doc.pop("_id")
            latest[doc["conversation_id"]] = doc
        changed = fold_sessions(latest, entries)
        if changed:
            ops = [ReplaceOne({"_id": s["id"]}, {**{k: v for k, v in s.items() if k != "id"}, "_id": s["id"]},
                              upsert=True) for s in changed]
            await self.db.conversation_logs.bulk_write(ops, ordered=True)

    async def _insert(self, collection: str, records: list[dict[str, Any]]) -> None:
        from pymongo.errors import BulkWriteError

        if not records:
            return
        docs = [{**{k: v for k, v in r.items() if k != "id"}, "_id": r["id"]} for r in records]
        try:
            await self.db[collection].insert_many(docs, ordered=False)
        except BulkWriteError as exc:  # written before: a retried batch
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    async def write_webhook_attempts(self, records: list[dict[str, Any]]) -> None:
        await self._insert("webhook_logs", records)

    async def write_api_requests(self, records: list[dict[str, Any]]) -> None:
        await self._insert("api_request_logs", records)

    # -- queries ----------------------------------------------------------------------
    async def _find(self, collection: str, match: dict[str, Any], limit: int,
                    sort: list[tuple[str, int]]) -> list[dict[str, Any]]:
        from pymongo.errors import PyMongoError

        try:
            rows = await self.db[collection].find(match).sort(sort).limit(int(limit)).to_list()
        except PyMongoError as exc:
            raise StoreUnavailable(f"mongodb log store: {exc}") from exc
        for row in rows:
            row["id"] = row.pop("_id")
        return rows

    @staticmethod
    def _period(match: dict[str, Any], since: Any, until: Any, before: Any) -> None:
        bounds: dict[str, Any] = {}
        if since is not None:
            bounds["$gte"] = since
        uppers = [u for u in (until, before) if u is not None]
        if uppers:
            bounds["$lt"] = min(uppers)
        if bounds:
            match["created_at"] = bounds

    async def search_messages(self, q: MessageQuery) -> list[dict[str, Any]]:
        match: dict[str, Any] = {"organization_id": q.organization_id}
        if q.text:
            match["$text"] = {"$search": q.text}
        for field in ("contact_id", "conversation_id", "status", "direction"):
            if getattr(q, field) is not None:
                match[field] = getattr(q, field)
        self._period(match, q.since, q.until, q.before)
        rows = await self._find("message_logs", match, q.limit, [("created_at", -1), ("message_id", 1)])
        for row in rows:
            row.pop("id", None)
        return rows

    async def conversation_sessions(self, organization_id: uuid.UUID,
                                    conversation_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self._find("conversation_logs", {"organization_id": organization_id,
                                                      "conversation_id": conversation_id}, 1000,
                                [("session_start", -1), ("last_event_id", -1)])
        for r in rows:
            r.pop("last_event_id", None)
        return rows

    async def webhook_logs(self, q: WebhookQuery) -> list[dict[str, Any]]:
        match: dict[str, Any] = {"organization_id": q.organization_id, "webhook_id": q.webhook_id}
        if q.success is not None:
            match["success"] = q.success
        self._period(match, q.since, q.until, q.before)
        return await self._find("webhook_logs", match, q.limit, [("created_at", -1), ("_id", 1)])

    async def api_request_logs(self, q: RequestQuery) -> list[dict[str, Any]]:
        match: dict[str, Any] = {"organization_id": q.organization_id}
        for field in ("user_id", "path", "status_code"):
            if getattr(q, field) is not None:
                match[field] = getattr(q, field)
        if q.method is not None:
            match["method"] = q.method.upper()
        self._period(match, q.since, q.until, q.before)
        return await self._find("api_request_logs", match, q.limit, [("created_at", -1), ("_id", 1)])

    async def enforce_retention(self, now: datetime) -> list[str]:
        return []  # the TTL indexes remove expired documents

    async def close(self) -> None:
        await self.client.close()


__all__ = ["INDEXES", "MongoLogStore", "message_update"]
