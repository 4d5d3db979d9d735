"""Parsing of the flow expression language: source text → the JSON-able AST.

The grammar lives in ``expressions.lark`` (it documents the language; the
reference is ``docs/expressions.md``). Plain and filtered paths, most of what
flows hold, skip lark through ``fast_parse.parse_simple``, which builds the
very same AST and leaves anything else (and every error) to the grammar. The engine evaluates the AST with
``engine.expressions``; the function table there is the one source of truth
for names and arities, so an expression the compiler accepts is one the
engine can run.

Public API::

    parse_expression(src) -> AST      # ⟨E⟩ fields: "vars.age >= 18"
    parse_template(src) -> AST        # ⟨T⟩ fields: "Olá {{contact.name | default('cliente')}}"
    variables_read(ast) -> set[str]   # flow variables (vars.*) an AST reads
    functions_called(ast) -> set[str]

Every problem raises `ExpressionSyntaxError(message, line, column)`, with
1-based positions relative to the whole source (template included); nothing
else escapes these functions, whatever the input.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Iterator

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedInput,
    UnexpectedToken,
)

from compiler.fast_parse import parse_simple
from engine.expressions import FUNCTIONS, NAMESPACES, regex_problem

__all__ = [
    "ExpressionSyntaxError",
    "MAX_DEPTH",
    "MAX_EXPRESSION_LENGTH",
    "MAX_TEMPLATE_LENGTH",
    "functions_called",
    "is_template",
    "parse_expression",
    "parse_template",
    "variables_read",
]

MAX_EXPRESSION_LENGTH = 4000  # characters in one expression or one {{ }} hole
MAX_TEMPLATE_LENGTH = 65536  # characters in a whole template
MAX_DEPTH = 100  # nesting levels of the AST
_INT_LIMIT = 2**63


class ExpressionSyntaxError(ValueError):
    """An expression or template that cannot be compiled, with its 1-based position."""

    def __init__(self, message: str, line: int, column: int, hint: str | None = None) -> None:
        super().__init__(message, line, column)
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (line {self.line}, column {self.column})"

    def __repr__(self) -> str:
        return f"ExpressionSyntaxError({self.message!r}, {self.line}, {self.column})"


# ---------------------------------------------------------------------------
# Parse tree → AST
# ---------------------------------------------------------------------------

_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "n": "\n", "r": "\r", "t": "\t",
            "b": "\b", "f": "\f"}
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)")
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Located(Exception):
    """A problem found while building the AST, positioned within the parsed text."""

    def __init__(self, message: str, line: int, column: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.column, self.hint = message, line, column, hint


def _at(token: Token, message: str, hint: str | None = None) -> _Located:
    return _Located(message, token.line or 1, token.column or 1, hint)


def _decode_string(token: Token) -> str:
    body = token[1:-1]

    def unescape(m: re.Match[str]) -> str:
        code = m.group(1)
        if len(code) == 5:
            return chr(int(code[1:], 16))
        if code in _ESCAPES:
            return _ESCAPES[code]
        column = (token.column or 1) + 1 + m.start()
        raise _Located(
            f"unknown escape sequence '\\{code}' in string",
            token.line or 1,
            column,
            'known escapes: \\" \\\' \\\\ \\n \\t \\r \\uXXXX; write \\\\ for a backslash',
        )

    if "\\" not in body:
        return body
    text = _ESCAPE.sub(unescape, body)
    if _SURROGATE.search(text):  # \ud83d\ude00 pairs make one character, like JSON
        try:
            text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
        except UnicodeDecodeError:
            raise _at(token, "string has a \\u escape of half a character (lone surrogate)",
                      "write the character itself, or both halves: \\ud83d\\ude00") from None
    return text


def _check_call(name: Token, n_args: int) -> None:
    fn = FUNCTIONS.get(str(name))
    if fn is None:
        close = difflib.get_close_matches(str(name), FUNCTIONS, n=1)
        hint = f"did you mean {close[0]}()?" if close else (
            "functions: " + ", ".join(sorted(FUNCTIONS))
        )
        raise _at(name, f"unknown function '{name}'", hint)
    lo, hi = fn.min_arity, fn.max_arity
    if n_args < lo or (hi is not None and n_args > hi):
        if hi is None:
            wanted = f"at least {lo} argument{'s' if lo != 1 else ''}"
        elif lo == hi:
            wanted = f"{lo} argument{'s' if lo != 1 else ''}"
        else:
            wanted = f"{lo} to {hi} arguments"
        raise _at(name, f"{name}() takes {wanted}, got {n_args}", fn.doc.splitlines()[0] or None)


def _check_literal_regex(name: Token, args: list) -> None:
    if str(name) == "matches" and len(args) == 2 and args[1][0] == "lit":
        pattern = args[1][1]
        if isinstance(pattern, str):
            problem = regex_problem(pattern)
            if problem:
                raise _at(name, problem)


@v_args(inline=True)
class _ToAst(Transformer):
    """Builds the AST while the LALR parser reduces (no tree, no recursion)."""

    def or_(self, a: Any, b: Any) -> list:
        return ["or", a, b]

    def and_(self, a: Any, b: Any) -> list:
        return ["and", a, b]

    def not_(self, e: Any) -> list:
        return ["not", e]

    def cmp(self, a: Any, op: Token, b: Any) -> list:
        return ["cmp", str(op), a, b]

    def in_(self, a: Any, b: Any) -> list:
        return ["in", a, b]

    def not_in(self, a: Any, b: Any) -> list:
        return ["not_in", a, b]

    def arith(self, a: Any, op: Token, b: Any) -> list:
        return ["arith", str(op), a, b]

    def neg(self, minus: Token, e: Any) -> list:
        if e[0] == "lit" and type(e[1]) in (int, float):
            return ["lit", -e[1]]
        return ["neg", e]

    def filter(self, value: Any, name: Token, arguments: list | None) -> list:
        args = [value, *(arguments or [])]
        _check_call(name, len(args))
        _check_literal_regex(name, args)
        return ["call", str(name), args]

    def call(self, name: Token, arguments: list) -> list:
        _check_call(name, len(arguments))
        _check_literal_regex(name, arguments)
        return ["call", str(name), arguments]

    def arguments(self, items: list | None) -> list:
        return items or []

    def items(self, *exprs: Any) -> list:
        return list(exprs)

    def list(self, items: list | None) -> list:
        return ["list", items or []]

    def path(self, name: Token, *keys: tuple) -> list:
        if str(name) in NAMESPACES:
            return ["path", str(name), *(key for _, key in keys)]
        if keys and keys[0][0] == ".":
            rest = "".join(f".{k}" if kind == "." else f"[{k!r}]" for kind, k in keys)
            raise _at(
                name,
                f"unknown namespace '{name}'",
                f"namespaces are {', '.join(NAMESPACES)}; for a variable write vars.{name}{rest}",
            )
        return ["path", "vars", str(name), *(key for _, key in keys)]

    def name_key(self, name: Token) -> tuple:
        return (".", str(name))

    def key_name(self, name: Token) -> Token:
        return name

    def string_key(self, s: Token) -> tuple:
        return ("[", _decode_string(s))

    def index_key(self, n: Token) -> tuple:
        return ("[", self._index(n, 1))

    def negative_index_key(self, minus: Token, n: Token) -> tuple:
        return ("[", self._index(n, -1))

    @staticmethod
    def _index(n: Token, sign: int) -> int:
        if not str(n).isdigit():
            raise _at(n, f"index {n} is not a whole number")
        value = sign * int(n)
        if not -_INT_LIMIT < value < _INT_LIMIT:
            raise _at(n, "index is too large")
        return value

    def string(self, s: Token) -> list:
        return ["lit", _decode_string(s)]

    def number(self, n: Token) -> list:
        text = str(n)
        if text.isdigit():
            value: int | float = int(text)
            if value >= _INT_LIMIT:
                raise _at(n, f"number {text} is too large", "integers go up to 9223372036854775807")
            return ["lit", value]
        value = float(text)
        if value == float("inf"):
            raise _at(n, f"number {text} is too large")
        return ["lit", value]

    def true(self) -> list:
        return ["lit", True]

    def false(self) -> list:
        return ["lit", False]

    def null(self) -> list:
        return ["lit", None]


@lru_cache(maxsize=1)
def _parser() -> Lark:
    """The LALR parser, built once per process (~60 ms), on first use.

    The transformer is inlined (the AST is built while reducing, no tree).
    No ``cache=True``: lark would unpickle a file at a predictable path in the
    shared temp directory, and the saving (~55 ms once per process) is not
    worth a code-execution risk. The contextual lexer is as fast as the basic
    one here and keeps the error messages.
    """
    grammar = resources.files("compiler").joinpath("expressions.lark").read_text("utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        transformer=_ToAst(),
        maybe_placeholders=True,
    )


@lru_cache(maxsize=1)
def _terminal_text() -> dict[str, str]:
    """Terminal name → its literal text, for the anonymous ones (LPAR → "(")."""
    out = {}
    for terminal in _parser().terminals:
        pattern = terminal.pattern
        if pattern.type == "str":
            out[terminal.name] = pattern.value
    return out


# ---------------------------------------------------------------------------
# Error messages
# ---------------------------------------------------------------------------

_VALUE_TOKENS = {"NAME", "NUMBER", "STRING"}
_OPERATOR_TOKENS = {"PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "COMP_OP", "OR", "AND", "IN",
                    "NOT", "VBAR"}
_POSTFIX_TOKENS = {"DOT", "LSQB", "LPAR"}
_RESERVED = {"OR", "AND", "IN"}
_CHAR_HINTS = {
    "=": "use == to compare",
    "&": "use 'and'",
    "!": "use 'not' (or != to compare)",
    "{": "expressions do not use {{ }}: write the expression itself",
    "}": "expressions do not use {{ }}: write the expression itself",
    "$": "variables are written without $: vars.name or just name",
    "?": "there is no ?: operator; use default(x, fallback) or coalesce(a, b)",
}


def _describe_token(token: Token, end_name: str) -> str:
    if token.type == "$END":
        return end_name
    text = str(token)
    if token.type == "NAME":
        return f"name '{text}'"
    if token.type == "NUMBER":
        return f"number {text}"
    if token.type == "STRING":
        return f"string {text if len(text) <= 30 else text[:27] + '...'}"
    return f"'{text}'"


def _describe_expected(expected: set[str], end_name: str) -> str:
    names = set(expected)
    words: list[str] = []
    if names and names <= {"STRING", "NUMBER", "MINUS"}:
        return "a number or a quoted key (keys in [ ] must be literals)"
    if names == {"NAME"}:
        return "a name"
    if names & _VALUE_TOKENS:
        words.append("an expression")
        names -= _VALUE_TOKENS | {"LPAR", "LSQB", "MINUS", "NOT", "TRUE", "FALSE", "NULL",
                                  "NONE"}
        names = {n for n in names if not n.startswith("__ANON")}
    if len(names & _OPERATOR_TOKENS) >= 3:
        words.append("an operator")
        names -= _OPERATOR_TOKENS | _POSTFIX_TOKENS
    texts = _terminal_text()
    order = {"RPAR": 0, "RSQB": 1, "COMMA": 2, "$END": 9}
    for name in sorted(names, key=lambda n: (order.get(n, 5), n)):
        if name == "$END":
            words.append(end_name)
        elif name in texts:
            words.append(f"'{texts[name]}'")
        else:
            words.append(name.lower())
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _open_brackets(text: str) -> list[str]:
    """The brackets still open at the end of ``text`` (string literals skipped)."""
    stack: list[str] = []
    quote = None
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if quote is not None:
            if c == "\\":
                i += 1
            elif c == quote or c == "\n":
                quote = None
        elif c in "\"'":
            quote = c
        elif c in "([":
            stack.append(c)
        elif c in ")]" and stack:
            stack.pop()
        i += 1
    return stack


def _refine_expected(expected: set[str], before: str) -> set[str]:
    """Drop what LALR's merged lookaheads allow but this position cannot take.

    After a complete operand LALR may offer ')' ']' ',' even with no bracket
    open, and omit the end; the brackets open before the error settle it.
    """
    names = set(expected)
    stack = _open_brackets(before)
    if not stack:
        names -= {"RPAR", "RSQB", "COMMA"}
        if names & (_OPERATOR_TOKENS - {"MINUS", "NOT"}):  # an operand is complete
            names.add("$END")
    else:
        names.discard("$END")
        names.discard("RSQB" if stack[-1] == "(" else "RPAR")
    return names


def _end_position(text: str) -> tuple[int, int]:
    return _position(text, len(text))


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def _syntax_problem(exc: UnexpectedInput, text: str, end_name: str) -> _Located:
    if isinstance(exc, UnexpectedCharacters):
        char = exc.char
        if char in "\"'":
            return _Located(
                "unterminated string",
                exc.line,
                exc.column,
                f"close it with {char} on the same line (write \\n for a line break)",
            )
        shown = repr(char) if not char.isprintable() or char in " " else f"'{char}'"
        return _Located(f"unexpected character {shown}", exc.line, exc.column,
                        _CHAR_HINTS.get(char))
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        at = len(text) if token.type == "$END" else (token.start_pos or 0)
        names = _refine_expected(set(exc.expected), text[:at])
        expected = _describe_expected(names, end_name)
        if token.type == "$END":
            line, column = _end_position(text)
            return _Located(f"unexpected {end_name}; expected {expected}", line, column)
        hint = None
        if token.type == "COMP_OP" and "PLUS" in names:
            hint = "comparisons do not chain: write a < b and b < c"
        elif token.type == "NOT" and "NAME" in names:
            hint = "not applies to a whole comparison; in arithmetic put it in parentheses: a * (not b)"
        elif token.type in _RESERVED and "NAME" in names:
            hint = f"'{token}' is a reserved word; a variable of that name is vars[\"{token}\"]"
        return _Located(
            f"unexpected {_describe_token(token, end_name)}; expected {expected}",
            token.line or 1,
            token.column or 1,
            hint,
        )
    line, column = _end_position(text)
    return _Located(f"unexpected {end_name}", line, column)


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


def _ast_depth_exceeds(ast: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(ast, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        tag = node[0]
        if tag == "lit" or tag == "path":
            continue
        if tag == "list":
            children = node[1]
        elif tag == "call":
            children = node[2]
        elif tag in ("cmp", "arith"):
            children = node[2:]
        else:
            children = node[1:]
        stack.extend((child, depth + 1) for child in children)
    return False


def _parse(text: str, end_name: str) -> list:
    """Parse one expression; raises `_Located` with positions inside ``text``."""
    if not text.strip():
        line, column = _end_position(text)
        raise _Located(f"empty expression; expected an expression before {end_name}", line, column)
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise _Located(f"expression longer than {MAX_EXPRESSION_LENGTH} characters", 1, 1,
                       "split the work across several set_variable actions")
    ast = parse_simple(text)  # paths and filtered paths (most holes): the same AST without lark
    if ast is None:
        ast = _parse_with_grammar(text, end_name)
    if _ast_depth_exceeds(ast, MAX_DEPTH):
        raise _Located(f"expression nested more than {MAX_DEPTH} levels deep", 1, 1,
                       "simplify it or split it across several set_variable actions")
    return ast


def _parse_with_grammar(text: str, end_name: str) -> list:
    try:
        return _parser().parse(text)
    except _Located:
        raise
    except UnexpectedInput as exc:
        raise _syntax_problem(exc, text, end_name) from None
    except LarkError as exc:  # e.g. a callback error wrapped by lark
        inner = exc.__context__
        if isinstance(inner, _Located):
            raise inner from None
        raise _Located(f"invalid expression: {exc}", 1, 1) from None
    except RecursionError:
        raise _Located(f"expression nested more than {MAX_DEPTH} levels deep", 1, 1) from None


def _check_source(src: Any, what: str) -> None:
    if not isinstance(src, str):
        raise ExpressionSyntaxError(f"{what} must be text", 1, 1)
    bad = _SURROGATE.search(src)
    if bad:
        line, column = _position(src, bad.start())
        raise ExpressionSyntaxError("invalid character (half of a UTF-16 pair)", line, column)


def parse_expression(src: str) -> list:
    """The AST of an ⟨E⟩ field (``vars.age >= 18 and contact.city == "São Paulo"``)."""
    _check_source(src, "an expression")
    try:
        return _parse(src, "end of expression")
    except _Located as problem:
        raise ExpressionSyntaxError(problem.message, problem.line, problem.column,
                                    problem.hint) from None


def is_template(src: Any) -> bool:
    """True when a ⟨T⟩ string needs compiling (contains ``{{``); plain strings stay strings."""
    return isinstance(src, str) and "{{" in src


def _hole_end(src: str, start: int) -> tuple[int, str | None]:
    """Index of the ``}}`` closing the hole at ``start``, skipping string literals.

    Returns ``(index, None)`` or ``(-1, reason)`` when the hole never closes.
    """
    n = len(src)
    quote = None
    i = start
    while i < n:
        c = src[i]
        if quote is not None:
            if c == "\\":
                i += 2
                continue
            if c == quote or c == "\n":
                quote = None
        elif c == '"' or c == "'":
            quote = c
        elif c == "}" and src.startswith("}", i + 1):
            return i, None
        elif c == "{" and src.startswith("{", i + 1):
            return -1, "before the next '{{'"
        i += 1
    return -1, None


def _template_parts(src: str) -> Iterator[str | list]:
    pos = 0
    while True:
        start = src.find("{{", pos)
        if start < 0:
            yield src[pos:]
            return
        yield src[pos:start]
        inner_start = start + 2
        end, reason = _hole_end(src, inner_start)
        if end < 0:
            line, column = _position(src, start)
            where = f" {reason}" if reason else ""
            raise ExpressionSyntaxError(
                f"'{{{{' is not closed by '}}}}'{where}", line, column,
                "close the expression with }}, e.g. {{ contact.name }}",
            )
        inner = src[inner_start:end]
        base_line, base_column = _position(src, inner_start)
        try:
            yield _parse(inner, "'}}'")
        except _Located as problem:
            if problem.line == 1:
                line, column = base_line, base_column + problem.column - 1
            else:
                line, column = base_line + problem.line - 1, problem.column
            message = problem.message
            if not inner.strip():
                message = "empty {{ }}: put an expression inside, e.g. {{ contact.name }}"
                line, column = _position(src, start)
            raise ExpressionSyntaxError(message, line, column, problem.hint) from None
        pos = end + 2


def parse_template(src: str) -> list:
    """The AST of a ⟨T⟩ field: ``["tpl", [text | expr, ...]]`` (text parts merged, none empty)."""
    _check_source(src, "a template")
    if len(src) > MAX_TEMPLATE_LENGTH:
        raise ExpressionSyntaxError(f"template longer than {MAX_TEMPLATE_LENGTH} characters", 1, 1)
    parts: list[str | list] = []
    for part in _template_parts(src):
        if isinstance(part, str):
            if not part:
                continue
            if parts and isinstance(parts[-1], str):
                parts[-1] += part
                continue
        parts.append(part)
    return ["tpl", parts]


# ---------------------------------------------------------------------------
# Static analysis
# ---------------------------------------------------------------------------


def _walk(ast: Any) -> Iterator[list]:
    """Every AST node of an expression or template (iterative, any depth)."""
    stack = [ast]
    while stack:
        node = stack.pop()
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            continue
        yield node
        tag = node[0]
        if tag in ("lit", "path"):
            continue
        if tag in ("list", "tpl"):
            stack.extend(node[1])
        elif tag == "call":
            stack.extend(node[2])
        elif tag in ("cmp", "arith"):
            stack.extend(node[2:])
        else:
            stack.extend(node[1:])


def variables_read(ast: Any) -> set[str]:
    """Names of the flow variables (``vars.<name>``) an expression or template reads."""
    return {
        node[2]
        for node in _walk(ast)
        if node[0] == "path" and len(node) > 2 and node[1] == "vars" and isinstance(node[2], str)
    }


def functions_called(ast: Any) -> set[str]:
    """Names of the functions (filters included) an expression or template calls."""
    return {node[1] for node in _walk(ast) if node[0] == "call"}
