"""The API's one exception hierarchy and its one JSON error shape.

Every error a client sees looks like::

    {"error": {"code": "not_found", "message": "conversation not found",
               "field": "email", "details": [{"field": "email", "message": "..."}]}}

``field`` is present when exactly one field is at fault, ``details`` for
validation errors. Route code raises these exceptions; `api.app` turns them
(and every other exception, HTTP error and validation error) into that shape.
`ErrorResponse` is that shape as a pydantic model: `api.openapi_docs`
documents every error response of /openapi.json with it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema


class ApiError(Exception):
    """An error with an HTTP status and a stable machine-readable ``code``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details
        self.headers = headers or {}

    def to_body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.field, self.details)


def error_body(
    code: str,
    message: str,
    field: str | None = None,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The JSON body of every error response."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    if details is not None:
        error["details"] = details
    return {"error": error}


def _absent_not_null(schema: dict[str, Any]) -> None:
    """An optional key is left out of the body, never sent as null: no ``default: null``."""
    schema.pop("default", None)


class ErrorDetail(BaseModel):
    """One fault: the field (dotted path, or ``body``) and what is wrong with it."""

    model_config = ConfigDict(extra="allow")

    field: str
    message: str


class ErrorInfo(BaseModel):
    """What went wrong: a stable machine-readable ``code`` and a human ``message``."""

    code: str = Field(description="stable machine-readable code, e.g. not_found, validation_error")
    message: str = Field(description="human-readable explanation")
    # absent (never null) when no single field is at fault / for non-validation errors
    field: str | SkipJsonSchema[None] = Field(
        default=None, description="the one field at fault, when exactly one is",
        json_schema_extra=_absent_not_null)
    details: list[ErrorDetail] | SkipJsonSchema[None] = Field(
        default=None, description="every fault, for validation errors",
        json_schema_extra=_absent_not_null)


class ErrorResponse(BaseModel):
    """The body of every error response (see `error_body`)."""

    error: ErrorInfo


class NotFound(ApiError):
    """The resource does not exist *in the caller's organization* (404)."""

    def __init__(self, resource: str = "resource") -> None:
        super().__init__(404, "not_found", f"{resource} not found")


class Conflict(ApiError):
    """The change clashes with existing data, e.g. a unique name (409)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(409, "conflict", message, field=field)


class Unauthorized(ApiError):
    """No valid credentials (401)."""

    def __init__(self, message: str = "authentication required", code: str = "unauthorized") -> None:
        super().__init__(401, code, message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    """Authenticated, but the role does not allow this (403)."""

    def __init__(self, message: str = "you do not have permission to do this") -> None:
        super().__init__(403, "forbidden", message)


class ValidationFailed(ApiError):
    """One field's value is not acceptable (422), for checks pydantic cannot do."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            422, "validation_error", message, field=field,
            details=[{"field": field, "message": message}],
        )


class PlanLimitExceeded(ApiError):
    """The organization's plan does not allow another one of these (403)."""

    def __init__(self, limit_name: str, limit: int) -> None:
        super().__init__(
            403, "plan_limit_exceeded",
            f"your plan allows at most {limit} ({limit_name}); upgrade to add more",
            field=limit_name,
        )
        self.limit_name = limit_name
        self.limit = limit


class RateLimited(ApiError):
    """Too many requests in the current window (429, with ``Retry-After``)."""

    def __init__(self, retry_after: int) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            429, "rate_limited", f"too many requests; retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


RETRY_AFTER_UNAVAILABLE = 5  # seconds a client waits before retrying a 503


class ServiceUnavailable(ApiError):
    """PostgreSQL or Redis cannot serve the request right now (503, with ``Retry-After``).

    Not raised by route code: `unavailable` recognizes the exceptions of a refused or lost
    connection, and the app's error handlers (and the webhook's fast path) answer with this.
    """

    def __init__(self, service: str, retry_after: int = RETRY_AFTER_UNAVAILABLE) -> None:
        super().__init__(
            503, "service_unavailable", f"the {service} is unavailable; retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
        self.service = service
        self.retry_after = retry_after


# SQLSTATE classes of a server that will not serve the request now: connection exceptions
# (08...), insufficient resources (53...: too many connections, out of memory, disk full)
# and operator intervention that ends sessions (57P01 admin shutdown ... 57P05, 57P03
# "the database system is starting up"); not 57014, a query cancelled by a timeout.
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P")


def unavailable(error: BaseException) -> ServiceUnavailable | None:
    """The 503 for ``error`` when it says PostgreSQL or Redis is out of reach (refused or
    lost connection, too many clients, server starting or shutting down, a connection pool
    that timed out), else None. Looks through SQLAlchemy's wrapping (``orig``), explicit
    causes and exception groups (all of whose members must be such errors)."""
    if isinstance(error, BaseExceptionGroup):
        found = [unavailable(e) for e in error.exceptions]
        return found[0] if found and all(found) else None
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        service = _unavailable_service(current)
        if service is not None:
            return ServiceUnavailable(service)
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return None


def _unavailable_service(error: BaseException) -> str | None:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(error, (RedisConnectionError, RedisTimeoutError)):
        return "Redis"
    if isinstance(error, PoolTimeout):
        return "database"
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(state, str) and state.startswith(_UNAVAILABLE_SQLSTATES):
        return "database"
    if isinstance(error, ConnectionError):  # refused or reset: PostgreSQL's or Redis's port
        return "database or Redis"
    return None
