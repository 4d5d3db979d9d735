"""The Quart application: wiring of services, blueprints and error handling.

`create_app(settings)` builds the app; serving it (hypercorn) opens the
database and redis at startup and closes them at shutdown. Every error leaves
as the one JSON shape of `api.errors`; PostgreSQL or Redis out of reach as a
503 with ``Retry-After`` (`api.errors.unavailable`), logged as a warning.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from quart import Quart, Response, g, jsonify, request
from quart_schema import QuartSchema, RequestSchemaValidationError, hide
from quart_schema.validation import ResponseSchemaValidationError
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException

from api import log_context, redis_keys
from api.auth import user_cache
from api.context import (AUTH_PIPE_KEY, DB_KEY, READER_KEY, REDIS_KEY, SETTINGS_KEY, TOTALS_KEY, get_db,
                         get_reader, get_redis, get_totals)
from api.errors import ApiError, ServiceUnavailable, error_body, unavailable
from api.json_body import ApiRequest, check_body
from api.json_codec import ApiJSONProvider, loads_json
from api.metrics_http import register_metrics
from api.openapi_docs import DocumentedOpenAPIProvider
from api.redis_clients import redis_client
from api.resources.totals import TotalsCache
from api.settings import Settings
from api.web_app import DOCS_CSS_URL, DOCS_JS_URL

log = logging.getLogger("pytake.api")

HTTP_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}
REDIS_WAIT_SECONDS = 10.0  # a request waits this long for a free Redis connection (the pool is full), then 503
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HTTP_ERROR_MESSAGES = {
    404: "no such route",
    405: "method not allowed on this route",
}


def create_app(settings: Settings | None = None) -> Quart:
    settings = settings or Settings.from_env()
    app = Quart("pytake", static_folder=None)
    app.request_class = ApiRequest  # every body: UTF-8 JSON within a depth, or 400/415
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    app.extensions[SETTINGS_KEY] = settings
    app.extensions[TOTALS_KEY] = TotalsCache(settings.list_total_cache_seconds,
                                             settings.list_total_cache_min_rows)
    QuartSchema(
        app,
        info={"title": "PyTake API", "version": "0.1.0"},
        openapi_path="/openapi.json",
        swagger_ui_path="/docs",
        redoc_ui_path=None,
        scalar_ui_path=None,
        conversion_preference="pydantic",
        security_schemes={"bearer": {"type": "http", "scheme": "bearer", "bearer_format": "JWT"}},
        openapi_provider_class=DocumentedOpenAPIProvider,  # + error responses, summaries
    )
    # /docs without internet: Swagger UI's files come from the web build, not a CDN
    app.config["QUART_SCHEMA_SWAGGER_JS_URL"] = DOCS_JS_URL
    app.config["QUART_SCHEMA_SWAGGER_CSS_URL"] = DOCS_CSS_URL
    app.json = ApiJSONProvider(app, app.json)  # after QuartSchema, which sets its own
    _register_lifecycle(app, settings)
    _register_log_context(app)
    app.before_request(check_body)
    _register_write_hook(app)
    _register_request_log(app)
    user_cache.register(app)
    _register_error_handlers(app)
    _register_blueprints(app)
    register_metrics(app, settings)
    return app


def _register_lifecycle(app: Quart, settings: Settings) -> None:
    @app.before_serving
    async def open_services() -> None:
        from api.db.session import Database

        if not settings.database_url or not settings.redis_url:
            raise RuntimeError(
                "create_app needs DATABASE_URL and REDIS_URL (pytake serve starts "
                "embedded servers and passes their URLs)"
            )
        # No pool_pre_ping: it costs a round trip per checkout (two per
        # authenticated request). A connection PostgreSQL closed is replaced
        # at checkout for free (`Database` checks asyncpg's own is_closed);
        # pool_recycle retires idle-killed ones.
        # pool_size covers a busy worker's concurrent requests: a connection
        # beyond it (overflow) is closed on return, and opening one (TLS
        # probe, auth) costs far more than the queries it then serves.
        # Plans built for each execution's values (custom plans): the API's
        # SQLAlchemy statements are varied and cheap to plan, and a generic plan
        # (which PostgreSQL may settle on after five runs of a prepared
        # statement) can be far worse for skewed ones, e.g. the contact search
        # (`api.services.contacts_search`). The hot list pages and the runtime
        # run on `Database.raw()`, which keeps generic plans.
        app.extensions[DB_KEY] = Database(settings.database_url, pool_pre_ping=False,
                                          pool_size=20, max_overflow=10, pool_recycle=1800,
                                          json_deserializer=loads_json,
                                          connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}})
        # survives a Redis restart; a blocking pool: a burst of requests (hundreds of agents'
        # sockets reconnecting to a restarted process) waits for a connection. redis-py's
        # default pool fails every command past its 100th connection at once (503s; live
        # sockets closed before their ``ready``).
        app.extensions[REDIS_KEY] = redis_client(settings.redis_url, max_connections=settings.redis_pool_size,
                                                 wait_timeout=REDIS_WAIT_SECONDS)
        app.extensions[AUTH_PIPE_KEY] = redis_keys.auth_check_pipe(settings.redis_url)
        if settings.database_replica_url:
            from api.db.replica import ReadRouter

            replica = Database(settings.database_replica_url, pool_pre_ping=False, pool_size=20,
                               max_overflow=10, pool_recycle=1800, json_deserializer=loads_json,
                               connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}})
            app.extensions[READER_KEY] = ReadRouter(
                app.extensions[DB_KEY], replica, app.extensions[REDIS_KEY],
                read_your_writes_seconds=settings.replica_read_your_writes_seconds)
        _open_log_store(app, settings)

    @app.after_serving
    async def close_services() -> None:
        await _close_log_store(app)
        db = app.extensions.pop(DB_KEY, None)
        reader = app.extensions.pop(READER_KEY, None)
        if reader is not None:
            await reader.dispose()
        redis = app.extensions.pop(REDIS_KEY, None)
        pipe = app.extensions.pop(AUTH_PIPE_KEY, None)
        if pipe is not None:
            pipe.close()
        if redis is not None:
            await redis.aclose()
        if db is not None:
            await db.dispose()


REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _register_log_context(app: Quart) -> None:
    """Each request's log lines carry its ``request_id`` (the caller's ``X-Request-Id`` when it
    is a short token, else a new one; echoed in the response) and, once authenticated, its
    ``organization_id`` (api/log_context.py). The ASGI server runs each request in a task of
    its own, so what a request sets ends with it (nothing to reset)."""
    @app.before_request
    async def bind_request_id() -> None:
        given = request.headers.get(REQUEST_ID_HEADER)
        rid = given if given and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        log_context.request_id.set(rid)

    @app.after_request
    async def echo_request_id(response: Response) -> Response:
        rid = log_context.request_id.get()
        if rid is not None:
            response.headers[REQUEST_ID_HEADER] = rid
        return response


def _register_write_hook(app: Quart) -> None:
    @app.after_request
    async def empty_no_content(response: Response) -> Response:
        """A 204 has no body and no Content-Type (quart would say text/html)."""
        if response.status_code == 204:
            response.set_data(b"")
            response.headers.pop("Content-Type", None)
            response.headers.pop("Content-Length", None)
        return response

    @app.after_request
    async def forget_totals(response: Response) -> Response:
        """A successful write by a user of an organization: its cached list
        totals (`api.resources.totals`) are counted again on the next page."""
        if request.method in WRITE_METHODS and response.status_code < 400:
            principal = g.get("principal")
            if principal is not None:
                get_totals().invalidate(principal.organization_id)
        return response

    @app.after_request
    async def mark_write(response: Response) -> Response:
        """With a replica (api/db/replica.py): a user's successful write keeps
        their reads on the primary until the replica has replayed it."""
        reader = get_reader()
        if reader is not None and request.method in WRITE_METHODS and response.status_code < 400:
            principal = g.get("principal")
            if principal is not None:
                try:
                    await reader.note_write(principal.user_id)
                except Exception as exc:  # noqa: BLE001 - the write is done; say so, do not fail it
                    log.warning("replica: could not mark the write of user %s: %s", principal.user_id, exc)
        return response


REQUEST_LOG_KEY = "pytake.request_log"
# Request logs sanitized and written per INSERT. The flush runs on the loop that
# serves requests and sanitizing is plain Python: a second's worth at once (~1,000
# records) held every request of the process for tens of milliseconds, the list's
# p99 (bench/api.py); a hundred at a time, with the INSERT's await between them,
# holds it for about a millisecond.
REQUEST_LOG_BATCH = 100
_LOG_FLUSH_KEY = "pytake.request_log_flush"
UNLOGGED_PATHS = frozenset({"/health", "/ready"})
DRAINING_KEY = "pytake.draining"
READY_CHECK_SECONDS = 2.0  # a backing service slower than this to answer counts as unreachable


def start_draining(app: Quart) -> None:
    """SIGTERM received (pytake.hosting.stack): /ready answers 503 from now on,
    while requests are still served until the server stops accepting."""
    app.extensions[DRAINING_KEY] = True


def _open_log_store(app: Quart, settings: Settings) -> None:
    """The log store (api/logstore) and the buffer of API request logs, flushed in the background."""
    import asyncio

    from api.logstore import LogBuffer, flush_forever, open_store, sanitized
    from api.routes.logs import STORE_KEY, WEBHOOK_LOG_KEY

    store = open_store(settings, app.extensions[DB_KEY])
    buffer = LogBuffer("api_request_logs")
    attempts = LogBuffer("webhook_logs")  # `POST /webhooks/{id}/test`'s attempts
    stop = asyncio.Event()

    async def write(raws: list[dict[str, Any]]) -> None:
        await store.write_api_requests([sanitized(r) for r in raws])

    async def flush() -> None:
        await buffer.flush(write, batch=REQUEST_LOG_BATCH)

    async def flush_attempts() -> None:
        await attempts.flush(store.write_webhook_attempts)

    app.extensions[STORE_KEY] = store
    app.extensions[REQUEST_LOG_KEY] = buffer
    app.extensions[WEBHOOK_LOG_KEY] = attempts
    app.extensions[_LOG_FLUSH_KEY] = (stop, asyncio.create_task(flush_forever([flush, flush_attempts], stop),
                                                                name="request-logs"))


async def _close_log_store(app: Quart) -> None:
    from api.routes.logs import STORE_KEY

    flushing = app.extensions.pop(_LOG_FLUSH_KEY, None)
    if flushing is not None:
        stop, task = flushing
        stop.set()
        await task
    store = app.extensions.pop(STORE_KEY, None)
    if store is not None:
        await store.close()


def _register_request_log(app: Quart) -> None:
    """Every API request into the request-log buffer (api/logstore/requests.py): a few
    copied values and an append, no I/O; the sanitizing and the write happen in the flush."""
    import time
    from datetime import datetime, timezone

    from api.logstore import raw_request
    from api.logstore.requests import MAX_BODY as MAX_LOGGED_BODY

    @app.before_request
    async def request_started() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    async def log_request(response: Response) -> Response:
        buffer = app.extensions.get(REQUEST_LOG_KEY)
        req = request._get_current_object()  # type: ignore[attr-defined] # one context lookup, not ten
        path = req.path
        if buffer is None or path in UNLOGGED_PATHS or req.blueprint == "web_app":
            return response
        started = g.get("request_started")
        elapsed = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        method, body, size = req.method, None, req.content_length
        if method in WRITE_METHODS and (size is None or size <= MAX_LOGGED_BODY):
            body = await req.get_data(cache=True)  # read already by the view: its cached bytes
        principal = g.get("principal")
        error = None
        status = response.status_code
        if status >= 400 and response.is_json:
            payload = await response.get_json()
            error = ((payload or {}).get("error") or {}).get("message") if isinstance(payload, dict) else None
        headers = req.headers
        buffer.add(raw_request(
            method=method, path=path, query=req.args, headers=headers,
            body=body, body_size=size or 0, status_code=status, elapsed_ms=elapsed,
            organization_id=principal.organization_id if principal is not None else None,
            user_id=principal.user_id if principal is not None else None, ip_address=req.remote_addr,
            user_agent=headers.get("User-Agent"), error_message=error, at=datetime.now(timezone.utc)))
        return response


def _register_blueprints(app: Quart) -> None:
    from api.auth.routes import blueprint as auth_blueprint
    from api.routes import BLUEPRINTS
    from api.web_app import blueprint as web_app_blueprint
    from api.inbound.routes import blueprint as whatsapp_blueprint

    app.register_blueprint(auth_blueprint)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.register_blueprint(whatsapp_blueprint)
    app.register_blueprint(web_app_blueprint)  # the built web app at / (api/web_app.py)

    @app.get("/ready")
    @hide
    async def ready() -> Any:
        return await _readiness(app)

    @app.get("/health")
    @hide
    async def health() -> Any:
        """Liveness and readiness: the database and redis answer."""
        checks: dict[str, str] = {}
        try:
            async with get_db().session() as session:
                await session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            log.warning("health: database check failed: %s", exc)
            checks["database"] = "unavailable"
        try:
            await get_redis().ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            log.warning("health: redis check failed: %s", exc)
            checks["redis"] = "unavailable"
        logs = await _log_backlog(app)
        if all(v == "ok" for v in checks.values()):
            return {"status": "ok", **checks, "logs": logs}
        details = [{"field": k, "message": v} for k, v in checks.items() if v != "ok"]
        return error_body("unavailable", "a backing service is unavailable", details=details), 503


async def _readiness(app: Quart) -> Any:
    """``GET /ready``: may this process take traffic? Not while starting or draining
    (after SIGTERM), nor while PostgreSQL or Redis does not answer within
    `READY_CHECK_SECONDS`. A load balancer / Kubernetes readiness probe asks it;
    liveness stays ``/health``."""
    import asyncio

    if app.extensions.get(DRAINING_KEY):
        return error_body("unavailable", "draining: this process is shutting down",
                          details=[{"field": "process", "message": "draining"}]), 503
    if DB_KEY not in app.extensions or REDIS_KEY not in app.extensions:
        return error_body("unavailable", "starting", details=[{"field": "process", "message": "starting"}]), 503
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(READY_CHECK_SECONDS):
            async with get_db().raw() as conn:
                await conn.fetchval("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        log.warning("ready: database check failed: %r", exc)
        checks["database"] = "unavailable"
    try:
        async with asyncio.timeout(READY_CHECK_SECONDS):
            await get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        log.warning("ready: redis check failed: %r", exc)
        checks["redis"] = "unavailable"
    if all(v == "ok" for v in checks.values()):
        return {"status": "ready", **checks}
    details = [{"field": k, "message": v} for k, v in checks.items() if v != "ok"]
    return error_body("unavailable", "a backing service is unavailable", details=details), 503


async def _log_backlog(app: Quart) -> dict[str, Any]:
    """The log store's backlog (api/logstore): events it has not taken yet and this process's
    request logs waiting or dropped; counts only (read by /health and the metrics)."""
    from api.logstore import event_backlog

    out: dict[str, Any] = {}
    try:
        out["events_waiting"] = await event_backlog(get_db())
    except Exception:  # noqa: BLE001 - the database check above reports it
        out["events_waiting"] = None
    buffer = app.extensions.get(REQUEST_LOG_KEY)
    if buffer is not None:
        out["requests_buffered"], out["requests_dropped"] = len(buffer), buffer.dropped
    return out


def _json_error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def validation_details(error: Exception) -> list[dict[str, str]]:
    """``[{"field", "message"}]`` from a pydantic error (field = dotted ``loc``)."""
    if isinstance(error, PydanticValidationError):
        details = []
        for item in error.errors(include_url=False):
            loc = [str(part) for part in item.get("loc", ())]
            details.append({"field": ".".join(loc) or "body", "message": item.get("msg", "invalid")})
        return details
    return [{"field": "body", "message": str(error) or "invalid request"}]


def _register_error_handlers(app: Quart) -> None:
    @app.errorhandler(ApiError)
    async def handle_api_error(error: ApiError) -> Response:
        return _json_error(error.status, error.to_body(), error.headers)

    @app.errorhandler(RequestSchemaValidationError)
    async def handle_request_validation(error: RequestSchemaValidationError) -> Response:
        details = validation_details(error.validation_error)
        fields = {d["field"] for d in details}
        field = fields.pop() if len(fields) == 1 else None
        if field == "body" and details and "valid dictionary" in details[0]["message"]:
            message = "the request body must be a JSON object"
        elif field:
            message = f"{field}: {details[0]['message']}"
        else:
            message = "the request has invalid fields: " + ", ".join(sorted({d['field'] for d in details}))
        return _json_error(422, error_body("validation_error", message, field, details))

    @app.errorhandler(HTTPException)
    async def handle_http_error(error: HTTPException) -> Response:
        status = error.code or 500
        code = HTTP_ERROR_CODES.get(status, "http_error")
        message = HTTP_ERROR_MESSAGES.get(status) or (error.description or error.name or "error")
        headers = {}
        if status == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(error.valid_methods)
        return _json_error(status, error_body(code, message), headers)

    @app.errorhandler(IntegrityError)
    async def handle_integrity_error(error: IntegrityError) -> Response:
        log.info("integrity error turned into 409: %s", error.orig)
        return _json_error(409, error_body("conflict", "the change conflicts with existing data"))

    @app.errorhandler(DataError)
    async def handle_data_error(error: DataError) -> Response:
        log.info("data error turned into 422: %s", error.orig)
        return _json_error(422, error_body("validation_error", "a value is out of range or malformed"))

    @app.errorhandler(DBAPIError)
    async def handle_dbapi_error(error: DBAPIError) -> Response:
        # asyncpg's data exceptions (SQLSTATE class 22, e.g. a NUL character in
        # text) do not all arrive as DataError: they are the client's, not ours
        state = str(getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None) or "")
        if state.startswith("22"):
            log.info("data error %s turned into 422: %s", state, error.orig)
            return _json_error(422, error_body("validation_error", "a value is out of range or malformed"))
        if (refused := unavailable(error)) is not None:
            return _unavailable(refused, error)
        log.exception("unhandled database error", exc_info=error)
        return _json_error(500, error_body("internal_error", "internal server error"))

    @app.errorhandler(ResponseSchemaValidationError)
    async def handle_response_validation(error: ResponseSchemaValidationError) -> Response:
        log.error("response failed its schema: %r", error.validation_error)
        return _json_error(500, error_body("internal_error", "internal server error"))

    @app.errorhandler(Exception)
    async def handle_unexpected(error: Exception) -> Response:
        if (refused := unavailable(error)) is not None:
            return _unavailable(refused, error)
        log.exception("unhandled error", exc_info=error)
        return _json_error(500, error_body("internal_error", "internal server error"))


def _unavailable(answer: ServiceUnavailable, error: BaseException) -> Response:
    """PostgreSQL or Redis refused or lost the connection: a 503 the client retries, and a
    warning (no traceback: the cause is outside this process)."""
    log.warning("%s unavailable, answered 503: %s: %s", answer.service, type(error).__name__, error)
    return _json_error(answer.status, answer.to_body(), answer.headers)
