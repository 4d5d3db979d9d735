"""Lowering and layout: the code order, ops, exits and what the engine receives."""

from __future__ import annotations

import pytest

from compiler import compile_canvas
from engine.program import Op


def test_start_is_the_first_instruction_and_the_entry(cv) -> None:
    nodes = [cv.node("end", "end"), cv.node("m", "message", {"text": "oi"}), cv.node("start", "start")]
    program = compile_canvas(cv.canvas(nodes, [cv.edge("start", "m"), cv.edge("m", "end")])).program
    assert program.entry == 0 and program.code[0].node == "start"


def test_the_main_path_falls_through(cv) -> None:
    c = {"expression": "contact.vip"}
    nodes = [cv.node("start", "start"), cv.node("c", "condition", c), cv.node("yes", "message", {"text": "vip"}),
             cv.node("no", "message", {"text": "comum"}), cv.node("end", "end")]
    edges = [cv.edge("start", "c"), cv.edge("c", "yes", "true"), cv.edge("c", "no", "false"),
             cv.edge("yes", "end"), cv.edge("no", "end")]
    program = compile_canvas(cv.canvas(nodes, edges)).program
    assert [ins.node for ins in program.code] == ["start", "c", "yes", "end", "no"]
    for ins in program.code[:3]:
        assert min(t for _, t in ins.exits) == program.node_offsets[ins.node] + 1


def test_exits_name_handles_and_target_pcs(cv) -> None:
    api = {"url": "https://api.example.com"}
    nodes = [cv.node("start", "start"), cv.node("api", "api_call", api), cv.node("ok", "end"), cv.node("ko", "end")]
    edges = [cv.edge("start", "api"), cv.edge("api", "ok", "success"), cv.edge("api", "ko", "error")]
    program = compile_canvas(cv.canvas(nodes, edges)).program
    api_ins = program.code[program.node_offsets["api"]]
    assert api_ins.op is Op.API_CALL
    assert dict(api_ins.exits) == {"success": program.node_offsets["ok"], "error": program.node_offsets["ko"]}


def test_a_jump_to_a_node_is_a_jump_whose_next_is_the_target(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("q", "question", {"text": "?", "variable": "x"}),
             cv.node("j", "jump", {"target_node": "q"})]
    program = compile_canvas(cv.canvas(nodes, [cv.edge("start", "q"), cv.edge("q", "j")])).program
    jump = program.code[program.node_offsets["j"]]
    assert jump.op is Op.JUMP and jump.exit("next") == program.node_offsets["q"]


def test_a_jump_to_a_flow_is_a_call(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("j", "jump", {"flow": "nps_followup"}), cv.node("end", "end")]
    program = compile_canvas(cv.canvas(nodes, [cv.edge("start", "j"), cv.edge("j", "end")])).program
    call = program.code[program.node_offsets["j"]]
    assert call.op is Op.CALL and call.arg == {"flow": "nps_followup", "return": True}
    assert call.exit("next") == program.node_offsets["end"]


def test_a_flow_jump_without_return_has_no_exit(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("j", "jump", {"flow": "outro", "return": False})]
    program = compile_canvas(cv.canvas(nodes, [cv.edge("start", "j")])).program
    assert program.code[1].arg == {"flow": "outro", "return": False} and program.code[1].exits == ()


def test_labels_are_not_compiled(cv) -> None:
    nodes = [cv.node("start", "start", {"label": "Início"}), cv.node("end", "end", {"label": "Fim", "message": "tchau"})]
    program = compile_canvas(cv.canvas(nodes, [cv.edge("start", "end")])).program
    assert [ins.arg for ins in program.code] == [{}, {"message": "tchau"}]


def test_compiling_does_not_change_the_canvas(cv) -> None:
    import copy

    data = {"text": "Oi {{contact.name}}", "variable": "x", "options": [{"id": "a", "title": "A"}]}
    canvas = cv.canvas([cv.node("start", "start"), cv.node("q", "question", data)], [cv.edge("start", "q")])
    before = copy.deepcopy(canvas)
    compile_canvas(canvas)
    assert canvas == before


def test_a_program_round_trips_through_bytes(cv) -> None:
    from engine.program import Program

    program = compile_canvas(cv.load_example("pizza_order")).program
    assert Program.from_bytes(program.to_bytes()) == program


def test_errors_mean_no_program(cv) -> None:
    result = compile_canvas(cv.canvas([cv.node("m", "message", {"text": "oi"})], []))
    assert not result.ok and result.program is None and result.node_rows == []


def test_warnings_alone_still_compile(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("end", "end"), cv.node("orphan", "end")]
    result = compile_canvas(cv.canvas(nodes, [cv.edge("start", "end")]))
    assert result.ok and result.program is not None and len(result.diagnostics) == 1


@pytest.mark.parametrize("url", ["https://", "http:///leads", "https://:443/x", "http://api.example.com:port/"])
def test_a_literal_api_call_url_without_a_host_is_an_error_naming_the_node_and_field(cv, url) -> None:
    """The schema's pattern only asks for the scheme: these compiled, and every run took the error branch."""
    nodes = [cv.node("start", "start"), cv.node("crm", "api_call", {"url": url}), cv.node("end", "end")]
    edges = [cv.edge("start", "crm"), cv.edge("crm", "end", "success")]
    result = compile_canvas(cv.canvas(nodes, edges))
    assert result.program is None
    [d] = result.errors
    assert (d.code, d.node_id, d.path) == ("invalid-node-data", "crm", "/nodes/1/data/url")
    assert d.message.startswith(f"api_call 'crm' url: {url!r} ")


def test_an_api_call_url_built_from_a_template_is_left_to_run_time(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("crm", "api_call", {"url": "{{vars.base}}/leads"}),
             cv.node("end", "end")]
    result = compile_canvas(cv.canvas(nodes, [cv.edge("start", "crm"), cv.edge("crm", "end", "success")]))
    assert result.program is not None, result.errors


def test_a_literal_media_url_that_is_not_http_is_an_error_naming_the_node_and_field(cv) -> None:
    nodes = [cv.node("start", "start"), cv.node("menu", "message", {"media_url": "javascript:alert(1)"}),
             cv.node("end", "end")]
    result = compile_canvas(cv.canvas(nodes, [cv.edge("start", "menu"), cv.edge("menu", "end")]))
    assert result.program is None
    [d] = result.errors
    assert (d.code, d.node_id, d.path) == ("invalid-node-data", "menu", "/nodes/1/data/media_url")
    assert d.message.startswith("message 'menu' media_url: 'javascript:alert(1)' is not an absolute http:// or "
                                "https:// URL")
    assert "131009" in d.message


def test_a_long_bad_url_is_quoted_shortened_to_80_characters(cv) -> None:
    """A pasted blob stays readable in the editor's problem list: its first 77 characters and '...'."""
    url = "https://:443/" + "a" * 200  # no host
    nodes = [cv.node("start", "start"), cv.node("crm", "api_call", {"url": url}),
             cv.node("menu", "message", {"media_url": url}), cv.node("end", "end")]
    edges = [cv.edge("start", "crm"), cv.edge("crm", "menu", "success"), cv.edge("menu", "end")]
    messages = sorted(d.message for d in compile_canvas(cv.canvas(nodes, edges)).errors)
    shown = repr(url[:77] + "...")
    assert [m.split(": ", 1)[1].startswith(shown + " ") for m in messages] == [True, True], messages
    assert all(url not in m for m in messages)
