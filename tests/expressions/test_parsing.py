"""The compiler's side of the contract: source → JSON-able AST, and static analysis."""

from __future__ import annotations

import json

import pytest

from compiler.expressions import (
    functions_called,
    is_template,
    parse_expression,
    parse_template,
    variables_read,
)

from .conftest import load_table

TABLE = load_table("parse_cases.json")
EVALUATION = load_table("cases.json")["cases"]


@pytest.mark.parametrize("case", TABLE["expressions"], ids=[c["source"] for c in TABLE["expressions"]])
def test_expression_ast(case):
    assert parse_expression(case["source"]) == case["ast"]


@pytest.mark.parametrize("case", TABLE["templates"], ids=[c["source"] for c in TABLE["templates"]])
def test_template_ast(case):
    assert parse_template(case["source"]) == case["ast"]


@pytest.mark.parametrize("case", EVALUATION, ids=[c["description"] for c in EVALUATION])
def test_ast_survives_a_json_round_trip(case):
    if "template" in case:
        ast = parse_template(case["template"])
    else:
        ast = parse_expression(case["expression"])
    text = json.dumps(ast, allow_nan=False)
    assert json.loads(text) == ast


def test_keywords_are_allowed_as_keys_after_a_dot():
    assert parse_expression("message.in.not.or") == ["path", "message", "in", "not", "or"]


def test_names_that_start_with_keywords_are_names():
    assert parse_expression("order + notes + android") == [
        "arith", "+",
        ["arith", "+", ["path", "vars", "order"], ["path", "vars", "notes"]],
        ["path", "vars", "android"],
    ]


def test_whitespace_and_newlines_between_tokens_are_ignored():
    assert parse_expression("  a\n  ==\t1 ") == parse_expression("a==1")


def test_variables_read_lists_flow_variables_only():
    ast = parse_expression('age >= 18 and vars.city == contact.city or "x" in items[0]')
    assert variables_read(ast) == {"age", "city", "items"}


def test_variables_read_looks_inside_templates_and_calls():
    ast = parse_template("Olá {{ name | default(nickname) }}, {{ len(vars.cart) }} itens")
    assert variables_read(ast) == {"name", "nickname", "cart"}


def test_functions_called_includes_filters():
    ast = parse_template("{{ contact.name | default('there') | upper }} {{ round(total, 2) }}")
    assert functions_called(ast) == {"default", "upper", "round"}


def test_functions_called_is_empty_without_calls():
    assert functions_called(parse_expression("a + 1")) == set()


def test_is_template_only_for_strings_with_holes():
    assert is_template("Olá {{ name }}")
    assert not is_template("Olá")
    assert not is_template(3)
