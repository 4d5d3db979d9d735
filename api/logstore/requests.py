"""API request logs: what the request hook collects, and how it is cleaned before storing.

The hook (`api.app`) only puts a few values and references (the request's
query and headers, read-only once the request is parsed) into a raw record and
appends it to the process's `LogBuffer` (no parsing, no copying, no I/O);
`sanitized` runs in the flush task, off the request's path: the record's id
(drawn once, so a retried batch keeps it and ``ON CONFLICT DO NOTHING`` drops
a row written twice), the headers kept (`KEPT_HEADERS`), the body parsed as JSON with every
credential-named key masked at any depth (`api.secret_keys`, the audit
trail's rule), credential headers and query parameters masked the same way,
bodies that are not JSON or larger than `MAX_BODY` kept as their size only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Mapping

from api.audit import MASK, jsonable
from api.json_body import API_MAX_DEPTH, MalformedJSON, decode_json
from api.secret_keys import is_secret_key

MAX_BODY = 16 * 1024
# headers that carry credentials without a credential-looking name
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
                            "x-hub-signature", "x-hub-signature-256", "x-pytake-signature"})
KEPT_HEADERS = frozenset({"content-type", "content-length", "accept", "origin", "referer", "x-request-id",
                          "x-forwarded-for"}) | SECRET_HEADERS


def raw_request(*, method: str, path: str, query: Mapping[str, Any], headers: Mapping[str, str],
                body: bytes | None, body_size: int, status_code: int, elapsed_ms: float, organization_id: Any, user_id: Any,
                ip_address: str | None, user_agent: str | None, error_message: str | None,
                at: datetime) -> dict[str, Any]:
    """What the request hook keeps (cheap: references, no copies; `sanitized` does the rest)."""
    return {"method": method, "path": path, "query": query, "headers": headers,
            "body": body, "body_size": body_size, "status_code": status_code, "response_time_ms": round(elapsed_ms, 3),
            "organization_id": organization_id, "user_id": user_id, "ip_address": ip_address,
            "user_agent": user_agent, "error_message": error_message, "created_at": at}


def _mask_pairs(pairs: Mapping[str, Any], secret: Any) -> dict[str, Any]:
    return {k: (MASK if secret(k) else v) for k, v in pairs.items()}


def sanitized_body(body: bytes | None, size: int = 0) -> Any:
    """The body as stored: JSON with credentials masked, else only its size."""
    if body is not None and len(body) > MAX_BODY:
        body, size = None, len(body)
    if not body:
        return {"_omitted": "too large", "size": size} if size > MAX_BODY else None
    try:  # JSON as the API reads it: a lone surrogate escape ("\\ud800") is not, and no column holds one
        parsed = decode_json(body, API_MAX_DEPTH)
    except MalformedJSON:
        return {"_omitted": "not JSON", "size": len(body)}
    return jsonable(parsed)


def sanitized(raw: dict[str, Any]) -> dict[str, Any]:
    """A raw request record as the log store keeps it (docs/SCHEMA.md ``api_request_logs``)."""
    status = raw["status_code"]
    record_id = raw.get("id")
    if record_id is None:  # drawn at the first flush and kept: a retried batch writes the same ids
        record_id = raw["id"] = uuid.uuid4()
    headers = {k.lower(): v for k, v in raw["headers"].items() if k.lower() in KEPT_HEADERS}
    return {"id": record_id, "organization_id": raw["organization_id"], "user_id": raw["user_id"],
            "method": raw["method"], "path": raw["path"],
            "query_params": _mask_pairs(dict(raw["query"]), lambda k: is_secret_key(str(k))),
            "headers": _mask_pairs(headers, lambda k: k in SECRET_HEADERS or is_secret_key(k)),
            "body": sanitized_body(raw["body"], raw.get("body_size") or 0), "status_code": status,
            "response_time_ms": raw["response_time_ms"], "ip_address": raw["ip_address"],
            "user_agent": raw["user_agent"], "success": status < 400, "error_message": raw["error_message"],
            "created_at": raw["created_at"]}


__all__ = ["KEPT_HEADERS", "MAX_BODY", "SECRET_HEADERS", "raw_request", "sanitized", "sanitized_body"]
