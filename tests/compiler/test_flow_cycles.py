"""Jump cycles across flows (compiler/calls.py): a flow that runs itself again, directly or
through another flow, without a question on the way would loop until the run is stopped."""

from __future__ import annotations

from compiler import compile_canvas, lint_canvas

from .conftest import canvas, edge, node


def _menu(text: str, jump: dict, *, ask: bool = False) -> dict:
    """start → message → (question →) a jump to a flow."""
    nodes = [node("start", "start"), node("say", "message", {"text": text}), node("go", "jump", jump)]
    edges = [edge("start", "say")]
    if ask:
        nodes.append(node("ask", "question", {"text": "E agora?", "variable": "answer"}))
        nodes.append(node("sorry", "end", {"message": "Não entendi."}))
        edges += [edge("say", "ask"), edge("ask", "go"), edge("ask", "sorry", "invalid")]
    else:
        edges.append(edge("say", "go"))
    return canvas(nodes, edges)


def _loops(diags) -> list:
    return [d for d in diags if d.code == "infinite-loop"]


def test_a_flow_that_jumps_to_itself_without_waiting_is_an_error_at_its_jump() -> None:
    menu = _menu("Olá!", {"flow": "menu", "return": False})
    [d] = _loops(lint_canvas(menu, flows={}, names={"menu"}))
    assert (d.severity, d.node_id, d.path) == ("error", "go", "/nodes/2")
    assert "go → start → say → go" in d.message
    assert compile_canvas(menu, flows={}, names={"menu"}).program is None


def test_two_flows_that_jump_to_each_other_without_waiting_are_an_error_naming_both_jumps() -> None:
    a = _menu("A", {"flow": "b"})
    b = _menu("B", {"flow": "a"})
    flows = {"a": a, "b": b}
    [d] = _loops(lint_canvas(a, flows=flows, names={"a"}))
    assert d.node_id == "go" and "go → b:start → b:say → b:go → start → say → go" in d.message
    [d] = _loops(lint_canvas(b, flows=flows, names={"b"}))
    assert d.node_id == "go" and "a:go" in d.message


def test_a_cycle_through_a_question_is_fine() -> None:
    """A menu that goes back to its start after asking waits for the customer every time."""
    menu = _menu("Olá!", {"flow": "menu", "return": False}, ask=True)
    assert _loops(lint_canvas(menu, flows={}, names={"menu"})) == []
    assert compile_canvas(menu, flows={}, names={"menu"}).ok
    a, b = _menu("A", {"flow": "b"}), _menu("B", {"flow": "a"}, ask=True)
    assert _loops(lint_canvas(a, flows={"a": a, "b": b}, names={"a"})) == []


def test_a_loop_back_after_a_sub_flow_that_never_waits_is_an_error() -> None:
    """start → run `tip` (which only says something and ends) → back to start: nothing waits."""
    main = canvas([node("start", "start"), node("go", "jump", {"flow": "tip"}),
                   node("again", "jump", {"target_node": "start"})],
                  [edge("start", "go"), edge("go", "again")])
    tip = canvas([node("start", "start"), node("say", "message", {"text": "Dica"}), node("end", "end")],
                 [edge("start", "say"), edge("say", "end")])
    [d] = _loops(lint_canvas(main, flows={"tip": tip}, names={"main"}))
    assert d.node_id == "go" and "go → again → start → go" in d.message
    # the same loop around a sub-flow that asks something waits each time
    tip["nodes"][1] = node("say", "question", {"text": "Dica?", "variable": "tip"})
    tip["nodes"].append(node("no", "end"))
    tip["edges"].append(edge("say", "no", "invalid"))
    assert _loops(lint_canvas(main, flows={"tip": tip}, names={"main"})) == []


def test_without_the_other_flows_a_flow_jump_may_wait_as_before() -> None:
    a = _menu("A", {"flow": "b"})
    assert _loops(lint_canvas(a, known_flows={"b"})) == []


def test_a_called_flow_that_is_not_a_canvas_is_no_cycle_and_no_crash() -> None:
    a = _menu("A", {"flow": "b"})
    for broken in (None, [], "x", {"nodes": "no"}, {"nodes": []}, {"nodes": [{"id": 1}]}):
        assert _loops(lint_canvas(a, flows={"b": broken}, names={"a"})) == [], broken


def test_a_menu_that_runs_itself_again_with_return_is_a_recursive_call_warning() -> None:
    """Each round nests one more sub-flow: the customer's 9th choice stopped the run (call_depth_exceeded)."""
    menu = _menu("Olá!", {"flow": "menu"}, ask=True)  # "return" defaults to true
    [d] = [d for d in lint_canvas(menu, flows={}, names={"menu"}) if d.code != "dead-end"]
    assert (d.code, d.severity, d.node_id) == ("recursive-call", "warning", "go")
    assert "which is this flow itself" in d.message and '"return": false' in d.hint
    a, b = _menu("A", {"flow": "b"}, ask=True), _menu("B", {"flow": "a", "return": False})
    [d] = [d for d in lint_canvas(a, flows={"a": a, "b": b}, names={"a"}) if d.code != "dead-end"]
    assert d.code == "recursive-call" and "(this flow → b → this flow)" in d.message
    # going back without return replaces the flow: nothing nests
    assert lint_canvas(_menu("Olá!", {"flow": "menu", "return": False}, ask=True), flows={}, names={"menu"}) == []
