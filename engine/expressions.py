"""Evaluation of the flow expression language (the compiler parses, we evaluate).

The compiler (``compiler/expressions.py``, lark) turns expression and template
source into a small JSON-able AST once; the engine evaluates that AST on every
step with the functions below. No Python ``eval``: the AST can only read the
scope's four namespaces and call the functions in `FUNCTIONS`.

AST nodes (nested lists, see ``docs/expressions.md``)::

    ["lit", value]                 ["path", NS, key|index, ...]
    ["list", [e, ...]]             ["not", e]   ["neg", e]
    ["and", a, b]  ["or", a, b]    ["cmp", op, a, b]   (== != < <= > >=)
    ["in", a, b]   ["not_in", a, b]
    ["arith", op, a, b]            (+ - * / %)
    ["call", name, [args...]]      ["tpl", [str | expr, ...]]

Runtime rules: bad data never raises. A missing path is None, a comparison of
incompatible types is False, arithmetic on non-numbers or a division by zero
is None, a function given values it cannot use returns None. Only a malformed
AST, an unknown function, or a result above the size caps raises
`EvaluationError`.
"""

from __future__ import annotations

import calendar
import json
import math
import re
import warnings
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from operator import attrgetter
from typing import Any, Callable, Mapping, NamedTuple

__all__ = [
    "EvaluationError",
    "FUNCTIONS",
    "Function",
    "MAX_REGEX_LENGTH",
    "MAX_REGEX_SUBJECT",
    "MAX_STRING_LENGTH",
    "MAX_VALUE_DEPTH",
    "MAX_VALUE_ITEMS",
    "NAMESPACES",
    "Scope",
    "evaluate",
    "parse_number",
    "paths_read",
    "regex_problem",
    "render",
    "render_template",
    "to_text",
    "truthy",
]

NAMESPACES = ("vars", "contact", "conversation", "message")
MAX_STRING_LENGTH = 64 * 1024  # longest string an expression or template may build
MAX_REGEX_LENGTH = 500  # longest pattern `matches` accepts
MAX_REGEX_SUBJECT = 4096  # `matches` looks at no more than this many characters
MAX_VALUE_ITEMS = 100_000  # items (all levels) in a list an expression builds
MAX_VALUE_DEPTH = 64  # nesting of a list an expression builds
_INT_LIMIT = 2**63  # integers past this become floats (no unbounded growth)


class EvaluationError(Exception):
    """An expression cannot be evaluated at all (malformed AST, abuse caps)."""


class Scope:
    """What an expression can read: four namespaces and the current time.

    ``vars`` are the flow variables, ``contact`` the contact row (custom
    fields under ``attributes``), ``conversation`` the conversation row,
    ``message`` the inbound message being handled (``type``, ``text``,
    ``reply_id``, ``payload``). ``now`` is an aware datetime in the zone the
    flow should think in (``today()`` is ``now``'s date); default: UTC now.
    """

    __slots__ = ("vars", "contact", "conversation", "message", "now")

    def __init__(
        self,
        vars: Mapping[str, Any] | None = None,
        contact: Mapping[str, Any] | None = None,
        conversation: Mapping[str, Any] | None = None,
        message: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> None:
        self.vars = vars if vars is not None else {}
        self.contact = contact if contact is not None else {}
        self.conversation = conversation if conversation is not None else {}
        self.message = message if message is not None else {}
        self.now = now if now is not None else datetime.now(timezone.utc)

    def __repr__(self) -> str:
        return (
            f"Scope(vars={self.vars!r}, contact={self.contact!r}, "
            f"conversation={self.conversation!r}, message={self.message!r}, now={self.now!r})"
        )


# ---------------------------------------------------------------------------
# Value helpers (shared by operators and functions)
# ---------------------------------------------------------------------------

_NUMERIC_STRING = re.compile(r"\s*[-+]?\d+(?:\.\d+)?\s*\Z")


def _strict_number(value: Any) -> int | float | None:
    """A number from an int/float or a plain numeric string ("18", "-2.5"); else None."""
    t = type(value)
    if t is int or t is float:
        return value
    if t is str and len(value) <= 40 and _NUMERIC_STRING.match(value):
        s = value.strip()
        return float(s) if "." in s else int(s)
    return None


def _clean_number(value: int | float) -> int | float | None:
    """Keep results in JSON's range: huge ints become floats, inf/nan become None."""
    if type(value) is int:
        if -_INT_LIMIT < value < _INT_LIMIT:
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


def _capped(text: str) -> str:
    if len(text) > MAX_STRING_LENGTH:
        raise EvaluationError(f"text result longer than {MAX_STRING_LENGTH} characters")
    return text


def _bounded(value: list) -> list:
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


def _equal(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ta is tb and ta is not list:
        return a == b
    a_num = ta is int or ta is float
    b_num = tb is int or tb is float
    if a_num and b_num:
        return a == b
    if a_num and tb is str:
        n = _strict_number(b)
        return n is not None and n == a
    if b_num and ta is str:
        n = _strict_number(a)
        return n is not None and n == b
    if (ta is list or ta is tuple) and (tb is list or tb is tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return False


def _order_operands(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Operands made comparable for < <= > >=, or None when they are not."""
    ta, tb = type(a), type(b)
    a_num = ta is int or ta is float
    b_num = tb is int or tb is float
    if a_num and b_num:
        return a, b
    if ta is str and tb is str:
        na, nb = _strict_number(a), _strict_number(b)
        if na is not None and nb is not None:
            return na, nb
        return a, b
    if a_num and tb is str:
        nb = _strict_number(b)
        return None if nb is None else (a, nb)
    if b_num and ta is str:
        na = _strict_number(a)
        return None if na is None else (na, b)
    return None


def _contains(container: Any, item: Any) -> bool:
    t = type(container)
    if t is str:
        if item is None:
            return False
        return to_text(item) in container
    if t is list or t is tuple:
        for element in container:
            if _equal(element, item):
                return True
        return False
    if t is dict:
        return type(item) is str and item in container
    return False


# ---------------------------------------------------------------------------
# The evaluator: one function per AST tag, looked up in a dict
# ---------------------------------------------------------------------------

_NS_GETTERS: dict[str, Callable[[Scope], Any]] = {ns: attrgetter(ns) for ns in NAMESPACES}


def _eval_lit(node: list, scope: Scope) -> Any:
    return node[1]


def _eval_path(node: list, scope: Scope) -> Any:
    ns = node[1]
    current = _NS_GETTERS[ns](scope)
    n = len(node)
    if n == 2:
        return current
    if ns == "contact":
        # custom fields: contact.city reads contact.attributes.city
        key = node[2]
        if type(current) is dict or isinstance(current, Mapping):
            if key not in current:
                current = current.get("attributes")
    for i in range(2, n):
        key = node[i]
        t = type(current)
        if t is dict:
            current = current.get(key if type(key) is str else str(key))
        elif t is list or t is str or t is tuple:
            if type(key) is not int or not -len(current) <= key < len(current):
                return None
            current = current[key]
        elif isinstance(current, Mapping):
            current = current.get(key if type(key) is str else str(key))
        else:
            return None
        if current is None:
            return None
    return current


def _eval_list(node: list, scope: Scope) -> Any:
    values = [_DISPATCH[e[0]](e, scope) for e in node[1]]
    for value in values:
        if type(value) is list or type(value) is dict:
            return _bounded(values)
    return values


def _eval_not(node: list, scope: Scope) -> Any:
    e = node[1]
    return not _DISPATCH[e[0]](e, scope)


def _eval_neg(node: list, scope: Scope) -> Any:
    e = node[1]
    n = _strict_number(_DISPATCH[e[0]](e, scope))
    return None if n is None else -n


def _eval_and(node: list, scope: Scope) -> Any:
    a = node[1]
    left = _DISPATCH[a[0]](a, scope)
    if not left:
        return left
    b = node[2]
    return _DISPATCH[b[0]](b, scope)


def _eval_or(node: list, scope: Scope) -> Any:
    a = node[1]
    left = _DISPATCH[a[0]](a, scope)
    if left:
        return left
    b = node[2]
    return _DISPATCH[b[0]](b, scope)


def _cmp_lt(a: Any, b: Any) -> bool:
    pair = _order_operands(a, b)
    return pair is not None and pair[0] < pair[1]


def _cmp_le(a: Any, b: Any) -> bool:
    pair = _order_operands(a, b)
    return pair is not None and pair[0] <= pair[1]


def _cmp_gt(a: Any, b: Any) -> bool:
    pair = _order_operands(a, b)
    return pair is not None and pair[0] > pair[1]


def _cmp_ge(a: Any, b: Any) -> bool:
    pair = _order_operands(a, b)
    return pair is not None and pair[0] >= pair[1]


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": _equal,
    "!=": lambda a, b: not _equal(a, b),
    "<": _cmp_lt,
    "<=": _cmp_le,
    ">": _cmp_gt,
    ">=": _cmp_ge,
}


def _eval_cmp(node: list, scope: Scope) -> Any:
    a, b = node[2], node[3]
    return _COMPARATORS[node[1]](_DISPATCH[a[0]](a, scope), _DISPATCH[b[0]](b, scope))


def _eval_in(node: list, scope: Scope) -> Any:
    a, b = node[1], node[2]
    return _contains(_DISPATCH[b[0]](b, scope), _DISPATCH[a[0]](a, scope))


def _eval_not_in(node: list, scope: Scope) -> Any:
    a, b = node[1], node[2]
    container = _DISPATCH[b[0]](b, scope)
    if container is None:
        return False  # "x not in <missing>" is as unknown as "x in <missing>"
    return not _contains(container, _DISPATCH[a[0]](a, scope))


def _add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return _clean_number(a + b)
    if ta is str or tb is str:
        if ta is list or tb is list or ta is dict or tb is dict:
            return None
        return _capped(to_text(a) + to_text(b))
    if ta is list and tb is list:
        if len(a) + len(b) > MAX_VALUE_ITEMS:
            raise EvaluationError(f"list result with more than {MAX_VALUE_ITEMS} items")
        return _bounded(a + b)
    return None


def _numeric_op(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        x, y = _strict_number(a), _strict_number(b)
        if x is None or y is None:
            return None
        return _clean_number(op(x, y))

    return apply


def _divide(x: int | float, y: int | float) -> Any:
    if y == 0:
        return math.nan  # cleaned to None
    return x / y


def _modulo(x: int | float, y: int | float) -> Any:
    if y == 0:
        return math.nan
    return x % y


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": _add,
    "-": _numeric_op(lambda x, y: x - y),
    "*": _numeric_op(lambda x, y: x * y),
    "/": _numeric_op(_divide),
    "%": _numeric_op(_modulo),
}


def _eval_arith(node: list, scope: Scope) -> Any:
    a, b = node[2], node[3]
    return _ARITHMETIC[node[1]](_DISPATCH[a[0]](a, scope), _DISPATCH[b[0]](b, scope))


def _eval_call(node: list, scope: Scope) -> Any:
    fn = FUNCTIONS.get(node[1])
    if fn is None:
        raise EvaluationError(f"unknown function {node[1]!r}")
    args = [_DISPATCH[e[0]](e, scope) for e in node[2]]
    n = len(args)
    if n < fn.min_arity or (fn.max_arity is not None and n > fn.max_arity):
        raise EvaluationError(f"{node[1]}() called with {n} argument(s)")
    try:
        return fn.impl(scope, *args)
    except EvaluationError:
        raise
    except (TypeError, ValueError, ArithmeticError, LookupError, re.error):
        return None  # a function given data it cannot use yields null


def _eval_tpl(node: list, scope: Scope) -> Any:
    return render_template(node, scope)


_DISPATCH: dict[str, Callable[[list, Scope], Any]] = {
    "lit": _eval_lit,
    "path": _eval_path,
    "list": _eval_list,
    "not": _eval_not,
    "neg": _eval_neg,
    "and": _eval_and,
    "or": _eval_or,
    "cmp": _eval_cmp,
    "in": _eval_in,
    "not_in": _eval_not_in,
    "arith": _eval_arith,
    "call": _eval_call,
    "tpl": _eval_tpl,
}


def evaluate(ast: Any, scope: Scope) -> Any:
    """The value of an expression AST (a template AST evaluates to its text)."""
    try:
        return _DISPATCH[ast[0]](ast, scope)
    except EvaluationError:
        raise
    except RecursionError:
        raise EvaluationError("expression nested too deeply") from None
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise EvaluationError(f"malformed expression: {exc!r}") from None


def render_template(ast: Any, scope: Scope) -> str:
    """The text of a template AST ``["tpl", [part, ...]]``."""
    try:
        out = []
        size = 0
        for part in ast[1]:
            if type(part) is str:
                out.append(part)
                size += len(part)
            else:
                text = to_text(_DISPATCH[part[0]](part, scope))
                out.append(text)
                size += len(text)
            if size > MAX_STRING_LENGTH:
                raise EvaluationError(f"template result longer than {MAX_STRING_LENGTH} characters")
        return "".join(out)
    except EvaluationError:
        raise
    except RecursionError:
        raise EvaluationError("expression nested too deeply") from None
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise EvaluationError(f"malformed template: {exc!r}") from None


def render(value: Any, scope: Scope) -> Any:
    """Resolve a compiled node argument.

    ``{"$tpl": AST}`` becomes its text, ``{"$expr": AST}`` its value; lists
    and other dicts are rendered item by item; anything else passes through.
    """
    try:
        return _render(value, scope)
    except RecursionError:
        raise EvaluationError("value nested too deeply to render") from None


def _render(value: Any, scope: Scope) -> Any:
    t = type(value)
    if t is dict:
        if len(value) == 1:
            if "$tpl" in value:
                return render_template(value["$tpl"], scope)
            if "$expr" in value:
                return evaluate(value["$expr"], scope)
        return {k: _render(v, scope) for k, v in value.items()}
    if t is list:
        return [_render(v, scope) for v in value]
    return value


def paths_read(ast: Any) -> set[tuple]:
    """Every path an expression or template reads, e.g. ``("vars", "age")``.

    Accepts an expression AST, a template AST, or a compiled node argument
    (data in which ASTs sit under ``{"$expr"}``/``{"$tpl"}``). Iterative.
    """
    found: set[tuple] = set()
    is_ast = type(ast) is list and bool(ast) and type(ast[0]) is str and ast[0] in _DISPATCH
    stack: list[tuple[Any, bool]] = [(ast, is_ast)]
    while stack:
        node, in_ast = stack.pop()
        if not in_ast:  # plain data: look for wrapped ASTs
            if type(node) is dict:
                if len(node) == 1 and ("$expr" in node or "$tpl" in node):
                    stack.append((next(iter(node.values())), True))
                else:
                    stack.extend((v, False) for v in node.values())
            elif type(node) is list:
                stack.extend((v, False) for v in node)
            continue
        if type(node) is not list or not node:
            continue
        tag = node[0]
        if tag == "path":
            found.add(tuple(node[1:]))
        elif tag == "lit" or type(tag) is not str:
            continue
        elif tag == "list" or tag == "tpl":
            if len(node) > 1 and type(node[1]) is list:
                stack.extend((child, True) for child in node[1])
        elif tag == "call":
            if len(node) > 2 and type(node[2]) is list:
                stack.extend((child, True) for child in node[2])
        elif tag == "cmp" or tag == "arith":
            stack.extend((child, True) for child in node[2:])
        else:
            stack.extend((child, True) for child in node[1:])
    return found


# ---------------------------------------------------------------------------
# Function library
# ---------------------------------------------------------------------------


class Function(NamedTuple):
    """A callable of the language: ``(min_arity, max_arity, impl)``.

    ``max_arity`` None means any number. ``impl(scope, *args)`` gets the
    evaluated arguments; its docstring (first line: the signature) is the
    reference text.
    """

    min_arity: int
    max_arity: int | None
    impl: Callable[..., Any]

    @property
    def doc(self) -> str:
        return (self.impl.__doc__ or "").strip()


FUNCTIONS: dict[str, Function] = {}


def _function(name: str, min_arity: int, max_arity: int | None = -1) -> Callable:
    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[name] = Function(min_arity, min_arity if max_arity == -1 else max_arity, impl)
        return impl

    return register


def _text_or_none(value: Any) -> str | None:
    return None if value is None else to_text(value)


# -- text --------------------------------------------------------------------


@_function("lower", 1)
def _lower(scope: Scope, s: Any) -> Any:
    """lower(s): s in lower case; null stays null."""
    text = _text_or_none(s)
    return None if text is None else text.lower()


@_function("upper", 1)
def _upper(scope: Scope, s: Any) -> Any:
    """upper(s): s in upper case; null stays null."""
    text = _text_or_none(s)
    return None if text is None else text.upper()


@_function("trim", 1)
def _trim(scope: Scope, s: Any) -> Any:
    """trim(s): s without leading/trailing whitespace; null stays null."""
    text = _text_or_none(s)
    return None if text is None else text.strip()


@_function("len", 1)
def _len(scope: Scope, x: Any) -> Any:
    """len(x): characters of a string, items of a list or object; null → 0; else null."""
    if x is None:
        return 0
    if isinstance(x, (str, list, dict, tuple)):
        return len(x)
    return None


@_function("contains", 2)
def _contains_fn(scope: Scope, haystack: Any, needle: Any) -> Any:
    """contains(x, item): like `item in x` (substring of a string, member of a list)."""
    return _contains(haystack, needle)


@_function("starts_with", 2)
def _starts_with(scope: Scope, s: Any, prefix: Any) -> Any:
    """starts_with(s, prefix): true when the text s begins with prefix (case-sensitive)."""
    if s is None or prefix is None:
        return False
    return to_text(s).startswith(to_text(prefix))


@_function("ends_with", 2)
def _ends_with(scope: Scope, s: Any, suffix: Any) -> Any:
    """ends_with(s, suffix): true when the text s ends with suffix (case-sensitive)."""
    if s is None or suffix is None:
        return False
    return to_text(s).endswith(to_text(suffix))


_NUMBER_CHARS = re.compile(r"[-+]?[\d.,]*\d[\d.,]*\Z")
_NUMBER_NOISE = re.compile(r"[\s\u00a0]|R\$|US\$|[$€£%]")


def parse_number(value: Any) -> int | float | None:
    """Read a number the way people type it ("1.234,56", "1,234.56", "R$ 10", "42")."""
    t = type(value)
    if t is int or t is float:
        return _clean_number(value)
    if t is not str or len(value) > 100:
        return None
    s = _NUMBER_NOISE.sub("", value)
    if not _NUMBER_CHARS.match(s):
        return None
    sign = ""
    if s[0] in "+-":
        sign, s = s[0], s[1:]
    dots, commas = s.count("."), s.count(",")
    if dots and commas:
        decimal_sep = "." if s.rfind(".") > s.rfind(",") else ","
        thousands = "," if decimal_sep == "." else "."
        if s.count(decimal_sep) > 1:
            return None
        whole, frac = s.split(decimal_sep)
        whole = whole.replace(thousands, "")
    elif dots > 1 or commas > 1:  # 1.234.567 / 1,234,567: thousands only
        whole, frac = s.replace(".", "").replace(",", ""), ""
    elif dots or commas:  # one separator: a decimal point/comma ("1,5", "2.75")
        whole, _, frac = s.replace(",", ".").partition(".")
    else:
        whole, frac = s, ""
    if not whole.isdigit() and whole != "":
        return None
    if frac and not frac.isdigit():
        return None
    if whole == "" and frac == "":
        return None
    if frac:
        return _clean_number(float(f"{sign}{whole or '0'}.{frac}"))
    return _clean_number(int(sign + whole))


@_function("number", 1)
def _number(scope: Scope, x: Any) -> Any:
    """number(x): a number from x; accepts "1.234,56", "1,234.56", "1,5", "R$ 10"; null on failure."""
    if type(x) is bool:
        return None
    return parse_number(x)


@_function("text", 1)
def _text(scope: Scope, x: Any) -> Any:
    """text(x): x as it would appear in a template (null → "", 3.0 → "3", lists as JSON)."""
    return _capped(to_text(x))


@_function("replace", 3)
def _replace(scope: Scope, s: Any, old: Any, new: Any) -> Any:
    """replace(s, old, new): s with every occurrence of old replaced by new."""
    if s is None:
        return None
    text, a, b = to_text(s), to_text(old), to_text(new)
    if not a:
        return text
    if b and len(text) + text.count(a) * max(0, len(b) - len(a)) > MAX_STRING_LENGTH:
        raise EvaluationError(f"text result longer than {MAX_STRING_LENGTH} characters")
    return text.replace(a, b)


@_function("split", 1, 2)
def _split(scope: Scope, s: Any, sep: Any = None) -> Any:
    """split(s, sep): list of the parts of s between sep (whitespace when sep is omitted)."""
    if s is None:
        return []
    text = to_text(s)
    if sep is None:
        return text.split()
    separator = to_text(sep)
    if not separator:
        return list(text)
    return text.split(separator)


@_function("join", 1, 2)
def _join(scope: Scope, items: Any, sep: Any = ", ") -> Any:
    """join(list, sep): the items as text joined by sep (default ", ")."""
    if items is None:
        return ""
    if type(items) is not list and type(items) is not tuple:
        return to_text(items)
    return _capped(to_text(sep).join(to_text(item) for item in items))


@_function("matches", 2)
def _matches(scope: Scope, s: Any, pattern: Any) -> Any:
    """matches(s, regex): true when regex (Python syntax) matches somewhere in s; null s → false."""
    if s is None or type(pattern) is not str:
        return False
    compiled = _compile_regex(pattern)
    if compiled is None:
        return False
    return compiled.search(to_text(s)[:MAX_REGEX_SUBJECT]) is not None


def regex_problem(pattern: str) -> str | None:
    """Why `matches` would refuse this pattern (too long, invalid, slow), or None."""
    if len(pattern) > MAX_REGEX_LENGTH:
        return f"regular expression longer than {MAX_REGEX_LENGTH} characters"
    try:
        with warnings.catch_warnings():  # e.g. FutureWarning "possible nested set"
            warnings.simplefilter("ignore")
            parsed = _sre_parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        return f"invalid regular expression: {exc}"
    if _has_nested_repeat(parsed):
        return "regular expression repeats a repeated group (like (a+)+), which can take exponential time"
    return None


def _sre_parse(pattern: str) -> Any:
    try:
        from re import _parser as sre_parse  # Python ≥ 3.11
    except ImportError:  # pragma: no cover
        import sre_parse  # type: ignore[no-redef]
    return sre_parse.parse(pattern)


def _sre_constants() -> Any:
    try:
        from re import _constants as c  # Python ≥ 3.11
    except ImportError:  # pragma: no cover
        import sre_constants as c  # type: ignore[no-redef]
    return c


def _has_nested_repeat(parsed: Any) -> bool:
    """True when an unbounded repeat contains another one with nothing to tell
    the iterations apart, as in ``(a+)+`` or ``(\\w+\\s?)*``: a failing match
    then tries exponentially many ways to split the text.

    An outer body with a required character the inner repeats cannot match
    (``(\\.[\\w-]+)+``, ``(\\d+,)*``) is linear and allowed. Possessive repeats
    never backtrack and are allowed.
    """
    c = _sre_constants()
    stack = [parsed]
    while stack:
        for op, av in stack.pop():
            if op in (c.MAX_REPEAT, c.MIN_REPEAT):
                body = av[2]
                if _unbounded(av[1]):
                    inner = _inner_repeats(body)
                    if inner and not _has_separator(body, inner):
                        return True
                stack.append(body)
            else:
                stack.extend(_children(op, av))
    return False


def _unbounded(hi: int) -> bool:
    return hi == _sre_constants().MAXREPEAT or hi > 100


def _children(op: Any, av: Any) -> list:
    c = _sre_constants()
    if op is c.SUBPATTERN:
        return [av[-1]]
    if op is c.BRANCH:
        return list(av[1])
    if op in (c.ASSERT, c.ASSERT_NOT, getattr(c, "ATOMIC_GROUP", None)):
        return [av[-1]] if op is not getattr(c, "ATOMIC_GROUP", None) else [av]
    if op is getattr(c, "POSSESSIVE_REPEAT", None) or op in (c.MAX_REPEAT, c.MIN_REPEAT):
        return [av[2]]
    return []


def _inner_repeats(body: Any) -> list:
    """The unbounded, backtracking repeats anywhere inside ``body``."""
    c = _sre_constants()
    found = []
    stack = [body]
    while stack:
        for op, av in stack.pop():
            if op in (c.MAX_REPEAT, c.MIN_REPEAT) and _unbounded(av[1]):
                found.append(av[2])
            if op is not getattr(c, "ATOMIC_GROUP", None):  # atomic: no backtracking inside
                stack.extend(_children(op, av))
    return found


def _has_separator(body: Any, inner: list) -> bool:
    """Whether ``body`` requires a literal character that no inner repeat can match."""
    c = _sre_constants()
    required = [av for op, av in body if op is c.LITERAL]
    for op, av in body:
        if op is c.SUBPATTERN:
            required.extend(a for o, a in av[-1] if o is c.LITERAL)
    return any(
        not any(_may_match(repeat, code) for repeat in inner) for code in required
    )


def _may_match(pattern: Any, code: int) -> bool:
    """Whether some atom of ``pattern`` could match the character ``code`` (when unsure: yes)."""
    c = _sre_constants()
    ch = chr(code)
    stack = [pattern]
    while stack:
        for op, av in stack.pop():
            if op is c.LITERAL:
                if av == code:
                    return True
            elif op is c.NOT_LITERAL:
                if av != code:
                    return True
            elif op is c.IN:
                if _in_set(av, code, ch):
                    return True
            elif op in (c.SUBPATTERN, c.BRANCH, c.MAX_REPEAT, c.MIN_REPEAT,
                        getattr(c, "POSSESSIVE_REPEAT", None), getattr(c, "ATOMIC_GROUP", None)):
                stack.extend(_children(op, av))
            elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
                continue  # zero-width
            else:  # ANY, group references, ...: could be anything
                return True
    return False


def _in_set(items: list, code: int, ch: str) -> bool:
    c = _sre_constants()
    negate = False
    hit = False
    for op, av in items:
        if op is c.NEGATE:
            negate = True
        elif op is c.LITERAL:
            hit = hit or av == code
        elif op is c.RANGE:
            hit = hit or av[0] <= code <= av[1]
        elif op is c.CATEGORY:
            test = _CATEGORY_TESTS.get(str(av))
            hit = hit or (True if test is None else test(ch))
        else:
            hit = True
    return hit != negate


_CATEGORY_TESTS: dict[str, Callable[[str], bool]] = {
    "CATEGORY_DIGIT": str.isdigit,
    "CATEGORY_NOT_DIGIT": lambda ch: not ch.isdigit(),
    "CATEGORY_SPACE": str.isspace,
    "CATEGORY_NOT_SPACE": lambda ch: not ch.isspace(),
    "CATEGORY_WORD": lambda ch: ch.isalnum() or ch == "_",
    "CATEGORY_NOT_WORD": lambda ch: not (ch.isalnum() or ch == "_"),
}


@lru_cache(maxsize=256)
def _compile_regex(pattern: str) -> re.Pattern[str] | None:
    if regex_problem(pattern) is not None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return re.compile(pattern)


# -- numbers -----------------------------------------------------------------


@_function("round", 1, 2)
def _round(scope: Scope, x: Any, digits: Any = 0) -> Any:
    """round(x, n): x rounded half away from zero to n decimals (default 0 → an integer)."""
    number = _strict_number(x)
    places = _strict_number(digits)
    if number is None or type(places) is not int:
        return None
    places = max(0, min(places, 15))
    quantum = Decimal(1).scaleb(-places)
    rounded = Decimal(repr(number) if type(number) is float else number).quantize(
        quantum, rounding=ROUND_HALF_UP
    )
    return _clean_number(int(rounded) if places == 0 else float(rounded))


@_function("abs", 1)
def _abs(scope: Scope, x: Any) -> Any:
    """abs(x): the absolute value of a number."""
    number = _strict_number(x)
    return None if number is None else abs(number)


def _extreme(pick: Callable[..., Any], args: tuple) -> Any:
    values = args[0] if len(args) == 1 and type(args[0]) is list else args
    numbers = []
    for v in values:
        if v is None:
            continue
        n = _strict_number(v)
        if n is None:
            return None
        numbers.append(n)
    return pick(numbers) if numbers else None


@_function("min", 1, None)
def _min(scope: Scope, *args: Any) -> Any:
    """min(a, b, ...) or min(list): the smallest number (nulls skipped; null if none)."""
    return _extreme(min, args)


@_function("max", 1, None)
def _max(scope: Scope, *args: Any) -> Any:
    """max(a, b, ...) or max(list): the largest number (nulls skipped; null if none)."""
    return _extreme(max, args)


# -- emptiness ---------------------------------------------------------------


def _empty(x: Any) -> bool:
    if x is None:
        return True
    if type(x) is str:
        return not x.strip()
    if type(x) in (list, dict, tuple):
        return not x
    return False


@_function("default", 2)
def _default(scope: Scope, x: Any, fallback: Any) -> Any:
    """default(x, fallback): fallback when x is null or "", else x. As a filter: x | default("there")."""
    if x is None or x == "":
        return fallback
    return x


@_function("is_empty", 1)
def _is_empty(scope: Scope, x: Any) -> Any:
    """is_empty(x): true for null, blank text, [] and {}."""
    return _empty(x)


@_function("coalesce", 1, None)
def _coalesce(scope: Scope, *args: Any) -> Any:
    """coalesce(a, b, ...): the first argument that is not null."""
    for value in args:
        if value is not None:
            return value
    return None


# -- dates -------------------------------------------------------------------

_DATE_PATTERNS = (
    (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})\Z"), "ymd"),
    (re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\Z"), "dmy"),
    (re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2})\Z"), "dmy2"),
)
_RELATIVE_DAYS = {
    "hoje": 0, "today": 0,
    "amanha": 1, "amanhã": 1, "tomorrow": 1,
    "ontem": -1, "yesterday": -1,
}


def _local_now(scope: Scope) -> datetime:
    now = scope.now
    return now if isinstance(now, datetime) else datetime.now(timezone.utc)


def _in_flow_zone(moment: datetime, scope: Scope) -> datetime:
    """A date-time in the zone of ``scope.now`` (naive ones are taken to be in it)."""
    tz = _local_now(scope).tzinfo
    if tz is None:
        if moment.tzinfo is None:
            return moment
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=tz)
    return moment.astimezone(tz)


def _parse_when(value: Any, scope: Scope) -> date | datetime | None:
    """A date or date-time (in the flow's zone) from ISO text, DD/MM/YYYY, DD-MM-YYYY,
    DD.MM.YYYY, DD/MM/YY or a word (hoje/today, amanhã/tomorrow, ontem/yesterday)."""
    if isinstance(value, datetime):
        return _in_flow_zone(value, scope)
    if isinstance(value, date):
        return value
    if type(value) is not str or len(value) > 64:
        return None
    s = value.strip()
    relative = _RELATIVE_DAYS.get(s.lower())
    if relative is not None:
        return _local_now(scope).date() + timedelta(days=relative)
    for pattern, kind in _DATE_PATTERNS:
        m = pattern.match(s)
        if m:
            a, b, c = (int(g) for g in m.groups())
            if kind == "ymd":
                return date(a, b, c)
            if kind == "dmy":
                return date(c, b, a)
            return date(2000 + c if c < 70 else 1900 + c, b, a)
    if len(s) >= 11 and s[4] == "-" and s[10] in "Tt ":
        text = s[:-1] + "+00:00" if s[-1] in "Zz" else s
        return _in_flow_zone(datetime.fromisoformat(text), scope)
    return None


def _date_text(when: date | datetime) -> str:
    if isinstance(when, datetime):
        return when.replace(microsecond=0).isoformat()
    return when.isoformat()


@_function("now", 0)
def _now(scope: Scope) -> Any:
    """now(): the current date and time, ISO 8601 ("2026-11-25T14:30:00-03:00")."""
    return _date_text(_local_now(scope))


@_function("today", 0)
def _today(scope: Scope) -> Any:
    """today(): the current date, ISO ("2026-11-25")."""
    return _local_now(scope).date().isoformat()


@_function("date", 1)
def _date(scope: Scope, s: Any) -> Any:
    """date(s): ISO date "YYYY-MM-DD" from "2026-11-25", "25/11/2026", "25-11-2026", "25/11/26", "hoje"...; null if unreadable."""
    when = _parse_when(s, scope)
    if when is None:
        return None
    if isinstance(when, datetime):
        when = when.date()
    return when.isoformat()


_UNITS = {
    "second": "seconds", "seconds": "seconds", "segundo": "seconds", "segundos": "seconds",
    "minute": "minutes", "minutes": "minutes", "minuto": "minutes", "minutos": "minutes",
    "hour": "hours", "hours": "hours", "hora": "hours", "horas": "hours",
    "day": "days", "days": "days", "dia": "days", "dias": "days",
    "week": "weeks", "weeks": "weeks", "semana": "weeks", "semanas": "weeks",
    "month": "months", "months": "months", "mes": "months", "mês": "months", "meses": "months",
    "year": "years", "years": "years", "ano": "years", "anos": "years",
}
_TIME_UNITS = {"seconds", "minutes", "hours"}


def _add_months(when: date | datetime, months: int) -> date | datetime:
    index = when.year * 12 + (when.month - 1) + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise OverflowError("date out of range")
    day = min(when.day, calendar.monthrange(year, month + 1)[1])
    return when.replace(year=year, month=month + 1, day=day)


@_function("date_add", 2, 3)
def _date_add(scope: Scope, when: Any, amount: Any, unit: Any = "days") -> Any:
    """date_add(date, n, unit): date moved by n units (days, weeks, months, years, hours, minutes, seconds; default days).

    A date stays a date for day-or-longer units; adding hours/minutes to a
    date starts from its midnight and gives a date-time. Month ends clamp
    (31 Jan + 1 month = 28/29 Feb).
    """
    start = _parse_when(when, scope)
    n = _strict_number(amount)
    canonical = _UNITS.get(to_text(unit).strip().lower())
    if start is None or n is None or canonical is None:
        return None
    if canonical in ("months", "years"):
        if type(n) is not int:
            return None
        result = _add_months(start, n * 12 if canonical == "years" else n)
    else:
        if canonical in _TIME_UNITS and not isinstance(start, datetime):
            start = _in_flow_zone(datetime(start.year, start.month, start.day), scope)
        result = start + timedelta(**{canonical: n})
    return _date_text(result)


@_function("date_diff", 2, 3)
def _date_diff(scope: Scope, a: Any, b: Any, unit: Any = "days") -> Any:
    """date_diff(a, b, unit): whole units from a to b (b − a), truncated toward zero; default days."""
    start, end = _parse_when(a, scope), _parse_when(b, scope)
    canonical = _UNITS.get(to_text(unit).strip().lower())
    if start is None or end is None or canonical is None:
        return None
    if isinstance(start, datetime) != isinstance(end, datetime):  # a date counts from midnight
        if not isinstance(start, datetime):
            start = _in_flow_zone(datetime(start.year, start.month, start.day), scope)
        if not isinstance(end, datetime):
            end = _in_flow_zone(datetime(end.year, end.month, end.day), scope)
    if canonical in ("months", "years"):
        sign = 1 if end >= start else -1
        lo, hi = (start, end) if sign == 1 else (end, start)
        months = (hi.year - lo.year) * 12 + (hi.month - lo.month)
        if _add_months(lo, months) > hi:
            months -= 1
        return sign * (months // 12 if canonical == "years" else months)
    seconds = (end - start).total_seconds()
    size = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}[canonical]
    return int(seconds / size)


_DATE_TOKENS = re.compile(r"YYYY|YY|MM|DD|HH|mm|ss")


@_function("format_date", 1, 2)
def _format_date(scope: Scope, when: Any, fmt: Any = "DD/MM/YYYY") -> Any:
    """format_date(date, fmt): date as text; tokens YYYY YY MM DD HH mm ss (default "DD/MM/YYYY")."""
    value = _parse_when(when, scope)
    if value is None or type(fmt) is not str or len(fmt) > 200:
        return None
    hour = getattr(value, "hour", 0)
    minute = getattr(value, "minute", 0)
    second = getattr(value, "second", 0)
    fields = {
        "YYYY": f"{value.year:04d}",
        "YY": f"{value.year % 100:02d}",
        "MM": f"{value.month:02d}",
        "DD": f"{value.day:02d}",
        "HH": f"{hour:02d}",
        "mm": f"{minute:02d}",
        "ss": f"{second:02d}",
    }
    return _DATE_TOKENS.sub(lambda m: fields[m.group(0)], fmt)
