"""The dataflow check: a variable read where some path from the start has not set it."""

from __future__ import annotations

from compiler import lint_canvas as lint_with_dead_ends


def lint_canvas(canvas, **kwargs):
    """The diagnostics but dead ends and silent exits: these small flows stop on their last
    message, and leave error paths open, on purpose."""
    return [d for d in lint_with_dead_ends(canvas, **kwargs) if d.code not in ("dead-end", "silent-exit")]


def unset(diags) -> list[tuple[str, str]]:
    return sorted((d.node_id, d.message.split("`")[1]) for d in diags if d.code == "variable-unset")


def ask(var: str) -> dict:
    return {"text": "?", "variable": var}


def say(text: str) -> dict:
    return {"text": text}


def test_a_variable_set_before_the_read_is_fine(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("q", "question", ask("nome")), cv.node("m", "message", say("Oi {{nome}}"))]
    assert lint_canvas(cv.canvas(nodes, [cv.edge("start", "q"), cv.edge("q", "m")])) == []


def test_a_variable_set_on_one_branch_only_warns_with_the_field_pointer(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("c", "condition", {"expression": "contact.vip"}),
             cv.node("set", "action", {"action": "set_variable", "params": {"variable": "desconto", "expression": "10"}}),
             cv.node("m", "message", say("Desconto: {{desconto}}%"))]
    edges = [cv.edge("start", "c"), cv.edge("c", "set", "true"), cv.edge("c", "m", "false"), cv.edge("set", "m")]
    diags = lint_canvas(cv.canvas(nodes, edges))
    assert unset(diags) == [("m", "vars.desconto")]
    assert diags[0].path == "/nodes/3/data/text" and diags[0].severity == "warning"


def test_a_variable_set_on_every_branch_is_fine(cv) -> None:
    def setter(value: str) -> dict:
        return {"action": "set_variable", "params": {"variable": "preco", "expression": value}}

    nodes = [cv.node("start", "start"), cv.node("c", "condition", {"expression": "contact.vip"}),
             cv.node("a", "action", setter("10")), cv.node("b", "action", setter("20")), cv.node("m", "message", say("{{preco}}"))]
    edges = [cv.edge("start", "c"), cv.edge("c", "a", "true"), cv.edge("c", "b", "false"), cv.edge("a", "m"), cv.edge("b", "m")]
    assert lint_canvas(cv.canvas(nodes, edges)) == []


def test_a_question_sets_nothing_on_its_invalid_path(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("q", "question", ask("email")), cv.node("m", "message", say("{{email}}"))]
    edges = [cv.edge("start", "q"), cv.edge("q", "m"), cv.edge("q", "m", "invalid")]
    assert unset(lint_canvas(cv.canvas(nodes, edges))) == [("m", "vars.email")]


def test_an_option_question_also_sets_the_title_variable(cv) -> None:
    q = {"text": "?", "variable": "t", "options": [{"id": "p", "title": "P"}]}
    nodes = [cv.node("start", "start"), cv.node("q", "question", q), cv.node("m", "message", say("{{t}} {{t_title}}"))]
    assert lint_canvas(cv.canvas(nodes, [cv.edge("start", "q"), cv.edge("q", "m")])) == []


def test_api_call_mapping_is_set_on_success_but_only_the_status_on_error(cv) -> None:
    api = {"url": "https://api.example.com", "response_mapping": {"lead_id": "data.id"}}
    nodes = [cv.node("start", "start"), cv.node("api", "api_call", api),
             cv.node("ok", "message", say("{{lead_id}} {{api_status}}")), cv.node("bad", "message", say("{{lead_id}} {{api_status}}"))]
    edges = [cv.edge("start", "api"), cv.edge("api", "ok", "success"), cv.edge("api", "bad", "error")]
    assert unset(lint_canvas(cv.canvas(nodes, edges))) == [("bad", "vars.lead_id")]


def test_ai_prompt_sets_its_variable_on_success(cv) -> None:
    ai = {"provider": "openai", "model": "gpt-4o-mini"}
    nodes = [cv.node("start", "start"), cv.node("ai", "ai_prompt", ai), cv.node("m", "message", say("{{ai_response}}"))]
    assert lint_canvas(cv.canvas(nodes, [cv.edge("start", "ai"), cv.edge("ai", "m", "success")])) == []


def test_other_namespaces_are_always_available(cv) -> None:
    nodes = [cv.node("start", "start"),
             cv.node("m", "message", say("{{contact.name}} {{conversation.id}} {{message.text}}"))]
    assert lint_canvas(cv.canvas(nodes, [cv.edge("start", "m")])) == []


def test_reading_through_default_or_coalesce_does_not_warn(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("m", "message", say("{{nome | default(\"cliente\")}} {{coalesce(apelido, contact.name)}}"))]
    assert lint_canvas(cv.canvas(nodes, [cv.edge("start", "m")])) == []


def test_a_loop_back_edge_does_not_hide_a_missing_first_set(cv) -> None:
    # start → m (reads x) → q (sets x) → m: the first visit of m has no x.
    nodes = [cv.node("start", "start"), cv.node("m", "message", say("{{x}}")), cv.node("q", "question", ask("x"))]
    edges = [cv.edge("start", "m"), cv.edge("m", "q"), cv.edge("q", "m")]
    assert unset(lint_canvas(cv.canvas(nodes, edges))) == [("m", "vars.x")]


def test_a_variable_set_before_a_loop_stays_set_inside_it(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("q1", "question", ask("nome")),
             cv.node("q2", "question", ask("outra")), cv.node("m", "message", say("{{nome}} {{outra}}"))]
    edges = [cv.edge("start", "q1"), cv.edge("q1", "q2"), cv.edge("q2", "m"), cv.edge("m", "q2")]
    assert lint_canvas(cv.canvas(nodes, edges)) == []


def test_condition_simple_form_reads_its_variable(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("c", "condition", {"variable": "idade", "operator": ">=", "value": 18}),
             cv.node("end", "end")]
    edges = [cv.edge("start", "c"), cv.edge("c", "end", "true"), cv.edge("c", "end", "false")]
    diags = lint_canvas(cv.canvas(nodes, edges))
    assert unset(diags) == [("c", "vars.idade")] and diags[0].path == "/nodes/1/data/variable"


def test_a_node_jump_carries_variables_to_its_target(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("q", "question", ask("x")), cv.node("j", "jump", {"target_node": "m"}),
             cv.node("m", "message", say("{{x}}"))]
    edges = [cv.edge("start", "q"), cv.edge("q", "j")]
    assert lint_canvas(cv.canvas(nodes, edges)) == []
