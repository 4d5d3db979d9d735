"""Field types shared by the resource schemas (request validation = 422 naming the field)."""

from __future__ import annotations

import re
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints
from pydantic_core import PydanticCustomError

# /openapi.json documents these patterns. They are read three ways (ECMA-262 by the spec's
# validators, Python's `re` here and by schemathesis, with or without re.ASCII; Rust by
# pydantic), so they spell their classes out: WHITESPACE is exactly what str.isspace() and
# str.strip() treat as whitespace, and ``$(?!\n)`` is the end of the value even in Python
# (whose ``$`` also matches before a final newline). No flags: hence [hH]...
WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NON_BLANK = rf"[^{WHITESPACE}]"  # a character that is not whitespace, anywhere in the value
_VISIBLE = rf"[^{WHITESPACE}\x00-\x08\x0e-\x1b\x7f-\x9f"  # no whitespace, no control character
EMAIL_PATTERN = rf"^{_VISIBLE}@]+@{_VISIBLE}@]+\.{_VISIBLE}@]+$(?!\n)"
URL_PATTERN = rf"^[hH][tT][tT][pP][sS]?://{_VISIBLE}/$.?#]{_VISIBLE}]*$(?!\n)"
_EMAIL = re.compile(EMAIL_PATTERN)
_URL = re.compile(URL_PATTERN)


def _email(value: str) -> str:
    # checked as sent (the documented pattern allows no whitespace), then lower-cased
    value = value.lower()
    if not _EMAIL.match(value):
        raise ValueError("not a valid email address")
    return value


def _http_url(value: str) -> str:
    # checked as sent, like e-mails: the documented pattern allows no whitespace
    if not _URL.match(value):
        raise ValueError("must be an http:// or https:// URL")
    return value


def _tags(values: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in values:
        seen.setdefault(tag, None)
    return list(seen)


Email = Annotated[str, StringConstraints(max_length=255), Field(json_schema_extra={"pattern": EMAIL_PATTERN}),
                  AfterValidator(_email)]
HttpUrl = Annotated[str, StringConstraints(max_length=2048), Field(json_schema_extra={"pattern": URL_PATTERN}),
                    AfterValidator(_http_url)]
HexColor = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
def _stripped_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


# Lengths are checked on the value as sent (as /openapi.json documents them), then it is trimmed.
Name = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=NON_BLANK),
                 AfterValidator(_stripped_name)]
Text = Annotated[str, StringConstraints(max_length=65_536)]
def _json_number(value: Any) -> Any:
    if isinstance(value, (bool, str)):  # pydantic's lax mode would read true as 1 and "5" as 5
        raise ValueError("must be a JSON number")
    return value


# A JSON number (an integer may be written 3.0, as JSON Schema allows); true and "3" are a 422.
JsonNumber = BeforeValidator(_json_number)


def hundredths(value: float) -> float:
    """A number kept to two decimal places (a NUMERIC(n, 2) column): rounded, not refused."""
    return round(value, 2)


Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9]{6,15}$")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NON_BLANK)]
Keyword = Tag  # a flow's or chatbot's trigger/handoff keyword: the same shape

TagList = Annotated[list[Tag], Field(max_length=100), AfterValidator(_tags)]
JsonObject = dict[str, Any]
# IANA names; not "localtime" (the server's own zone) nor "Factory" (no zone at all)
TIMEZONES = tuple(sorted(available_timezones() - {"localtime", "Factory"}))
_TIMEZONE_SET = frozenset(TIMEZONES)


def _timezone(value: str) -> str:
    if value not in _TIMEZONE_SET:
        raise ValueError("must be an IANA timezone name, such as America/Sao_Paulo")
    return value


# An IANA timezone name (documented as an enum): a name the runtime cannot load would
# silently be UTC
Timezone = Annotated[str, AfterValidator(_timezone), Field(json_schema_extra={"enum": list(TIMEZONES)})]
# A JSON boolean: 0, 1, "true", "false" are a 422 naming the field, not coerced.
# Every boolean field of a request body is one (tests/api/test_strict_booleans.py).
StrictBool = Annotated[bool, Strict()]


def field_error(field: str, message: str) -> PydanticCustomError:
    """An error for a cross-field check, raised from a model validator, that still names one field."""
    return PydanticCustomError("invalid_field", message, {"field": field})


class Input(BaseModel):
    """Request bodies: unknown fields are refused (a typo must not be silently dropped)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Output(BaseModel):
    """Response bodies."""

    model_config = ConfigDict(extra="ignore")
