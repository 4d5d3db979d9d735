"""The engine's side: render(), runtime caps and errors, paths_read, text rendering."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.expressions import ExpressionSyntaxError, parse_expression, parse_template
from engine.expressions import (
    FUNCTIONS,
    MAX_STRING_LENGTH,
    MAX_VALUE_DEPTH,
    MAX_VALUE_ITEMS,
    EvaluationError,
    Scope,
    evaluate,
    paths_read,
    regex_problem,
    render,
    to_text,
    truthy,
)

BRT = timezone(timedelta(hours=-3))


def scope(**vars) -> Scope:
    return Scope(vars=vars, contact={"name": "Maria", "attributes": {"city": "Recife"}},
                 now=datetime(2026, 11, 25, 14, 30, tzinfo=BRT))


def test_render_turns_a_template_into_text():
    assert render({"$tpl": parse_template("Olá {{ name }}!")}, scope(name="Ana")) == "Olá Ana!"


def test_render_turns_an_expression_into_its_value():
    assert render({"$expr": parse_expression("age + 1")}, scope(age=20)) == 21


def test_render_recurses_into_objects_and_lists():
    arg = {"body": {"name": {"$tpl": parse_template("{{ contact.name }}")},
                    "tags": [{"$expr": parse_expression("upper(tag)")}, "fixo", 3]},
           "method": "POST"}
    assert render(arg, scope(tag="vip")) == {
        "body": {"name": "Maria", "tags": ["VIP", "fixo", 3]}, "method": "POST"}


def test_render_passes_plain_values_through_untouched():
    plain = {"a": [1, 2.5, None, True, "texto {{ not a template }}"]}
    assert render(plain, scope()) == plain


def test_render_treats_an_object_with_more_keys_as_data():
    value = {"$tpl": ["tpl", ["x"]], "other": 1}
    assert render(value, scope()) == {"$tpl": ["tpl", ["x"]], "other": 1}


def test_evaluate_accepts_a_template_ast():
    assert evaluate(parse_template("{{ 1 + 1 }} itens"), scope()) == "2 itens"


def test_contact_namespace_alone_is_the_contact():
    assert evaluate(parse_expression("contact"), scope())["name"] == "Maria"


def test_scope_defaults_to_empty_namespaces_and_current_utc_time():
    s = Scope()
    assert evaluate(parse_expression("vars.x"), s) is None
    assert s.now.tzinfo is not None
    assert abs(datetime.now(timezone.utc) - s.now) < timedelta(minutes=1)


def test_today_uses_the_scope_time_zone():
    late = Scope(now=datetime(2026, 11, 25, 23, 30, tzinfo=BRT))  # 02:30 UTC on the 26th
    assert evaluate(parse_expression("today()"), late) == "2026-11-25"


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (True, "true"), (False, "false"), (3, "3"), (3.0, "3"), (2.5, "2.5"),
     (-0.0, "0"), (1e20, "1e+20"), ("olá", "olá"), (["a", 1], '["a", 1]'),
     ({"k": "ç"}, '{"k": "ç"}'), (datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05")],
)
def test_to_text(value, text):
    assert to_text(value) == text


@pytest.mark.parametrize(("value", "expected"),
                         [(None, False), (0, False), ("", False), ([], False), ({}, False),
                          ("0", True), ("false", True), (1, True), ([0], True)])
def test_truthy(value, expected):
    assert truthy(value) is expected


def test_concatenation_past_the_size_cap_raises():
    big = "x" * (MAX_STRING_LENGTH // 2 + 1)
    with pytest.raises(EvaluationError):
        evaluate(parse_expression("s + s"), scope(s=big))


def test_template_output_past_the_size_cap_raises():
    big = "x" * (MAX_STRING_LENGTH // 2 + 1)
    with pytest.raises(EvaluationError):
        render({"$tpl": parse_template("{{ s }}{{ s }}")}, scope(s=big))


def test_replace_past_the_size_cap_raises():
    with pytest.raises(EvaluationError):
        evaluate(parse_expression('replace(s, "a", "aaaaaaaaaa")'), scope(s="a" * 10_000))


def test_join_past_the_size_cap_raises():
    with pytest.raises(EvaluationError):
        evaluate(parse_expression('join(items, "")'), scope(items=["abcd"] * 20_000))


def test_doubling_a_list_past_the_cap_raises():
    with pytest.raises(EvaluationError):
        evaluate(parse_expression("l + l"), scope(l=[0] * (MAX_VALUE_ITEMS // 2 + 1)))


def test_a_list_that_shares_a_value_repeatedly_stops_growing():
    expr = parse_expression("[l, l]")
    s = scope(l=[])
    with pytest.raises(EvaluationError):
        for _ in range(40):  # as a flow loop setting l = [l, l] would
            s.vars["l"] = evaluate(expr, s)
    assert len(json.dumps(s.vars["l"])) < 10 * MAX_VALUE_ITEMS


def test_a_list_nested_in_itself_by_a_loop_stops_at_the_depth_cap():
    expr = parse_expression("[l]")
    s = scope(l=[])
    with pytest.raises(EvaluationError):
        for _ in range(MAX_VALUE_DEPTH + 1):
            s.vars["l"] = evaluate(expr, s)
    json.dumps(s.vars["l"])


def test_matches_only_looks_at_the_start_of_huge_input():
    text = "a" * 20_000 + "needle"
    assert evaluate(parse_expression('matches(s, "needle")'), scope(s=text)) is False


def test_matches_refuses_a_pattern_from_data_with_nested_repetition():
    expr = parse_expression("matches(s, p)")
    assert evaluate(expr, scope(s="a" * 40 + "!", p="^(a+)+$")) is False


def test_unknown_function_in_an_ast_raises_evaluation_error():
    with pytest.raises(EvaluationError):
        evaluate(["call", "system", [["lit", "rm -rf /"]]], scope())


def test_wrong_arity_in_an_ast_raises_evaluation_error():
    with pytest.raises(EvaluationError):
        evaluate(["call", "upper", []], scope())


@pytest.mark.parametrize("ast", [["boom"], [], "text", None, ["path", "secrets", "x"],
                                 ["path", "__class__"], ["cmp", "===", ["lit", 1], ["lit", 1]],
                                 ["arith", "**", ["lit", 2], ["lit", 3]], ["list", None]])
def test_malformed_ast_raises_evaluation_error(ast):
    with pytest.raises(EvaluationError):
        evaluate(ast, scope())


def test_malformed_template_raises_evaluation_error():
    with pytest.raises(EvaluationError):
        render({"$tpl": ["tpl", [["nope"]]]}, scope())


def test_ast_deeper_than_the_stack_raises_evaluation_error():
    ast: list = ["lit", 1]
    for _ in range(5000):
        ast = ["neg", ast]
    with pytest.raises(EvaluationError):
        evaluate(ast, scope())


def test_paths_read_lists_every_path():
    ast = parse_template("{{ contact.city }} {{ vars.order.items[0] | default(fallback) }}")
    assert paths_read(ast) == {("contact", "city"), ("vars", "order", "items", 0),
                               ("vars", "fallback")}


def test_paths_read_looks_inside_compiled_arguments():
    arg = {"text": {"$tpl": parse_template("{{ a }}")},
           "cases": [{"when": {"$expr": parse_expression("b > 1 and not c")}}]}
    assert paths_read(arg) == {("vars", "a"), ("vars", "b"), ("vars", "c")}


def test_every_function_is_documented():
    for name, fn in FUNCTIONS.items():
        assert fn.doc.startswith(f"{name}("), name


def test_function_entries_unpack_as_min_max_impl():
    lo, hi, impl = FUNCTIONS["round"]
    assert (lo, hi) == (1, 2) and callable(impl)


# Scope data is JSON (no NaN or infinity), so neither is generated here.
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["18", "1.234,56", "2026-02-30", "25/12/2026", "hoje", "2026-11-25T10:00:00Z"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["k", "city", "x"]), inner, max_size=3),
    max_leaves=8,
)
_OPERANDS = ["a", "b", "c", "vars.a", "contact.city", "message.text", "a[0]", "vars.a.k", "1", "0",
             "-1", "2.5", "1e308", "9223372036854775807", '"x"', '"18"', '"1.234,56"', "null",
             "true", "[]", '[1, "2"]', '"(a+)+"', '"[a-"', '"YYYY"', '"hours"', '"months"']
_OPERATORS = ["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "and",
              "or"]


@st.composite
def _expressions(draw, depth: int = 0) -> str:
    """Random well-formed sources: every operator and function, any operands."""
    if depth > 3 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(_OPERANDS))
    kind = draw(st.integers(0, 5))
    if kind == 0:
        op = draw(st.sampled_from(_OPERATORS))
        return f"({draw(_expressions(depth + 1))} {op} {draw(_expressions(depth + 1))})"
    if kind == 1:
        return f"(not {draw(_expressions(depth + 1))})"
    if kind == 2:
        return f"-({draw(_expressions(depth + 1))})"
    if kind == 3:
        return f"[{draw(_expressions(depth + 1))}, {draw(_expressions(depth + 1))}]"
    name = draw(st.sampled_from(sorted(FUNCTIONS)))
    lo, hi, _ = FUNCTIONS[name]
    args = [draw(_expressions(depth + 1)) for _ in range(draw(st.integers(lo, lo + 2 if hi is None else hi)))]
    if kind == 4 and lo >= 1:
        return f"({args[0]} | {name}({', '.join(args[1:])}))"
    return f"{name}({', '.join(args)})"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_expressions(), _VALUES, _VALUES, _VALUES)
def test_evaluation_never_raises_on_any_data(source, a, b, c):
    try:
        ast = parse_expression(source)
    except ExpressionSyntaxError as error:  # only literal regexes the compiler refuses
        assert "regular expression" in error.message
        return
    scope = Scope(vars={"a": a, "b": b, "c": c}, contact={"attributes": {"city": c}},
                  message={"text": a}, now=datetime(2026, 1, 1, tzinfo=BRT))
    value = evaluate(ast, scope)
    json.dumps(value, allow_nan=False, default=str)


def test_very_long_digit_strings_are_not_numbers():
    digits = "9" * 100_000
    assert evaluate(parse_expression("s * 2"), scope(s=digits)) is None
    assert evaluate(parse_expression("s == 1"), scope(s=digits)) is False


def test_rendering_absurdly_nested_data_raises_evaluation_error():
    value: list = []
    for _ in range(5000):
        value = [value]
    with pytest.raises(EvaluationError):
        render(value, scope())


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(\w+\s?)+$", r"(a*)*", r"(.*a)+", r"(a|b+)+",
                                     r"(a+){2,}"])
def test_regex_with_ambiguous_nested_repetition_is_refused(pattern):
    assert "exponential time" in regex_problem(pattern)


@pytest.mark.parametrize("pattern", [r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$", r"(\d+,)*\d+",
                                     r"^(\+55)?\s?(\(?\d{2}\)?)\s?\d{4,5}-?\d{4}$",
                                     r"([a-z]+\.)+[a-z]{2,}", r"(\s*,\s*)+", r"(?>a+)+", r"\d+"])
def test_regex_whose_repetitions_cannot_overlap_is_accepted(pattern):
    assert regex_problem(pattern) is None


def test_regex_problem_reports_invalid_and_overlong_patterns():
    assert regex_problem("[a-").startswith("invalid regular expression")
    assert "longer than" in regex_problem("a" * 501)


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(list("ab.,\\wds()[]^$*+?{}|-:<>=!#") + ["(?:", "(?>", "(?P<x>",
                                                                      "(?P=x)", "++", "{2,}", "\\1"]),
                max_size=20).map("".join))
def test_regex_problem_never_raises(pattern):
    problem = regex_problem(pattern)
    assert problem is None or isinstance(problem, str)
