"""Request bodies: parse JSON into a pydantic model, or a 422 naming the field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from quart import request

from api.errors import ApiError
from api.schemas.common import NON_BLANK

M = TypeVar("M", bound=BaseModel)
MAX_BODY_BYTES = 1_048_576


def validation_error(exc: ValidationError, prefix: str = "") -> ApiError:
    """A pydantic error as the API's 422: ``details`` per field, ``field`` when one."""
    details = []
    for err in exc.errors(include_url=False):
        # a dict's key refused: the field is the key's path, without pydantic's "[key]"
        loc = ".".join(str(part) for part in err.get("loc", ()) if part not in ("__root__", "[key]"))
        if not loc:  # a model-level check names its field in ctx (see api.schemas.common.field_error)
            loc = str((err.get("ctx") or {}).get("field") or "")
        field = f"{prefix}{loc}" if loc else (prefix.rstrip(".") or "body")
        message = err.get("msg", "invalid value")
        if err.get("type") == "string_pattern_mismatch" and (err.get("ctx") or {}).get("pattern") == NON_BLANK:
            message = "must not be blank"  # not pydantic's "should match pattern '[^\t-\r\x1c-…]'"
        details.append({"field": field, "message": message})
    fields = {d["field"] for d in details}
    first = details[0] if details else {"field": "body", "message": "invalid body"}
    field = first["field"] if len(fields) == 1 else None
    message = f"{first['field']}: {first['message']}" if len(details) == 1 else "request is not valid"
    return ApiError(422, "validation_error", message, field=field, details=details)


def parse_model(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


async def read_json() -> Any:
    """The body's JSON (``{}`` when there is none); not JSON → 400/415 (`api.json_body`)."""
    raw = await request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "request body is too large", field="body")
    if not raw:
        return {}
    data = await request.get_json()
    if b"\\u0000" in raw:  # PostgreSQL stores no NUL in text or jsonb: say where, not a 422 on "body"
        where = _nul_at(data)
        if where is not None:
            field = ".".join(str(part) for part in where) or "body"
            raise ApiError(422, "validation_error", f"{field}: must not contain the NUL character (U+0000)",
                           field=field, details=[{"field": field, "message": "must not contain the NUL character"}])
    return data


def _nul_at(value: Any, path: tuple = ()) -> tuple | None:
    """The path of the first string (a value or an object's key) holding U+0000, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return (*path, key)
            found = _nul_at(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _nul_at(item, (*path, i))
            if found is not None:
                return found
    return None


async def read_body(model: type[M]) -> M:
    """The JSON body validated as ``model``; a JSON value that is not an object is a 422."""
    data = await read_json()
    if not isinstance(data, dict):
        raise ApiError(422, "validation_error", "body must be a JSON object", field="body",
                       details=[{"field": "body", "message": "must be a JSON object"}])
    return parse_model(model, data)
