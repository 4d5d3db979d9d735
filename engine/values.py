"""Value semantics shared by the evaluator's operators and the function library.

Size caps, `EvaluationError`, number coercion from text, truthiness, how a
value reads in a template, and the loose equality, ordering and membership
the operators (and functions like ``contains``) use. Bad data never raises
here; only the caps raise `EvaluationError`.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from typing import Any

MAX_STRING_LENGTH = 64 * 1024  # longest string an expression or template may build
MAX_VALUE_ITEMS = 100_000  # items (all levels) in a list an expression builds
MAX_VALUE_DEPTH = 64  # nesting of a list an expression builds
INT_LIMIT = 2**63  # integers past this become floats (no unbounded growth)


class EvaluationError(Exception):
    """An expression cannot be evaluated at all (malformed AST, abuse caps)."""



_NUMERIC_STRING = re.compile(r"\s*[-+]?\d+(?:\.\d+)?\s*\Z")


def strict_number(value: Any) -> int | float | None:
    """A number from an int/float or a plain numeric string ("18", "-2.5"); else None."""
    t = type(value)
    if t is int or t is float:
        return value
    if t is str and len(value) <= 40 and _NUMERIC_STRING.match(value):
        s = value.strip()
        return float(s) if "." in s else int(s)
    return None


def clean_number(value: int | float) -> int | float | None:
    """Keep results in JSON's range: huge ints become floats, inf/nan become None."""
    if type(value) is int:
        if -INT_LIMIT < value < INT_LIMIT:
            return value
        try:
            value = float(value)
        except OverflowError:
            return None
    if math.isfinite(value):
        return value
    return None


def truthy(value: Any) -> bool:
    """Truth of a value: None, false, 0, "", [] and {} are false; everything else true."""
    return bool(value)


def to_text(value: Any) -> str:
    """How a value appears in a template: None → "", 3.0 → "3", true/false, JSON for lists/dicts."""
    t = type(value)
    if t is str:
        return value
    if value is None:
        return ""
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return str(value)
    if t is float:
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if t is list or t is dict or t is tuple:
        try:
            return json.dumps(value, ensure_ascii=False, default=str)
        except (ValueError, TypeError, RecursionError):
            return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def capped(text: str) -> str:
    if len(text) > MAX_STRING_LENGTH:
        raise EvaluationError(f"text result longer than {MAX_STRING_LENGTH} characters")
    return text


def bounded(value: list) -> list:
    """A list an expression built, refused when its JSON would be huge or too deep.

    ``[l, l]`` shares ``l`` twice; repeated in a loop it doubles the variables'
    JSON each step, so shared items count every time they appear.
    """
    count = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_VALUE_DEPTH:
            raise EvaluationError(f"list result nested more than {MAX_VALUE_DEPTH} levels")
        children = item.values() if type(item) is dict else item
        count += len(children)
        if count > MAX_VALUE_ITEMS:
            raise EvaluationError(f"list result with more than {MAX_VALUE_ITEMS} items in all")
        for child in children:
            if type(child) is list or type(child) is dict:
                stack.append((child, depth + 1))
    return value


def equal(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ta is tb and ta is not list:
        return a == b
    a_num = ta is int or ta is float
    b_num = tb is int or tb is float
    if a_num and b_num:
        return a == b
    if a_num and tb is str:
        n = strict_number(b)
        return n is not None and n == a
    if b_num and ta is str:
        n = strict_number(a)
        return n is not None and n == b
    if (ta is list or ta is tuple) and (tb is list or tb is tuple):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    return False


def order_operands(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Operands made comparable for < <= > >=, or None when they are not."""
    ta, tb = type(a), type(b)
    a_num = ta is int or ta is float
    b_num = tb is int or tb is float
    if a_num and b_num:
        return a, b
    if ta is str and tb is str:
        na, nb = strict_number(a), strict_number(b)
        if na is not None and nb is not None:
            return na, nb
        return a, b
    if a_num and tb is str:
        nb = strict_number(b)
        return None if nb is None else (a, nb)
    if b_num and ta is str:
        na = strict_number(a)
        return None if na is None else (na, b)
    return None


def contains(container: Any, item: Any) -> bool:
    t = type(container)
    if t is str:
        if item is None:
            return False
        return to_text(item) in container
    if t is list or t is tuple:
        for element in container:
            if equal(element, item):
                return True
        return False
    if t is dict:
        return type(item) is str and item in container
    return False


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a str holds a valid pair as one code point


def without_nul(value: Any) -> Any:
    """``value`` (text, or parsed JSON) with every U+0000 and every lone surrogate in its
    strings and keys replaced by U+FFFD. PostgreSQL's text and jsonb cannot hold U+0000, and a
    lone surrogate (``"\\ud800"``: valid JSON to Python's parser) is no UTF-8 at all: a value
    taken from outside (a webhook, an API's or an AI's answer) that carried one would make the
    row it lands in (a message, a conversation's state) impossible to write."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value.replace("\x00", "\ufffd"))
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value
