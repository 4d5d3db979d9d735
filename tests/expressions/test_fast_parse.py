"""The parse fast path (compiler/fast_parse.py) gives exactly what the grammar gives.

Compared type-strictly (1 is not 1.0 is not True) against the lark parser on
generated simple and near-simple sources, on every source of the case tables
and on every template and expression of the example flows; errors included
(message, position and hint), since the fast path must hand every source it
is not sure about to the grammar.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compiler.expressions as expressions
from compiler.expressions import ExpressionSyntaxError, parse_expression, parse_template
from compiler.fast_parse import parse_simple
from engine.expressions import FUNCTIONS

from .conftest import load_table

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@contextmanager
def _grammar_only() -> Iterator[None]:
    """Parse with lark alone (the fast path switched off)."""
    saved = expressions.parse_simple
    expressions.parse_simple = lambda text: None
    try:
        yield
    finally:
        expressions.parse_simple = saved


def _strict(value: Any) -> Any:
    """A comparable form that keeps JSON types apart (True != 1 != 1.0, str subclasses)."""
    if type(value) is list:
        return ["list", [_strict(v) for v in value]]
    return [type(value).__name__, value]


def _outcome(parse: Callable[[str], Any], source: str) -> Any:
    try:
        return ["ast", _strict(parse(source))]
    except ExpressionSyntaxError as error:
        return ["error", error.message, error.line, error.column, error.hint]


def _same_with_and_without_fast_path(parse: Callable[[str], Any], source: str) -> None:
    fast = _outcome(parse, source)
    with _grammar_only():
        full = _outcome(parse, source)
    assert fast == full


def _fast_agrees_with_grammar(source: str) -> Any:
    """When the fast path answers, the grammar accepts the source with the very same AST."""
    ast = parse_simple(source)
    if ast is not None:
        with _grammar_only():
            assert _strict(parse_expression(source)) == _strict(ast)
    return ast


# -- generated sources --------------------------------------------------------

_SPACE = st.just("") | st.sampled_from([" ", "  ", "\t", "\n", "\r\n", "\f", "\v", "\u00a0"])
_NAMES = st.sampled_from([
    "vars", "contact", "conversation", "message", "name", "total", "v1", "_x", "x_1", "a",
    "or", "and", "not", "in", "true", "True", "false", "False", "null", "None",
    "notes", "order", "android", "in_", "nothing", "inç", "São", "1a", "",
])
# Mostly functions that take the arguments drawn (coalesce takes any number), some not.
_FUNCTIONS = st.sampled_from(["default", "coalesce", "coalesce", "upper"]) | st.sampled_from(
    sorted(FUNCTIONS) + ["nope", "Default", "not", "true"])
_EASY_LITERALS = st.sampled_from([
    '"cliente"', "'cliente'", '""', "''", '"a,b)"', "'|'", '"olá ☃"', '"}}"', "0", "7", "007",
    "2.5", "1.0", "9223372036854775807", "true", "False", "None", "null", "contact.name", "nickname",
])
_TRICKY_LITERALS = st.sampled_from([
    '"x\\"y"', '"tab\\t"', "'\\u00e9'", '"\\q"', '"line\nbreak"', '"unterminated', "'mixed\"",
    "1.", ".5", "1e5", "1E-3", "-1", "- 2", "1.5.2", "2x", "9223372036854775808", "1" * 400 + ".0",
    "nul", "True.x", "not", "foo.bar", "contact .name", "len(x)", "[1]", "(1)", "a + 1", "",
])
_LITERALS = _EASY_LITERALS | _TRICKY_LITERALS


@st.composite
def _path_sources(draw: st.DrawFn) -> str:
    keys = draw(st.lists(_NAMES, min_size=1, max_size=4))
    dots = [draw(st.sampled_from([".", ".", ".", " .", ". ", "[0]", "..", "|"])) for _ in keys[1:]]
    out = keys[0]
    for dot, key in zip(dots, keys[1:]):
        out += dot + key
    return out


def _mostly(clean: str, *noisy: str) -> st.SearchStrategy[str]:
    """`clean` half of the time, else one of the near misses."""
    return st.just(clean) | st.sampled_from(noisy)


@st.composite
def _filter_sources(draw: st.DrawFn) -> str:
    """A path with filters, each part usually well-formed and sometimes slightly wrong."""
    head = draw(st.sampled_from(["contact.name", "vars.total", "name"]) | _path_sources())
    out = draw(_SPACE) + head
    for _ in range(draw(st.integers(0, 3))):
        out += draw(_SPACE) + draw(_mostly("|", "||", "!", "or")) + draw(_SPACE)
        out += draw(_FUNCTIONS)
        form = draw(st.integers(0, 4))
        if form == 1:
            out += draw(_SPACE) + "()"
        elif form >= 2:
            args = draw(st.lists(_LITERALS, min_size=1, max_size=3))
            sep = draw(_mostly(", ", ",", " , ", ",\n", ";", " "))
            trail = draw(_mostly("", ",", " ", "\v"))
            close = draw(_mostly(")", "", "))", ") x", "]"))
            out += draw(_SPACE) + "(" + draw(_SPACE) + sep.join(args) + trail + close
    return out + draw(_SPACE)


_SIMPLE_KEYS = st.sampled_from(["name", "total", "v1", "_x", "in", "not", "True", "null", "tags"])
_SIMPLE_ARGS = st.sampled_from(['"cliente"', "'cliente'", '""', "0", "12", "2.5", "true", "None",
                                "nickname", "contact.name", "vars.n"])


@st.composite
def _simple_tokens(draw: st.DrawFn, arguments: st.SearchStrategy[str] = _SIMPLE_ARGS) -> list[str]:
    """The tokens of a source the fast path must answer itself: a path, maybe filters.

    (With other `arguments`, the arguments may be ones it must leave to the grammar.)
    """
    head = draw(st.sampled_from(["vars", "contact", "conversation", "message"]))
    tokens = [head]
    for key in draw(st.lists(_SIMPLE_KEYS, max_size=3)):
        tokens += [".", key]
    if draw(st.booleans()):
        tokens = [draw(st.sampled_from(["name", "total", "v1", "a_b"]))]
    space = draw(st.sampled_from(["", " ", "  ", "\n", "\t"]))
    for _ in range(draw(st.integers(0, 2))):
        function = draw(st.sampled_from(["default", "upper", "lower", "trim", "coalesce", "len"]))
        lo, hi = FUNCTIONS[function].min_arity, FUNCTIONS[function].max_arity
        n = draw(st.integers(max(lo - 1, 0), (lo + 1 if hi is None else hi) - 1))
        args = [draw(arguments) for _ in range(n)]
        tokens += [space, "|", space, function]
        if args or draw(st.booleans()):
            tokens.append("(")
            for i, arg in enumerate(args):
                tokens += [", "] * (i > 0) + [arg]
            tokens.append(")")
    return [space, *tokens, space]


_simple_sources = _simple_tokens().map("".join)


@st.composite
def _near_simple_sources(draw: st.DrawFn) -> str:
    """A simple source with odd arguments, or one or two tokens replaced, inserted or deleted."""
    if draw(st.booleans()):
        return "".join(draw(_simple_tokens(_SIMPLE_ARGS | _TRICKY_LITERALS)))
    tokens = draw(_simple_tokens())
    replacement = _LITERALS | _NAMES | _SPACE | st.sampled_from(
        [".", "..", "|", "||", "(", ")", ",", "[0]", "+", "-", "==", "not", "in", "matches", "'(a+)+$'"])
    for _ in range(draw(st.integers(1, 2))):
        i = draw(st.integers(0, len(tokens)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        if action == "insert" or i == len(tokens):
            tokens.insert(i, draw(replacement))
        elif action == "replace":
            tokens[i] = draw(replacement)
        else:
            del tokens[i]
    return "".join(tokens)


_SETTINGS = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(_near_simple_sources())
def test_fast_path_agrees_with_the_grammar_on_near_simple_expressions(source):
    _fast_agrees_with_grammar(source)
    _same_with_and_without_fast_path(parse_expression, source)


@_SETTINGS
@given(_filter_sources())
def test_fast_path_agrees_with_the_grammar_on_noisy_filtered_paths(source):
    _fast_agrees_with_grammar(source)
    _same_with_and_without_fast_path(parse_expression, source)


@_SETTINGS
@given(_simple_sources)
def test_fast_path_answers_simple_expressions_itself_with_the_grammars_ast(source):
    assert _fast_agrees_with_grammar(source) is not None


@_SETTINGS
@given(st.lists(st.one_of(st.sampled_from(["Olá ", "!", "\n", "{", "}", "{{", "}}", "{{ }}"]),
                          (_near_simple_sources() | _filter_sources()).map(lambda s: "{{" + s + "}}")),
                max_size=4).map("".join))
def test_templates_parse_the_same_with_and_without_the_fast_path(source):
    _same_with_and_without_fast_path(parse_template, source)


# -- known sources ------------------------------------------------------------


def _table_sources() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    parse_cases = load_table("parse_cases.json")
    out += [("expression", c["source"]) for c in parse_cases["expressions"]]
    out += [("template", c["source"]) for c in parse_cases["templates"]]
    for name in ("cases.json", "error_cases.json"):
        for case in load_table(name)["cases"]:
            for kind in ("expression", "template"):
                if kind in case:
                    out.append((kind, case[kind]))
    return out


def _strings(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            yield item


_TABLE = _table_sources()
_EXAMPLE_FILES = sorted(p for p in EXAMPLES.glob("*.json") if not p.name.endswith(".transcript.json"))


@pytest.mark.parametrize("kind,source", _TABLE, ids=[f"{k}:{s[:40]}" for k, s in _TABLE])
def test_table_sources_parse_the_same_with_and_without_the_fast_path(kind, source):
    _same_with_and_without_fast_path(parse_template if kind == "template" else parse_expression, source)


@pytest.mark.parametrize("path", _EXAMPLE_FILES, ids=[p.stem for p in _EXAMPLE_FILES])
def test_example_flow_strings_parse_the_same_with_and_without_the_fast_path(path):
    """Every string of the flow, read both as a template and as an expression."""
    for source in sorted(set(_strings(json.loads(path.read_text("utf-8"))))):
        _same_with_and_without_fast_path(parse_template, source)
        _same_with_and_without_fast_path(parse_expression, source)


def test_fast_path_answers_the_common_template_holes():
    assert parse_simple(" contact.name | default(\"cliente\") ") == [
        "call", "default", [["path", "contact", "name"], ["lit", "cliente"]]]
    assert parse_simple("vars.total") == ["path", "vars", "total"]
    assert parse_simple("name") == ["path", "vars", "name"]


@pytest.mark.parametrize("source", [
    "foo.bar",  # unknown namespace: the grammar words the error
    "name | nope",  # unknown function
    "name | default",  # too few arguments
    "text | matches('(a+)+$')",  # the regex screen runs in the grammar's path
    "not name",
    "a + 1",
    'name | default("a\\"b")',  # escapes are decoded by the grammar
    'name | default("tab\\t")',
    "name | default('\\u00e9')",
    "name | default(9223372036854775808)",  # too large: the grammar's error
    "name | default(" + "1" * 400 + ".0)",  # infinite as a float
    "name | default(1e5)",
    "name | default(-1)",
    "name | default('x',)",
])
def test_fast_path_leaves_everything_else_to_the_grammar(source):
    assert parse_simple(source) is None
