"""Request bodies as JSON: the one decoder every body goes through.

A body is JSON when it is UTF-8 (no byte order mark) JSON text, as RFC 8259
requires, with no lone surrogate escape (``"\\ud800"``, which no database
column can hold), nested at most ``max_depth`` levels (an object or array is
one level). Anything else is `MalformedJSON` with the reason.

- API routes: `ApiRequest` (the app's request class) decodes every non-empty
  body once, before the view runs (`check_body`, a ``before_request`` hook of
  `api.app`), with `API_MAX_DEPTH`. A body that is not JSON → **400**
  ``malformed_json``; a body sent with a Content-Type other than
  ``application/json`` (or ``application/*+json``) → **415**
  ``unsupported_media_type``; an empty body (no bytes) is no body
  (``get_json()`` is ``None``), but whitespace alone is a body that is not
  JSON (RFC 8259: JSON text is a value), so it is refused like any other. Views marked `raw_body` read their body themselves (the CSV
  import, the WhatsApp webhook, which checks its signature first).
- The WhatsApp webhook decodes with `WEBHOOK_MAX_DEPTH` (Meta's payloads are
  about ten levels deep; orjson gives up at 1024).
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import orjson
from quart import current_app, request
from quart.wrappers import Request

from api.errors import ApiError

API_MAX_DEPTH = 64
WEBHOOK_MAX_DEPTH = 256
RAW_BODY_ATTR = "_pytake_raw_body"
F = TypeVar("F", bound=Callable[..., Any])


class MalformedJSON(ValueError):
    """The body is not UTF-8 JSON within the depth limit; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_json(raw: bytes, max_depth: int) -> Any:
    """``raw`` parsed as JSON (see the module doc), or `MalformedJSON`."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        message = str(exc)
        if message.startswith("depth limit exceeded"):
            raise MalformedJSON(f"nested deeper than {max_depth} levels") from None
        raise MalformedJSON(f"not valid JSON: {message}") from None
    # fewer brackets than the limit cannot nest deeper: the walk is for the rest
    if raw.count(b"[") + raw.count(b"{") > max_depth and _deeper_than(value, max_depth):
        raise MalformedJSON(f"nested deeper than {max_depth} levels")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    if not isinstance(value, (dict, list)):
        return False
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def raw_body(view: F) -> F:
    """Mark a view that reads its own body (not JSON, or checked before decoding)."""
    setattr(view, RAW_BODY_ATTR, True)
    return view


def malformed_json(reason: str) -> ApiError:
    return ApiError(400, "malformed_json", f"the request body is not valid JSON: {reason}",
                    field="body", details=[{"field": "body", "message": reason}])


class ApiRequest(Request):
    """The app's request: `get_json` is `decode_json` with `API_MAX_DEPTH`, for every caller
    (quart-schema's ``validate_request``, `api.resources.body.read_json`, ...)."""

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if self._cached_json[False] is not Ellipsis:
            return self._cached_json[False]
        raw = await self.get_data(cache=True)
        if not raw:
            value = None
        elif not self.is_json:  # `force` too: the API takes JSON only as JSON
            if silent:
                return None
            raise ApiError(415, "unsupported_media_type",
                           f"the request body must be sent as application/json, not {self.mimetype or 'untyped'}",
                           field="Content-Type",
                           details=[{"field": "Content-Type", "message": "must be application/json"}])
        else:
            try:
                value = decode_json(raw, API_MAX_DEPTH)
            except MalformedJSON as exc:
                if silent:
                    return None
                raise malformed_json(exc.reason) from None
        self._cached_json = (value, value)
        return value


async def check_body() -> None:
    """``before_request``: every body of a routed request is JSON (or the view reads it raw)."""
    if request.routing_exception is not None or request.endpoint is None:
        return  # 404/405 answer first
    view = current_app.view_functions.get(request.endpoint)
    if view is None or getattr(view, RAW_BODY_ATTR, False):
        return
    await request.get_json()
