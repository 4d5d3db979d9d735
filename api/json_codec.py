"""Fast JSON for the hot paths: orjson where it gives the same JSON as the stdlib.

- `ApiJSONProvider` (``app.json``) encodes response bodies with orjson, keeping
  Flask/Quart's conventions: sorted keys, compact output, and the provider's
  ``default`` for the types orjson is told to pass through (datetime → HTTP
  date, dataclasses), so a body means exactly what it meant before. Values
  orjson refuses (an integer beyond 64 bits, ...) fall back to the stdlib.
- `loads_json` decodes ``json``/``jsonb`` columns (the asyncpg codec runs it
  once per JSON value per row: 50 rows of a list page are many calls).

Measured on the conversation list (50 rows): JSON encoding and jsonb decoding
were ~10% of a worker's CPU with the stdlib, a few percent with orjson.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from quart.json.provider import DefaultJSONProvider

_DUMP_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                 | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_APPEND_NEWLINE)


def loads_json(text: str | bytes) -> Any:
    """`json.loads`, via orjson; the stdlib for what orjson refuses (huge integers)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class ApiJSONProvider(DefaultJSONProvider):
    """The app's JSON provider (``base``, e.g. quart-schema's, which turns pydantic
    values into JSON) with compact responses encoded by orjson; ``base.default``
    still converts what orjson does not handle itself."""

    def __init__(self, app: Any, base: DefaultJSONProvider) -> None:
        super().__init__(app)
        self.default = base.default  # type: ignore[method-assign]

    def response(self, *args: Any, **kwargs: Any) -> Any:
        if (self.compact is None and self._app.debug) or self.compact is False or not self.sort_keys:
            return super().response(*args, **kwargs)  # pretty-printed: the stdlib path
        obj = self._prepare_response_obj(args, kwargs)
        try:
            body = orjson.dumps(obj, default=self.default, option=_DUMP_OPTIONS)
        except TypeError:  # e.g. an int beyond 64 bits: json.dumps takes any
            return super().response(*args, **kwargs)
        return self._app.response_class(body, mimetype=self.mimetype)
