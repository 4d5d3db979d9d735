"""/logs: the log store, read-only (docs/logs.md). Every query is the caller's organization's.

- ``GET /logs/messages``: message logs (status timeline, WhatsApp metadata), full-text
  search (``q``), by contact, conversation, status, direction and period (``messages:read``);
- ``GET /logs/conversations/{id}``: a conversation's bot sessions (``conversations:read``);
- ``GET /logs/webhooks/{id}``: a webhook's delivery attempts (``webhooks:read``);
- ``GET /logs/api-requests``: API requests, bodies sanitized (``audit_logs:read``: admins).

Pages are newest first, ``limit`` at most 200; ``next_before`` is the next page's ``before``.
With the PostgreSQL store and a read replica (``DATABASE_REPLICA_URL``), the log queries run
on the replica under the rules of `api.db.replica` (the caller's own writes seen, the primary
when the replica is behind them or unreachable); the scope checks stay on the primary.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Awaitable, Callable, Literal, TypeVar

from pydantic import Field, create_model
from pydantic.json_schema import SkipJsonSchema
from quart import Blueprint, current_app, request
from quart_schema import document_querystring, document_response, operation_id, tag

from api.auth.permissions import require
from api.context import get_db, on_read_db
from api.db.models import Conversation, Webhook
from api.errors import ApiError, ValidationFailed
from api.logstore import MAX_LIMIT, LogStore, MessageQuery, RequestQuery, StoreUnavailable, WebhookQuery
from api.resources import load_in_scope, org_id
from api.resources.crud import check_query_params
from api.resources.filters import parse_bool, parse_datetime
from api.schemas.logs import ApiRequestLogPage, ConversationLogOut, MessageLogPage, WebhookLogPage

blueprint = Blueprint("logs", __name__)
STORE_KEY = "pytake.logstore"
WEBHOOK_LOG_KEY = "pytake.webhook_log"  # the app's buffer of webhook attempts (test events)
MESSAGE_STATUSES = ("received", "pending", "sent", "delivered", "read", "failed")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DIRECTIONS = ("inbound", "outbound")
DEFAULT_LIMIT = 50


def _param(annotation: Any, description: str) -> tuple[Any, Any]:
    return (annotation | SkipJsonSchema[None],
            Field(None, description=description, json_schema_extra=lambda schema: schema.pop("default", None)))


_PERIOD = {
    "since": _param(datetime, "logs created at or after (ISO 8601)"),
    "until": _param(datetime, "logs created before (ISO 8601)"),
    "before": _param(datetime, "the previous page's next_before"),
    "limit": _param(Annotated[int, Field(ge=1, le=MAX_LIMIT)], f"logs per page (default {DEFAULT_LIMIT})"),
}
MessageLogQuery = create_model(
    "MessageLogQuery", q=_param(str, "words the message contains (full-text; \"quoted phrase\", -excluded)"),
    contact_id=_param(uuid.UUID, "the contact's messages"),
    conversation_id=_param(uuid.UUID, "the conversation's messages"),
    status=_param(Literal[MESSAGE_STATUSES], "the message's current status"),  # type: ignore[valid-type]
    direction=_param(Literal[DIRECTIONS], "inbound (from the contact) or outbound"), **_PERIOD)  # type: ignore[valid-type]
WebhookLogQuery = create_model("WebhookLogQuery", success=_param(bool, "only successful (true) or failed (false) attempts"),
                               **_PERIOD)
ApiRequestLogQuery = create_model(
    "ApiRequestLogQuery", user_id=_param(uuid.UUID, "the user's requests"), path=_param(str, "exact request path"),
    method=_param(Literal[METHODS], "HTTP method"),  # type: ignore[valid-type]
    status_code=_param(Annotated[int, Field(ge=100, le=599)], "response status"), **_PERIOD)


def get_store() -> LogStore:
    return current_app.extensions[STORE_KEY]


def _args(model: Any) -> dict[str, str]:
    check_query_params(list(model.model_fields))
    return {k: v for k, v in request.args.items()}


def _uuid(args: dict[str, str], name: str) -> uuid.UUID | None:
    if name not in args:
        return None
    try:
        return uuid.UUID(args[name].strip())
    except ValueError:
        raise ValidationFailed(name, f"{name} must be a UUID") from None


def _int(args: dict[str, str], name: str, low: int, high: int) -> int | None:
    if name not in args:
        return None
    try:
        value = int(args[name].strip())
    except ValueError:
        raise ValidationFailed(name, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise ValidationFailed(name, f"{name} must be between {low} and {high}")
    return value


def _period(args: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {name: parse_datetime(name, args[name]) if name in args else None
                           for name in ("since", "until", "before")}
    limit = _int(args, "limit", 1, MAX_LIMIT)
    out["limit"] = DEFAULT_LIMIT if limit is None else limit
    return out


def _choice(args: dict[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    if name not in args:
        return None
    if args[name] not in choices:
        raise ValidationFailed(name, f"{name} must be one of: {', '.join(choices)}")
    return args[name]


def _page(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    return {"items": items, "next_before": items[-1]["created_at"] if len(items) == limit else None}


T = TypeVar("T")


async def _ask(query: Callable[[Any], Awaitable[T]]) -> T:
    """``await query(reads)``: the log store's answer, read where it should be. The
    PostgreSQL store's queries go through `on_read_db` (the replica when configured,
    with read-your-writes and the fallback to the primary); MongoDB answers itself."""
    store = get_store()
    reads_on = getattr(store, "reads_on", None)
    try:
        if reads_on is None:
            return await query(store)
        return await on_read_db(lambda db: query(reads_on(db)))
    except StoreUnavailable as exc:
        raise ApiError(503, "log_store_unavailable", "the log store cannot be reached; try again later") from exc


@blueprint.get("/logs/messages")
@tag(["logs"])
@operation_id("search_message_logs")
@document_querystring(MessageLogQuery)
@document_response(MessageLogPage)
@require("messages:read")
async def search_message_logs() -> Any:
    """Message logs, newest first: each message with its status timeline (sent, delivered,
    read, failed and when), its WhatsApp metadata and content. ``q`` searches the words."""
    args = _args(MessageLogQuery)
    text = args.get("q", "").strip() or None
    query = MessageQuery(org_id(), text=text, contact_id=_uuid(args, "contact_id"),
                         conversation_id=_uuid(args, "conversation_id"),
                         status=_choice(args, "status", MESSAGE_STATUSES),
                         direction=_choice(args, "direction", DIRECTIONS), **_period(args))
    return _page(await _ask(lambda reads: reads.search_messages(query)), query.limit)


@blueprint.get("/logs/conversations/<uuid:item_id>")
@tag(["logs"])
@operation_id("get_conversation_log")
@document_response(ConversationLogOut)
@require("conversations:read")
async def get_conversation_log(item_id: uuid.UUID) -> Any:
    """A conversation's bot sessions, newest first: start and end, messages by bot and by
    people, the flow path, AI calls (prompt, answer, model, tokens, latency), handoff (reason,
    time, agent) and outcome; ``ai_usage``: AI calls and tokens, per session and in all."""
    async with get_db().session() as session:
        await load_in_scope(session, Conversation, item_id, org_id(), label="conversation")
    organization_id = org_id()
    sessions = await _ask(lambda reads: reads.conversation_sessions(organization_id, item_id))
    sessions = [{**s, "ai_usage": ai_usage(s.get("ai_prompts") or [])} for s in sessions]
    return {"conversation_id": item_id, "sessions": sessions,
            "ai_usage": ai_usage([a for s in sessions for a in s.get("ai_prompts") or []])}


def ai_usage(calls: list[dict[str, Any]]) -> dict[str, int]:
    """The calls and the tokens their providers reported (a call without usage adds none)."""
    total = {"calls": len(calls), "prompt_tokens": 0, "completion_tokens": 0, "tokens_used": 0}
    for call in calls:
        for key in ("prompt_tokens", "completion_tokens", "tokens_used"):
            value = call.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                total[key] += value
    return total


@blueprint.get("/logs/webhooks/<uuid:item_id>")
@tag(["logs"])
@operation_id("list_webhook_logs")
@document_querystring(WebhookLogQuery)
@document_response(WebhookLogPage)
@require("webhooks:read")
async def list_webhook_logs(item_id: uuid.UUID) -> Any:
    """Every delivery attempt of a webhook, newest first: request, response, time, result."""
    args = _args(WebhookLogQuery)
    async with get_db().session() as session:
        await load_in_scope(session, Webhook, item_id, org_id(), label="webhook")
    success = parse_bool("success", args["success"]) if "success" in args else None
    query = WebhookQuery(org_id(), item_id, success=success, **_period(args))
    return _page(await _ask(lambda reads: reads.webhook_logs(query)), query.limit)


@blueprint.get("/logs/api-requests")
@tag(["logs"])
@operation_id("list_api_request_logs")
@document_querystring(ApiRequestLogQuery)
@document_response(ApiRequestLogPage)
@require("audit_logs:read")
async def list_api_request_logs() -> Any:
    """The organization's API requests, newest first: method, path, sanitized query, headers
    and body (credentials masked), status, latency, user, IP address, user agent."""
    args = _args(ApiRequestLogQuery)
    query = RequestQuery(org_id(), user_id=_uuid(args, "user_id"), path=args.get("path"),
                         method=_choice(args, "method", METHODS), status_code=_int(args, "status_code", 100, 599),
                         **_period(args))
    return _page(await _ask(lambda reads: reads.api_request_logs(query)), query.limit)
