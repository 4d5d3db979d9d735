"""Fixtures for the expression language tests: the case tables beside them."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.expressions import Scope

HERE = Path(__file__).parent


def load_table(name: str) -> Any:
    return json.loads((HERE / name).read_text("utf-8"))


def scope_from_json(doc: dict[str, Any], default: dict[str, Any] | None = None) -> Scope:
    """A `Scope` from the JSON form used in the tables (``now`` as ISO 8601)."""
    merged = {**(default or {}), **doc}
    now = merged.get("now")
    return Scope(
        vars=merged.get("vars"),
        contact=merged.get("contact"),
        conversation=merged.get("conversation"),
        message=merged.get("message"),
        now=datetime.fromisoformat(now) if now else None,
    )


def same_value(actual: Any, expected: Any) -> bool:
    """Equal and of the same JSON type (2 is not 2.0 is not true); floats to 1e-12."""
    if isinstance(expected, float):
        return type(actual) is float and math.isclose(actual, expected, rel_tol=1e-12)
    return type(actual) is type(expected) and actual == expected
