"""Rejected sources: human messages, positions over the whole source, never another exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.expressions import (
    MAX_DEPTH,
    MAX_EXPRESSION_LENGTH,
    ExpressionSyntaxError,
    parse_expression,
    parse_template,
)

from .conftest import load_table

CASES = load_table("error_cases.json")["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["description"] for c in CASES])
def test_error_case(case):
    with pytest.raises(ExpressionSyntaxError) as caught:
        if "template" in case:
            parse_template(case["template"])
        else:
            parse_expression(case["expression"])
    error = caught.value
    assert case["message"] in error.message
    assert (error.line, error.column) == (case["line"], case["column"])
    if "hint" in case:
        assert error.hint == case["hint"]


def test_error_text_names_the_position():
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression("a +")
    assert str(caught.value) == (
        "unexpected end of expression; expected an expression (line 1, column 4)"
    )


def test_error_carries_message_line_and_column_as_args():
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression("foo(1)")
    assert caught.value.args == ("unknown function 'foo'", 1, 1)


def test_ten_thousand_nested_parentheses_are_a_syntax_error():
    with pytest.raises(ExpressionSyntaxError):
        parse_expression("(" * 10_000 + "1" + ")" * 10_000)


def test_deeply_nested_lists_within_the_length_limit_are_a_syntax_error():
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression("[" * 1000 + "]" * 1000)
    assert "nested more than" in caught.value.message


def test_deeply_nested_calls_within_the_length_limit_are_a_syntax_error():
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression("abs(" * 500 + "1" + ")" * 500)
    assert "nested more than" in caught.value.message


def test_long_operator_chains_are_a_syntax_error():
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression(" + ".join(["1"] * 1000))
    assert "nested more than" in caught.value.message


def test_long_chains_of_unary_operators_are_a_syntax_error():
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression("not " * 900 + "a")
    assert "nested more than" in caught.value.message


def test_nesting_up_to_the_limit_is_accepted():
    depth = MAX_DEPTH - 1
    assert parse_expression("-" * depth + "a")[0] == "neg"


def test_expression_longer_than_the_limit_is_rejected():
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression("1" + " + 1" * MAX_EXPRESSION_LENGTH)
    assert "longer than" in caught.value.message


def test_a_template_hole_longer_than_the_limit_is_rejected():
    hole = "a" * (MAX_EXPRESSION_LENGTH + 1)
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_template("Olá {{ " + hole + " }}")
    assert "longer than" in caught.value.message


def test_non_text_source_is_a_syntax_error():
    with pytest.raises(ExpressionSyntaxError):
        parse_expression(None)  # type: ignore[arg-type]
    with pytest.raises(ExpressionSyntaxError):
        parse_template(42)  # type: ignore[arg-type]


_ALPHABET = st.sampled_from(
    list("abcxyz019 ._-+*/%()[]{}|,'\"\\\n=!<>&$@#")
    + ["vars", "contact", "message", "conversation", "not", "in", "and", "or", "true",
       "null", "len", "default", "matches", "{{", "}}", "==", "\\u00e9", "1.5e3"]
)
_SOURCE = st.one_of(st.text(max_size=200), st.lists(_ALPHABET, max_size=60).map("".join))


def _parses_or_raises_syntax_error(parse, source: str) -> None:
    try:
        ast = parse(source)
    except ExpressionSyntaxError as error:
        assert error.line >= 1 and error.column >= 1
        assert error.message
        return
    json.dumps(ast, allow_nan=False)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_SOURCE)
def test_any_text_is_an_expression_or_a_syntax_error(source):
    _parses_or_raises_syntax_error(parse_expression, source)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_SOURCE)
def test_any_text_is_a_template_or_a_syntax_error(source):
    _parses_or_raises_syntax_error(parse_template, source)


@settings(max_examples=500, deadline=None)
@given(_SOURCE)
def test_any_text_in_a_hole_is_a_template_or_a_syntax_error(source):
    _parses_or_raises_syntax_error(parse_template, "Olá\n{{ " + source + " }} fim")
