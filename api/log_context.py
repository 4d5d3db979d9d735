"""The process's log lines: text for a terminal, or one JSON object per line (``PYTAKE_LOG_FORMAT=json``).

A JSON line has ``timestamp`` (UTC, ISO 8601 with milliseconds), ``level``,
``logger``, ``message``, ``process``, and, when known, ``request_id``,
``organization_id`` and ``conversation_id``; an exception is the field
``exception`` (its traceback as text), not extra lines.

The ids live in context variables, so they follow the asyncio task that
handles a request or a conversation (and only it): the API sets
``request_id`` for each request (`api.app`) and ``organization_id`` once the
caller is authenticated (`api.auth.principal`); the runtime sets both
``organization_id`` and ``conversation_id`` while a conversation is processed
(`api.conversations.process`). ``bind(...)`` sets some for a ``with`` block.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any, Iterator

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
# libraries that would log a line per task or request (CPU for nothing)
NOISY = ("taskiq.receiver.receiver", "httpx", "httpcore", "alembic")

# each holds text or a value whose str() is the id (a UUID): see `current_ids`
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
organization_id: contextvars.ContextVar[Any] = contextvars.ContextVar("organization_id", default=None)
conversation_id: contextvars.ContextVar[Any] = contextvars.ContextVar("conversation_id", default=None)
_IDS = (("request_id", request_id), ("organization_id", organization_id), ("conversation_id", conversation_id))
_VARIABLES = dict(_IDS)


@contextlib.contextmanager
def bind(**ids: Any) -> Iterator[None]:
    """Set ``request_id`` / ``organization_id`` / ``conversation_id`` for the block. A value
    is kept as given (a UUID, say) and turned into text only when a line is written
    (`current_ids`): a conversation step sets them for every message, and most write no line."""
    variables = _VARIABLES
    tokens = [(variables[name], variables[name].set(value)) for name, value in ids.items()]
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


def current_ids() -> dict[str, str]:
    """The ids known in this context (those set only), as text."""
    return {name: value if isinstance(value, str) else str(value)
            for name, variable in _IDS if (value := variable.get()) is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in the message are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        doc.update(current_ids())
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exception"] = record.exc_text
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def configure_logging(log_format: str = "text", level: int = logging.INFO, stream: Any = None) -> logging.Handler:
    """The root logger writes ``log_format`` lines to ``stream`` (stderr), replacing its handlers;
    the handler installed."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler


__all__ = ["FORMATS", "JsonFormatter", "bind", "configure_logging", "conversation_id", "current_ids",
           "organization_id", "request_id"]
