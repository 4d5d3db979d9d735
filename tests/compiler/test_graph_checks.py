"""Graph checks: each structural diagnostic, where it points, and what it does not flag."""

from __future__ import annotations

from compiler import compile_canvas, lint_canvas


def codes(diags) -> list[str]:
    return sorted(d.code for d in diags)


def only(diags, code: str):
    found = [d for d in diags if d.code == code]
    assert len(found) == 1, [(d.code, d.message) for d in diags]
    return found[0]


def test_a_flow_without_start_is_an_error(cv) -> None:
    diags = lint_canvas(cv.canvas([cv.node("m", "message", {"text": "Oi"})], []))
    assert codes(diags) == ["no-start"]
    assert diags[0].severity == "error"


def test_an_empty_canvas_has_no_start(cv) -> None:
    assert codes(lint_canvas({"nodes": [], "edges": []})) == ["no-start"]


def test_each_extra_start_is_reported(cv) -> None:
    nodes = [cv.node(s, "start") for s in ("a", "b", "c")] + [cv.node("end", "end")]
    edges = [cv.edge(s, "end") for s in ("a", "b", "c")]
    diags = lint_canvas(cv.canvas(nodes, edges))
    assert codes(diags) == ["multiple-starts", "multiple-starts"]
    assert {d.node_id for d in diags} == {"b", "c"}


def test_edge_to_a_missing_node_points_at_the_edge(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("m", "message", {"text": "Oi"})]
    edges = [cv.edge("start", "m"), cv.edge("m", "gone", edge_id="dangling")]
    d = only(lint_canvas(cv.canvas(nodes, edges)), "edge-missing-node")
    assert d.path == "/edges/1" and d.node_id == "m" and "'gone'" in d.message


def test_edge_from_a_missing_node_is_reported(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("end", "end")]
    edges = [cv.edge("start", "end"), cv.edge("ghost", "end")]
    d = only(lint_canvas(cv.canvas(nodes, edges)), "edge-missing-node")
    assert d.node_id is None and "source 'ghost'" in d.message


def test_a_dangling_edge_still_counts_as_connecting_its_handle(cv) -> None:
    nodes = [cv.node("start", "start")]
    diags = lint_canvas(cv.canvas(nodes, [cv.edge("start", "gone")]))
    assert codes(diags) == ["edge-missing-node"]


def test_unknown_handle_names_the_handles_the_node_has(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("api", "api_call", {"url": "https://x.example.com"}), cv.node("end", "end")]
    edges = [cv.edge("start", "api"), cv.edge("api", "end", "success"), cv.edge("api", "end", "failure")]
    d = only(lint_canvas(cv.canvas(nodes, edges)), "unknown-handle")
    assert d.path == "/edges/2/sourceHandle"
    assert d.hint == "handles: error, success"


def test_an_edge_without_source_handle_leaves_through_next(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("end", "end")]
    assert lint_canvas(cv.canvas(nodes, [cv.edge("start", "end", handle=None)])) == []


def test_a_condition_has_no_next_handle(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("c", "condition", {"expression": "true"}), cv.node("end", "end")]
    edges = [cv.edge("start", "c"), cv.edge("c", "end", "true"), cv.edge("c", "end", "false"), cv.edge("c", "end", None)]
    assert codes(lint_canvas(cv.canvas(nodes, edges))) == ["unknown-handle"]


def test_an_option_id_is_a_question_handle(cv) -> None:
    q = {"text": "Tamanho?", "variable": "t", "options": [{"id": "p", "title": "P"}, {"id": "g", "title": "G"}]}
    nodes = [cv.node("start", "start"), cv.node("q", "question", q), cv.node("end", "end")]
    edges = [cv.edge("start", "q"), cv.edge("q", "end", "p"), cv.edge("q", "end", "g"), cv.edge("q", "end", "invalid")]
    assert lint_canvas(cv.canvas(nodes, edges)) == []


def test_question_next_is_required_unless_every_option_has_an_edge(cv) -> None:
    q = {"text": "Tamanho?", "variable": "t", "options": [{"id": "p", "title": "P"}, {"id": "g", "title": "G"}]}
    nodes = [cv.node("start", "start"), cv.node("q", "question", q), cv.node("end", "end")]
    edges = [cv.edge("start", "q"), cv.edge("q", "end", "p")]
    d = only(lint_canvas(cv.canvas(nodes, edges)), "handle-unconnected")
    assert "'next'" in d.message and d.node_id == "q"


def test_every_handle_of_a_cases_condition_is_required(cv) -> None:
    c = {"cases": [{"id": "a", "expression": "true"}, {"id": "b", "expression": "false"}]}
    nodes = [cv.node("start", "start"), cv.node("c", "condition", c), cv.node("end", "end")]
    edges = [cv.edge("start", "c"), cv.edge("c", "end", "a")]
    diags = lint_canvas(cv.canvas(nodes, edges))
    assert sorted(d.message.split("'")[3] for d in diags if d.code == "handle-unconnected") == ["b", "default"]


def test_start_next_is_required(cv) -> None:
    assert codes(lint_canvas(cv.canvas([cv.node("start", "start")], []))) == ["handle-unconnected"]


def test_api_call_success_is_required_but_error_only_warns(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("api", "api_call", {"url": "https://x.example.com"}), cv.node("end", "end")]
    assert codes(lint_canvas(cv.canvas(nodes, [cv.edge("start", "api"), cv.edge("api", "end", "error")]))) == ["handle-unconnected"]
    d = only(lint_canvas(cv.canvas(nodes, [cv.edge("start", "api"), cv.edge("api", "end", "success")])), "silent-exit")
    assert (d.severity, d.node_id, "'error'" in d.message) == ("warning", "api", True)
    both = [cv.edge("start", "api"), cv.edge("api", "end", "success"), cv.edge("api", "end", "error")]
    assert lint_canvas(cv.canvas(nodes, both)) == []


def test_a_question_left_silent_on_invalid_or_timeout_warns(cv) -> None:
    q = {"text": "CEP?", "variable": "cep", "timeout_seconds": 600}
    nodes = [cv.node("start", "start"), cv.node("q", "question", q), cv.node("end", "end")]
    diags = lint_canvas(cv.canvas(nodes, [cv.edge("start", "q"), cv.edge("q", "end")]))
    assert sorted((d.code, d.message.split("'")[3]) for d in diags) == [("silent-exit", "invalid"), ("silent-exit", "timeout")]
    no_timeout = {"text": "CEP?", "variable": "cep"}  # without a timeout, `timeout` is never taken
    nodes[1] = cv.node("q", "question", no_timeout)
    edges = [cv.edge("start", "q"), cv.edge("q", "end"), cv.edge("q", "end", "invalid")]
    assert lint_canvas(cv.canvas(nodes, edges)) == []


def test_an_unreachable_node_is_not_also_a_silent_exit(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("end", "end"), cv.node("q", "question", {"text": "?", "variable": "x"})]
    assert codes(lint_canvas(cv.canvas(nodes, [cv.edge("start", "end")]))) == ["handle-unconnected", "unreachable-node"]


def test_a_message_without_outgoing_edge_is_a_dead_end_warning(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("m", "message", {"text": "Tchau"})]
    result = compile_canvas(cv.canvas(nodes, [cv.edge("start", "m")]))
    d = only(result.diagnostics, "dead-end")
    assert (d.severity, d.node_id, d.path) == ("warning", "m", "/nodes/1")
    assert "end" in d.hint and result.ok


def test_end_and_handoff_nodes_are_not_dead_ends(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("c", "condition", {"expression": "contact.vip"}),
             cv.node("end", "end"), cv.node("h", "handoff")]
    edges = [cv.edge("start", "c"), cv.edge("c", "end", "true"), cv.edge("c", "h", "false")]
    assert lint_canvas(cv.canvas(nodes, edges)) == []


def test_a_flow_jump_that_returns_with_nowhere_to_go_is_a_dead_end(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("j", "jump", {"flow": "checkout"})]
    assert only(lint_canvas(cv.canvas(nodes, [cv.edge("start", "j")])), "dead-end").node_id == "j"


def test_jumps_that_never_come_back_are_not_dead_ends(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("j", "jump", {"flow": "checkout", "return": False}),
             cv.node("k", "jump", {"target_node": "j"})]
    edges = [cv.edge("start", "k")]
    assert lint_canvas(cv.canvas(nodes, edges)) == []


def test_a_node_missing_a_required_handle_is_not_also_a_dead_end(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("q", "question", {"text": "?", "variable": "x"})]
    assert [d.code for d in lint_canvas(cv.canvas(nodes, [cv.edge("start", "q")]))] == ["handle-unconnected", "silent-exit"]


def test_unreachable_nodes_are_not_reported_as_dead_ends(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("end", "end"), cv.node("orphan", "message", {"text": "?"})]
    diags = lint_canvas(cv.canvas(nodes, [cv.edge("start", "end")]))
    assert [d.code for d in diags] == ["unreachable-node"]


def test_unreachable_nodes_are_warnings_and_are_not_compiled(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("end", "end"), cv.node("orphan", "message", {"text": "?"})]
    result = compile_canvas(cv.canvas(nodes, [cv.edge("start", "end")]))
    d = only(result.diagnostics, "unreachable-node")
    assert d.severity == "warning" and d.node_id == "orphan"
    assert result.ok and "orphan" not in result.program.node_offsets


def test_a_loop_without_a_question_is_an_infinite_loop(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("a", "message", {"text": "a"}), cv.node("b", "message", {"text": "b"})]
    edges = [cv.edge("start", "a"), cv.edge("a", "b"), cv.edge("b", "a")]
    d = only(lint_canvas(cv.canvas(nodes, edges)), "infinite-loop")
    assert d.severity == "error" and d.node_id == "a" and "a → b → a" in d.message


def test_a_node_looping_on_itself_is_an_infinite_loop(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("a", "action", {"action": "add_tag", "params": {"tag": "x"}})]
    edges = [cv.edge("start", "a"), cv.edge("a", "a")]
    assert codes(lint_canvas(cv.canvas(nodes, edges))) == ["infinite-loop"]


def test_a_loop_through_a_question_is_fine(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("q", "question", {"text": "?", "variable": "x"}),
             cv.node("m", "message", {"text": "de novo"})]
    edges = [cv.edge("start", "q"), cv.edge("q", "m"), cv.edge("m", "q"), cv.edge("q", "m", "invalid")]
    assert lint_canvas(cv.canvas(nodes, edges)) == []


def test_a_loop_through_a_node_jump_without_a_question_is_an_infinite_loop(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("m", "message", {"text": "oi"}), cv.node("j", "jump", {"target_node": "m"})]
    edges = [cv.edge("start", "m"), cv.edge("m", "j")]
    assert codes(lint_canvas(cv.canvas(nodes, edges))) == ["infinite-loop"]


def test_an_inner_loop_that_skips_the_question_is_still_reported(cv) -> None:
    c = {"expression": "contact.vip"}
    nodes = [cv.node("start", "start"), cv.node("q", "question", {"text": "?", "variable": "x"}),
             cv.node("c", "condition", c), cv.node("m", "message", {"text": "m"})]
    edges = [cv.edge("start", "q"), cv.edge("q", "c"), cv.edge("c", "q", "true"), cv.edge("c", "m", "false"), cv.edge("m", "c"),
             cv.edge("q", "m", "invalid")]
    assert codes(lint_canvas(cv.canvas(nodes, edges))) == ["infinite-loop"]


def test_jump_to_an_unknown_node_points_at_target_node(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("j", "jump", {"target_node": "nope"})]
    d = only(lint_canvas(cv.canvas(nodes, [cv.edge("start", "j")])), "jump-unknown-node")
    assert d.path == "/nodes/1/data/target_node"


def test_jump_to_an_unknown_flow_is_checked_only_when_flows_are_known(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("j", "jump", {"flow": "checkout"}), cv.node("end", "end")]
    canvas = cv.canvas(nodes, [cv.edge("start", "j"), cv.edge("j", "end")])
    assert lint_canvas(canvas) == []
    assert lint_canvas(canvas, known_flows={"checkout"}) == []
    d = only(lint_canvas(canvas, known_flows={"nps_survey"}), "jump-unknown-flow")
    assert d.path == "/nodes/1/data/flow" and "nps_survey" in d.hint


def test_edges_leaving_a_node_jump_are_never_taken(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("j", "jump", {"target_node": "end"}), cv.node("end", "end")]
    edges = [cv.edge("start", "j"), cv.edge("j", "end")]
    d = only(lint_canvas(cv.canvas(nodes, edges)), "edge-never-taken")
    assert d.severity == "warning"


def test_edges_leaving_a_flow_jump_without_return_are_never_taken(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("j", "jump", {"flow": "x", "return": False}), cv.node("end", "end")]
    edges = [cv.edge("start", "j"), cv.edge("j", "end")]
    assert "edge-never-taken" in codes(lint_canvas(cv.canvas(nodes, edges)))


def test_end_and_handoff_cannot_have_outgoing_edges(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("h", "handoff", {"department": "Suporte"}), cv.node("end", "end")]
    edges = [cv.edge("start", "h"), cv.edge("h", "end")]
    d = only(lint_canvas(cv.canvas(nodes, edges)), "edge-from-terminal")
    assert d.node_id == "h" and d.path == "/edges/1"


def test_two_edges_from_one_handle_are_ambiguous(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("a", "end"), cv.node("b", "end")]
    edges = [cv.edge("start", "a", edge_id="e1"), cv.edge("start", "b", edge_id="e2")]
    diags = lint_canvas(cv.canvas(nodes, edges))
    d = only(diags, "ambiguous-branch")
    assert d.path == "/edges/1" and "'e2'" in d.message


def test_duplicate_node_ids_keep_the_first_node(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("x", "end"), cv.node("x", "message", {"text": "?"})]
    result = compile_canvas(cv.canvas(nodes, [cv.edge("start", "x")]))
    d = only(result.diagnostics, "duplicate-node-id")
    assert d.path == "/nodes/2"


def test_duplicate_edge_ids_are_errors(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("end", "end")]
    edges = [cv.edge("start", "end", edge_id="e"), cv.edge("start", "end", edge_id="e")]
    assert codes(lint_canvas(cv.canvas(nodes, edges))) == ["duplicate-edge-id"]


def test_duplicate_choice_ids_point_at_the_second_one(cv) -> None:
    q = {"text": "?", "variable": "x", "options": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}, {"id": "a", "title": "C"}]}
    nodes = [cv.node("start", "start"), cv.node("q", "question", q), cv.node("end", "end")]
    d = only(lint_canvas(cv.canvas(nodes, [cv.edge("start", "q"), cv.edge("q", "end")])), "duplicate-choice-id")
    assert d.path == "/nodes/1/data/options/2/id"
