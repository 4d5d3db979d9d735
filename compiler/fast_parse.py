"""A fast path for the most common expressions, with the exact result of the grammar.

Most ⟨E⟩ fields and ``{{ }}`` holes are a plain dotted path (``contact.name``,
``vars.total``, ``name``), sometimes followed by filters with literal
arguments (``contact.name | default("cliente")``). Parsing those with lark
costs ~40 µs each, most of a cold compile. `parse_simple` recognises exactly
that shape with a few regular expressions and builds the AST the grammar
(``expressions.lark`` + ``expressions._ToAst``) would build.

It answers only when it is sure: anything else (a reserved word, an unknown
namespace or function, a wrong arity, ``matches``, escapes in strings,
exponents, indexes, trailing commas, any operator...) returns None and the
caller runs the full parser, which also produces every error message. So
errors, hints and positions never come from here.
tests/expressions/test_fast_parse.py checks it against the full parser.
"""

from __future__ import annotations

import re

from engine.expressions import FUNCTIONS, NAMESPACES

__all__ = ["parse_simple"]

_INT_LIMIT = 2**63
# The grammar's ignored whitespace (not Python's str.strip set: \v is an error there).
_SPACE = re.compile(r"[ \t\r\n\f]*")
# A path without spaces inside: NAME ("." NAME)*; a key after a dot may be a reserved word.
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# String literals without escapes; numbers without exponent (``1e5``, ``1.5.2``,
# ``2x`` match a prefix only, then fail for want of "," or ")").
_LITERAL = re.compile(r"\"([^\"\\\n]*)\"|'([^'\\\n]*)'|([0-9]+(?:\.[0-9]+)?)")
_RESERVED = frozenset({"or", "and", "not", "in", "true", "True", "false", "False", "null", "None"})
_WORDS = {"true": True, "True": True, "false": False, "False": False, "null": None, "None": None}


def parse_simple(text: str) -> list | None:
    """The AST of ``path (| filter [(argument, ...)])*``, or None when the grammar must decide.

    An argument is a path or a literal (strings without escapes, numbers
    without exponent or sign, true/false/null).
    """
    pos = _SPACE.match(text).end()
    m = _PATH.match(text, pos)
    if m is None:
        return None
    ast = _path(m.group())
    if ast is None:
        return None
    pos = _SPACE.match(text, m.end()).end()
    n = len(text)
    while pos < n:
        if text[pos] != "|":
            return None
        pos = _SPACE.match(text, pos + 1).end()
        m = _NAME.match(text, pos)
        if m is None:
            return None
        function = m.group()
        pos = _SPACE.match(text, m.end()).end()
        args = [ast]
        if pos < n and text[pos] == "(":
            pos = _SPACE.match(text, pos + 1).end()
            if pos < n and text[pos] == ")":
                pos += 1
            else:
                while True:
                    m = _LITERAL.match(text, pos) or _PATH.match(text, pos)
                    if m is None:
                        return None
                    argument = _literal(m) if m.re is _LITERAL else _path(m.group())
                    if argument is None:
                        return None
                    args.append(argument)
                    pos = _SPACE.match(text, m.end()).end()
                    if pos >= n:
                        return None
                    if text[pos] == ")":
                        pos += 1
                        break
                    if text[pos] != ",":
                        return None
                    pos = _SPACE.match(text, pos + 1).end()
            pos = _SPACE.match(text, pos).end()
        if not _known_call(function, len(args)):
            return None
        ast = ["call", function, args]
    return ast


def _path(source: str) -> list | None:
    """``contact.name`` → ["path", "contact", "name"]; ``name`` → ["path", "vars", "name"].

    A lone ``true``/``false``/``null`` (or True/False/None) is that literal.
    """
    keys = source.split(".")
    name = keys[0]
    if name in _RESERVED:
        if len(keys) == 1 and name in _WORDS:
            return ["lit", _WORDS[name]]
        return None  # a literal or an operator: the grammar's job
    if name in NAMESPACES:
        return ["path", *keys]
    if len(keys) == 1:
        return ["path", "vars", name]
    return None  # unknown namespace: the grammar reports it


def _literal(m: re.Match[str]) -> list | None:
    double, single, number = m.groups()
    if double is not None:
        return ["lit", double]
    if single is not None:
        return ["lit", single]
    if number.isdigit():
        value = int(number)
        return ["lit", value] if value < _INT_LIMIT else None
    as_float = float(number)
    return ["lit", as_float] if as_float != float("inf") else None


def _known_call(name: str, n_args: int) -> bool:
    """A call the grammar accepts without a diagnostic (``matches`` checks its regex there)."""
    if name in _RESERVED or name == "matches":
        return False
    fn = FUNCTIONS.get(name)
    if fn is None:
        return False
    return n_args >= fn.min_arity and (fn.max_arity is None or n_args <= fn.max_arity)
