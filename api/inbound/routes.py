"""`/webhooks/whatsapp`: Meta's verification handshake and the webhook receiver.

``/webhooks/whatsapp`` is the deployment's default Meta app
(``PYTAKE_WHATSAPP_APP_SECRET``); ``/webhooks/whatsapp/<app_key>`` is an
organization's own app (`api.whatsapp.apps`): its secret, its verify token,
and only its organization's numbers and messages are written.

- ``GET``: Meta's subscription check. ``hub.mode=subscribe`` and a
  ``hub.verify_token`` equal to the process default
  (``PYTAKE_WHATSAPP_VERIFY_TOKEN``), a number's ``settings.verify_token`` or
  an organization's ``whatsapp_webhook_verify_token`` → the ``hub.challenge``
  is echoed; anything else → 403.
- ``POST``: the signature (X-Hub-Signature-256 over the raw body, app secret)
  is checked first: bad or missing → 401, nothing read further. A body that
  is not a WhatsApp webhook → 400. Otherwise messages and statuses are stored
  (`ingest_messages`: one autocommit statement per message in the common
  case), the processing tasks are enqueued, the statuses are applied by the
  process's `StatusBatcher` (group commit with concurrent webhooks' statuses,
  one statement per batch) and 200 is returned once they are committed. A
  redelivered message or status is a no-op. PostgreSQL or Redis out of reach
  → 503 with ``Retry-After`` (`api.errors.unavailable`), and Meta redelivers.

The POST handler is on Meta's clock and on every inbound message's CPU bill:
it reads the raw body once, parses JSON with orjson, and answers with a
prebuilt JSON body (no response-model conversion).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from quart import Blueprint, Response, current_app, request
from quart_schema import hide
from sqlalchemy import text

from api.context import DB_KEY, REDIS_KEY, SETTINGS_KEY, get_db, get_redis, get_settings
from api.errors import error_body, unavailable
from api.json_body import WEBHOOK_MAX_DEPTH, MalformedJSON, decode_json, raw_body
from api.inbound.ingest import ingest_messages
from api.inbound.statuses import StatusBatcher
from api.templates.lifecycle import apply_template_webhooks
from api.whatsapp.apps import APPS, MetaApp, own_numbers_only
from api.whatsapp.numbers import NUMBERS
from api.whatsapp.config import WhatsAppConfig
from api.whatsapp.payloads import MEDIA_TYPES, NUL_ESCAPE, PayloadError, parse_webhook
from api.whatsapp.signature import HEADER, verify
from api.workers.queue import FETCH_MEDIA, enqueue, enqueue_conversations
from engine.values import without_nul

log = logging.getLogger("pytake.whatsapp")

blueprint = Blueprint("whatsapp_webhooks", __name__)
_CONFIG_KEY = "pytake.whatsapp"
_DB_KEY = "pytake.whatsapp.db"
_REDIS_KEY = "pytake.whatsapp.redis"
_BATCHER_KEY = "pytake.whatsapp.statuses"


@blueprint.before_app_serving
async def _open_pool() -> None:
    """The webhook's own connection pool: sized for bursts, and without the
    per-checkout ping (one round trip less on Meta's clock)."""
    from api.db.session import Database
    from api.redis_clients import redis_client

    settings = get_settings()
    if settings.database_url:
        current_app.extensions[_DB_KEY] = Database(settings.database_url, pool_size=10, max_overflow=10,
                                                   pool_pre_ping=False)
    if settings.redis_url:  # bursts wait for a connection instead of failing; survives a Redis restart
        current_app.extensions[_REDIS_KEY] = redis_client(settings.redis_url, max_connections=100, wait_timeout=30)


@blueprint.after_app_serving
async def _close_pool() -> None:
    current_app.extensions.pop(_BATCHER_KEY, None)
    db = current_app.extensions.pop(_DB_KEY, None)
    if db is not None:
        await db.dispose()
    redis = current_app.extensions.pop(_REDIS_KEY, None)
    if redis is not None:
        await redis.aclose()


# The helpers below take the Quart app explicitly (the fast path runs without an app
# context: pushing and popping one cost more than a status webhook's own handling);
# without it they use the current app.

def _db(quart: Any = None):
    extensions = (quart or current_app).extensions
    return extensions.get(_DB_KEY) or _service(extensions, DB_KEY, get_db)


def _service(extensions: dict, key: str, getter: Any) -> Any:
    """The app-wide service at ``key``; when it is missing, ``getter`` (api.context) says so as usual."""
    found = extensions.get(key)
    return found if found is not None else getter()


def _batcher(quart: Any = None) -> StatusBatcher:
    extensions = (quart or current_app).extensions
    db = _db(quart)
    batcher = extensions.get(_BATCHER_KEY)
    if batcher is None or batcher.db is not db:
        batcher = extensions[_BATCHER_KEY] = StatusBatcher(db)
    return batcher


def _redis(quart: Any = None):
    extensions = (quart or current_app).extensions
    return extensions.get(_REDIS_KEY) or _service(extensions, REDIS_KEY, get_redis)


def _settings(quart: Any = None) -> Any:
    return (quart or current_app).extensions[SETTINGS_KEY]


def _config(quart: Any = None) -> WhatsAppConfig:
    extensions = (quart or current_app).extensions
    config = extensions.get(_CONFIG_KEY)
    if config is None:
        config = extensions[_CONFIG_KEY] = WhatsAppConfig.from_settings(_settings(quart))
    return config


def _ok(stored: int, duplicates: int, matched: int, skipped: int) -> tuple[int, bytes]:
    return 200, (f'{{"duplicates":{duplicates},"stored":{stored},"statuses_matched":{matched},'
                 f'"skipped":{skipped},"status":"ok"}}').encode()


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": {"code": code, "message": message}}).encode()


def _respond(answer: tuple[int, bytes]) -> Response:
    return Response(answer[1], status=answer[0], content_type="application/json")


@blueprint.get("/webhooks/whatsapp")
@blueprint.get("/webhooks/whatsapp/<app_key>")
@hide  # Meta's callback, not part of the public API
async def verify_subscription(app_key: str | None = None) -> Any:
    mode = request.args.get("hub.mode")
    token = request.args.get("hub.verify_token")
    challenge = request.args.get("hub.challenge", "")
    if mode != "subscribe" or not token:
        return _respond(_error(403, "forbidden", "verification failed"))
    if app_key is not None:  # an organization's own Meta app: only its token
        known = await APPS.verify_token_matches(_db(), app_key, token)
    else:
        known = token == _config().verify_token or await _token_known(token)
    if known:
        return Response(challenge, status=200, content_type="text/plain")
    return _respond(_error(403, "forbidden", "verification failed"))


async def _token_known(token: str) -> bool:
    if "\x00" in token:  # no stored token holds one (PostgreSQL text cannot): not a 422 from the query
        return False
    async with _db().session() as s:
        found = (await s.execute(text("""
            SELECT 1 FROM whatsapp_numbers
             WHERE deleted_at IS NULL AND (settings->>'verify_token' = :t OR settings->>'webhook_verify_token' = :t)
            UNION ALL
            SELECT 1 FROM organizations WHERE deleted_at IS NULL AND whatsapp_webhook_verify_token = :t
            LIMIT 1"""), {"t": token})).first()
    return found is not None


async def _signed_by(quart: Any, app_key: str | None, body: bytes, signature: str | None) -> MetaApp | None:
    """The app whose secret signed ``body``: the deployment's default app on
    ``/webhooks/whatsapp``, an organization's own (`api.whatsapp.apps`) on
    ``/webhooks/whatsapp/<app_key>``; None when the signature is not that app's."""
    if app_key is not None:
        return await APPS.signed_by(_db(quart), _settings(quart), app_key, body, signature)
    secret = _config(quart).app_secret
    return MetaApp(None, secret) if verify(secret, body, signature) else None


@blueprint.post("/webhooks/whatsapp")
@blueprint.post("/webhooks/whatsapp/<app_key>")
@raw_body  # the signature is checked before the body is decoded
@hide
async def receive(app_key: str | None = None) -> Any:
    """The route as Quart serves it (`_fast_path` answers the same requests first)."""
    body = await request.get_data(cache=False, as_text=False)
    return _respond(await handle(current_app._get_current_object(), app_key, body, request.headers.get(HEADER)))


async def handle(quart: Any, app_key: str | None, body: bytes, signature: str | None) -> tuple[int, bytes]:
    """A webhook POST to the Quart app ``quart``: (HTTP status, JSON body). Needs no context."""
    app = await _signed_by(quart, app_key, body, signature)
    if app is None:
        return _error(401, "invalid_signature", f"missing or invalid {HEADER} signature")
    try:
        doc = decode_json(body, WEBHOOK_MAX_DEPTH)
    except MalformedJSON as exc:
        return _error(400, "malformed_json", f"the request body is not valid JSON: {exc.reason}")
    if NUL_ESCAPE in body:
        try:
            doc = without_nul(doc)
        except RecursionError:
            return _error(400, "bad_payload", "the webhook is nested too deeply")
    try:
        batch = parse_webhook(doc)
    except PayloadError as exc:
        return _error(400, "bad_payload", str(exc))
    stored = duplicates = matched = skipped = 0
    conversations: list[Any] = []
    db = _db(quart)
    await apply_template_webhooks(db, doc, app.organization_id)  # template review/quality fields
    if batch.messages or batch.statuses:
        await NUMBERS.follow(_redis(quart))  # numbers another process changed
    if app.organization_id is not None:  # an organization's app writes into that organization only
        batch, skipped = await own_numbers_only(db, app.organization_id, batch)
    if batch.messages:
        _batcher(quart).live()  # statuses yield to the reply this message will get
        result = await ingest_messages(db, batch.messages)
        stored, duplicates, conversations = len(result.stored), result.duplicates, result.conversations
        if conversations:  # before the statuses: stored messages get their wake-up even if those fail
            await enqueue_conversations(_redis(quart), conversations)
        if result.stored and any(m.kind in MEDIA_TYPES for m in batch.messages):  # off the message path
            await enqueue(_redis(quart), FETCH_MEDIA, [str(i) for i in result.stored])
    if batch.statuses:
        matched = await _batcher(quart).apply(batch.statuses, app.organization_id)
    return _ok(stored, duplicates, matched, skipped)


_PREFIX = "/webhooks/whatsapp"
_SIGNATURE = HEADER.lower().encode()


def _app_key_of(path: str) -> tuple[bool, str | None]:
    """(is a webhook path, its app key): ``/webhooks/whatsapp`` or ``/webhooks/whatsapp/<key>``."""
    if path == _PREFIX:
        return True, None
    if path.startswith(_PREFIX + "/"):
        key = path[len(_PREFIX) + 1:]
        if key and "/" not in key:
            return True, key
    return False, None


def _failed(exc: Exception) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """The fast path's answer to an exception, as `api.app`'s error handlers answer: PostgreSQL
    or Redis out of reach → 503 with ``Retry-After`` and a warning; anything else → 500 and
    the traceback. Either way Meta redelivers: a message is stored whole or not at all, a
    redelivered one is not stored again and wakes its conversation if still unprocessed."""
    refused = unavailable(exc)
    if refused is not None:
        log.warning("webhook: %s unavailable, answered 503: %s: %s", refused.service, type(exc).__name__, exc)
        headers = [(name.lower().encode(), value.encode()) for name, value in refused.headers.items()]
        return refused.status, json.dumps(refused.to_body()).encode(), headers
    log.exception("unhandled error in the webhook", exc_info=exc)
    return *_error(500, "internal_error", "internal server error"), []


class WebhookPosts:
    """Meta's POSTs, for a server that reads HTTP/1.1 itself: `pytake.hosting.raw_post` finds
    this object as the app's ``raw_post_route`` and hands it the requests whose path `answers`
    (a complete ``Content-Length`` body of at most ``max_body`` bytes), skipping hypercorn's
    HTTP/1.1 parser, its stream and task for each request, and the ASGI messages. Same answers
    as `receive`; the server writes the response head (status, these headers, its length)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    @property
    def max_body(self) -> int | None:
        return self.app.config.get("MAX_CONTENT_LENGTH")

    @staticmethod
    def answers(path: str) -> bool:
        return _app_key_of(path)[0]

    async def __call__(self, path: str, headers: Any, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """``(status, headers, body)`` for a POST to ``path`` (`answers` it) with its request
        ``headers`` (lower-case names, as ASGI's) and whole ``body``."""
        signature = next((v.decode("latin-1") for k, v in headers if k == _SIGNATURE), None)
        try:
            status, payload = await handle(self.app, _app_key_of(path)[1], body, signature)
            extra: list[tuple[bytes, bytes]] = []
        except Exception as exc:  # noqa: BLE001 - as the app's own handlers: 503 or 500, Meta redelivers
            status, payload, extra = _failed(exc)
        return status, [(b"content-type", b"application/json"), *extra], payload


@blueprint.record_once
def _install_fast_path(state: Any) -> None:
    """Meta's POSTs skip Quart's request machinery (app and request contexts,
    URL matching, before/after hooks, response objects): a status webhook's
    whole handling costs less than that machinery did. Same answers as `receive`.
    A server that reads HTTP/1.1 itself gets them earlier still (`WebhookPosts`)."""
    app = state.app
    inner = app.asgi_app
    posts = app.raw_post_route = WebhookPosts(app)

    async def asgi(scope: dict, receive_: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not posts.answers(scope["path"]):
            return await inner(scope, receive_, send)
        limit = posts.max_body
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive_()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if limit is not None and size > limit:
                status, payload = 413, json.dumps(error_body(
                    "payload_too_large", f"the request body is larger than {limit} bytes", "body")).encode()
                headers = [(b"content-type", b"application/json")]
                break
            chunks.append(chunk)
            if not message.get("more_body"):
                status, headers, payload = await posts(scope["path"], scope.get("headers", ()), b"".join(chunks))
                break
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    app.asgi_app = asgi
