"""docs/expressions.md: every example block is run, so the reference cannot drift."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from compiler.expressions import ExpressionSyntaxError, parse_expression, parse_template
from engine.expressions import FUNCTIONS, evaluate, render

from .conftest import same_value, scope_from_json

DOC = (Path(__file__).parents[2] / "docs" / "expressions.md").read_text("utf-8")
BLOCK = re.compile(r"^```(json scope|text [a-z-]+)\n(.*?)^```", re.S | re.M)


def _blocks(kind: str) -> list[str]:
    return [body for info, body in BLOCK.findall(DOC) if info == kind]


def _lines(kind: str) -> list[tuple[str, str]]:
    out = []
    for body in _blocks(kind):
        for line in body.splitlines():
            if line.strip():
                source, _, result = line.rpartition("→")
                out.append((source.strip(), result.strip()))
    return out


SCOPE = scope_from_json(json.loads(_blocks("json scope")[0]))
EXAMPLES = _lines("text examples")
TEMPLATES = _lines("text template-examples")
ERRORS = _lines("text error-examples")
TEMPLATE_ERRORS = _lines("text template-error-examples")


def test_the_doc_has_examples_of_each_kind():
    assert len(EXAMPLES) > 50 and TEMPLATES and ERRORS and TEMPLATE_ERRORS


@pytest.mark.parametrize(("source", "result"), EXAMPLES, ids=[s for s, _ in EXAMPLES])
def test_expression_example(source, result):
    assert same_value(evaluate(parse_expression(source), SCOPE), json.loads(result))


@pytest.mark.parametrize(("source", "result"), TEMPLATES, ids=[s for s, _ in TEMPLATES])
def test_template_example(source, result):
    assert render({"$tpl": parse_template(source)}, SCOPE) == json.loads(result)


@pytest.mark.parametrize(("source", "message"), ERRORS, ids=[s for s, _ in ERRORS])
def test_error_example(source, message):
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression(source)
    assert str(caught.value) == message


@pytest.mark.parametrize(("source", "message"), TEMPLATE_ERRORS, ids=[s for s, _ in TEMPLATE_ERRORS])
def test_template_error_example(source, message):
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_template(source)
    assert str(caught.value) == message


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_is_in_the_reference(name):
    assert f"`{name}(" in DOC
