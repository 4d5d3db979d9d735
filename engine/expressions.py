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

Modules: this one holds `Scope` and the evaluator (``evaluate``, ``render``,
``paths_read``); ``engine.values`` the value semantics and caps,
``engine.functions`` the function library, ``engine.regex_guard`` the regex
safety screen. Their public names are re-exported here.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from operator import attrgetter
from typing import Any, Callable, Mapping

from engine.functions import FUNCTIONS, Function, parse_number
from engine.regex_guard import MAX_REGEX_LENGTH, MAX_REGEX_SUBJECT, regex_problem
from engine.values import (
    MAX_STRING_LENGTH,
    MAX_VALUE_DEPTH,
    MAX_VALUE_ITEMS,
    EvaluationError,
    bounded,
    capped,
    clean_number,
    contains,
    equal,
    order_operands,
    strict_number,
    to_text,
    truthy,
)

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
            return bounded(values)
    return values


def _eval_not(node: list, scope: Scope) -> Any:
    e = node[1]
    return not _DISPATCH[e[0]](e, scope)


def _eval_neg(node: list, scope: Scope) -> Any:
    e = node[1]
    n = strict_number(_DISPATCH[e[0]](e, scope))
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
    pair = order_operands(a, b)
    return pair is not None and pair[0] < pair[1]


def _cmp_le(a: Any, b: Any) -> bool:
    pair = order_operands(a, b)
    return pair is not None and pair[0] <= pair[1]


def _cmp_gt(a: Any, b: Any) -> bool:
    pair = order_operands(a, b)
    return pair is not None and pair[0] > pair[1]


def _cmp_ge(a: Any, b: Any) -> bool:
    pair = order_operands(a, b)
    return pair is not None and pair[0] >= pair[1]


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": equal,
    "!=": lambda a, b: not equal(a, b),
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
    return contains(_DISPATCH[b[0]](b, scope), _DISPATCH[a[0]](a, scope))


def _eval_not_in(node: list, scope: Scope) -> Any:
    a, b = node[1], node[2]
    container = _DISPATCH[b[0]](b, scope)
    if container is None:
        return False  # "x not in <missing>" is as unknown as "x in <missing>"
    return not contains(container, _DISPATCH[a[0]](a, scope))


def _add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return clean_number(a + b)
    if ta is str or tb is str:
        if ta is list or tb is list or ta is dict or tb is dict:
            return None
        return capped(to_text(a) + to_text(b))
    if ta is list and tb is list:
        if len(a) + len(b) > MAX_VALUE_ITEMS:
            raise EvaluationError(f"list result with more than {MAX_VALUE_ITEMS} items")
        return bounded(a + b)
    return None


def _numeric_op(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        x, y = strict_number(a), strict_number(b)
        if x is None or y is None:
            return None
        return clean_number(op(x, y))

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
