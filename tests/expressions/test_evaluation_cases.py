"""Every case of cases.json: parse with the compiler, evaluate with the engine."""

from __future__ import annotations

import pytest

from compiler.expressions import parse_expression, parse_template
from engine.expressions import FUNCTIONS, evaluate, render

from .conftest import load_table, same_value, scope_from_json

TABLE = load_table("cases.json")
CASES = TABLE["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["description"] for c in CASES])
def test_case(case):
    scope = scope_from_json(case.get("scope", {}), TABLE["scope"])
    if "template" in case:
        value = render({"$tpl": parse_template(case["template"])}, scope)
    else:
        value = evaluate(parse_expression(case["expression"]), scope)
    assert same_value(value, case["expected"]), f"{value!r} != {case['expected']!r}"


def _sources() -> str:
    return "\n".join(c.get("expression", c.get("template", "")) for c in CASES)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_has_cases(name):
    assert f"{name}(" in _sources() or f"| {name}" in _sources()


@pytest.mark.parametrize("operator", ["==", "!=", "<", "<=", ">", ">=", " in ", " not in ",
                                      " and ", " or ", "not ", "+", "-", "*", "/", "%", "|"])
def test_every_operator_has_cases(operator):
    assert operator in _sources()
