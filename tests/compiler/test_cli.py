"""`pytake lint` and `pytake compile`: output formats, exit codes, files written."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.program import Program
from pytake.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BROKEN = EXAMPLES / "broken"


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    """A folder with copies of the NPS survey and its follow-up flow."""
    for name in ("nps_survey", "nps_followup"):
        shutil.copy(EXAMPLES / f"{name}.json", tmp_path / f"{name}.json")
    return tmp_path


def test_lint_clean_files_exit_0(capsys) -> None:
    assert main(["lint", str(EXAMPLES / "pizza_order.json"), str(EXAMPLES / "ai_faq.json")]) == 0
    assert "2 files checked: 0 errors, 0 warnings" in capsys.readouterr().out


def test_lint_with_only_warnings_exits_0(capsys) -> None:
    assert main(["lint", str(BROKEN / "unreachable-node.json")]) == 0
    out = capsys.readouterr().out
    assert "unreachable-node.json:orphan: unreachable-node warning" in out


def test_lint_with_an_error_exits_1_and_prints_file_node_code_severity(capsys) -> None:
    assert main(["lint", str(BROKEN / "handle-unconnected.json")]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{BROKEN / 'handle-unconnected.json'}:is_ana: handle-unconnected error ")
    assert lines[1] == "    at /nodes/1"
    assert lines[2].startswith("    hint: ")


def test_lint_of_a_missing_file_exits_2(capsys, tmp_path: Path) -> None:
    assert main(["lint", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_pytake_without_a_command_prints_its_usage_to_stderr_and_exits_2(capsys) -> None:
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("usage: pytake COMMAND")
    assert main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: pytake COMMAND")


def test_lint_without_paths_is_bad_usage(capsys) -> None:
    assert main(["lint"]) == 2


def test_lint_with_an_unknown_option_is_bad_usage(capsys) -> None:
    assert main(["lint", "--colour", str(EXAMPLES)]) == 2


def test_lint_reports_invalid_json_as_a_diagnostic(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"nodes": [', encoding="utf-8")
    assert main(["lint", str(bad)]) == 1
    assert "invalid-json error not valid JSON" in capsys.readouterr().out


def test_lint_json_format_lists_every_diagnostic(capsys) -> None:
    assert main(["lint", "--format", "json", str(BROKEN / "duplicate-choice-id.json"), str(EXAMPLES / "pizza_order.json")]) == 1
    items = json.loads(capsys.readouterr().out)
    assert len(items) == 1
    assert {k: items[0][k] for k in ("file", "code", "severity", "node_id", "path")} == {
        "file": str(BROKEN / "duplicate-choice-id.json"), "code": "duplicate-choice-id", "severity": "error",
        "node_id": "menu", "path": "/nodes/1/data/buttons/1/id",
    }
    assert items[0]["message"]


def test_lint_json_format_of_clean_files_is_an_empty_array(capsys) -> None:
    assert main(["lint", "--format", "json", str(EXAMPLES / "nps_followup.json")]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_lint_folder_knows_the_flows_next_to_each_file(capsys, flows: Path) -> None:
    assert main(["lint", str(flows)]) == 0
    (flows / "nps_followup.json").unlink()
    assert main(["lint", str(flows)]) == 1
    assert "jump-unknown-flow" in capsys.readouterr().out


def test_a_jump_names_a_flow_by_its_file_stem_not_its_top_level_id(capsys, flows: Path) -> None:
    """`pytake run` finds a sub-flow by file stem (as the platform by the flow's name): lint says so."""
    (flows / "nps_followup.json").rename(flows / "followup_v2.json")  # its "id" is still nps_followup
    assert main(["lint", str(flows)]) == 1
    out = capsys.readouterr().out
    assert "nps_survey.json:followup: jump-unknown-flow error jump 'followup' runs flow 'nps_followup'" in out
    assert "known flows: followup_v2, nps_survey" in out
    assert main(["run", str(flows / "nps_survey.json"), "--script",
                 str(EXAMPLES / "nps_survey.transcript.json")]) == 1
    assert "jump-unknown-flow" in capsys.readouterr().err  # run refuses it for the same reason


def test_lint_and_compile_take_the_sub_flows_folder_as_run_does(capsys, tmp_path: Path) -> None:
    main_dir, lib_dir = tmp_path / "main", tmp_path / "lib"
    main_dir.mkdir()
    lib_dir.mkdir()
    shutil.copy(EXAMPLES / "nps_survey.json", main_dir / "nps_survey.json")
    shutil.copy(EXAMPLES / "nps_followup.json", lib_dir / "nps_followup.json")
    assert main(["lint", str(main_dir)]) == 1  # run without --flows would not find nps_followup either
    assert main(["lint", str(main_dir), "--flows", str(lib_dir)]) == 0
    assert main(["compile", str(main_dir / "nps_survey.json"), "--flows", str(lib_dir), "-o",
                 str(tmp_path / "out.pytk")]) == 0
    assert main(["lint", str(main_dir), "--flows", str(tmp_path / "nope")]) == 2
    assert "--flows" in capsys.readouterr().err


def _jumping(text: str, flow: str, *, ask: bool = False) -> dict:
    nodes = [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
             {"id": "say", "type": "message", "position": {"x": 0, "y": 0}, "data": {"text": text}},
             {"id": "go", "type": "jump", "position": {"x": 0, "y": 0}, "data": {"flow": flow, "return": False}}]
    edges = [{"id": "e1", "source": "start", "target": "say"}]
    if ask:
        nodes += [{"id": "ask", "type": "question", "position": {"x": 0, "y": 0},
                   "data": {"text": "Mais alguma coisa?", "variable": "more"}},
                  {"id": "bye", "type": "end", "position": {"x": 0, "y": 0}, "data": {}}]
        edges += [{"id": "e2", "source": "say", "target": "ask"}, {"id": "e3", "source": "ask", "target": "go"},
                  {"id": "e4", "source": "ask", "target": "bye", "sourceHandle": "invalid"}]
    else:
        edges.append({"id": "e2", "source": "say", "target": "go"})
    return {"nodes": nodes, "edges": edges}


def test_lint_reports_flows_that_jump_to_each_other_without_waiting(capsys, tmp_path: Path) -> None:
    """Before, lint passed them and the customer got "A", "B", "A"... 333 messages until the step budget."""
    (tmp_path / "a.json").write_text(json.dumps(_jumping("A", "b")), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps(_jumping("B", "a")), encoding="utf-8")
    (tmp_path / "menu.json").write_text(json.dumps(_jumping("Olá", "menu")), encoding="utf-8")
    assert main(["lint", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'a.json'}:go: infinite-loop error jump 'go' runs flow 'b'" in out
    assert "(go → b:start → b:say → b:go → start → say → go)" in out
    assert f"{tmp_path / 'b.json'}:go: infinite-loop error jump 'go' runs flow 'a'" in out
    assert f"{tmp_path / 'menu.json'}:go: infinite-loop error jump 'go' runs flow 'menu'" in out
    assert "3 files checked: 3 errors" in out
    assert main(["run", str(tmp_path / "menu.json")]) == 1
    assert "infinite-loop" in capsys.readouterr().err


def test_lint_accepts_flows_that_jump_to_each_other_after_a_question(capsys, tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(_jumping("A", "b")), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps(_jumping("B", "a", ask=True)), encoding="utf-8")
    assert main(["lint", str(tmp_path)]) == 0, capsys.readouterr().out


def test_lint_folder_recurses_and_skips_transcripts(capsys, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    shutil.copy(EXAMPLES / "ai_faq.json", tmp_path / "sub" / "ai_faq.json")
    (tmp_path / "sub" / "ai_faq.transcript.json").write_text('{"turns": []}', encoding="utf-8")
    assert main(["lint", str(tmp_path)]) == 0
    assert "1 file checked" in capsys.readouterr().out


def test_lint_of_a_folder_without_flows_is_bad_usage(capsys, tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    assert main(["lint", str(tmp_path / "flows")]) == 2
    assert "no flow files (*.json) in this folder" in capsys.readouterr().err


def test_lint_quotes_a_node_id_that_could_fake_a_line(capsys, tmp_path: Path) -> None:
    canvas = json.loads((EXAMPLES / "nps_survey.json").read_text(encoding="utf-8"))
    canvas["nodes"].append({"id": "x\nexamples/ok.json:start: fine", "type": "message", "position": {"x": 0, "y": 0},
                            "data": {"text": "oi"}})
    (tmp_path / "flow.json").write_text(json.dumps(canvas), encoding="utf-8")
    main(["lint", str(tmp_path / "flow.json")])
    lines = capsys.readouterr().out.splitlines()
    assert not any(line.startswith("examples/ok.json") for line in lines), lines
    assert any('flow.json:"x\\nexamples/ok.json:start: fine":' in line for line in lines), lines


def test_lint_list_codes_prints_the_catalogue(capsys) -> None:
    assert main(["lint", "--list-codes"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^infinite-loop +error +A cycle", out, re.M)
    assert re.search(r"^variable-unset +warning ", out, re.M)


def test_lint_list_codes_in_json_format(capsys) -> None:
    assert main(["lint", "--list-codes", "--format", "json"]) == 0
    codes = {item["code"]: item for item in json.loads(capsys.readouterr().out)}
    assert codes["infinite-loop"]["severity"] == "error" and codes["infinite-loop"]["description"].startswith("A cycle")
    assert codes["variable-unset"]["severity"] == "warning"


def test_compile_writes_the_program_next_to_the_file(capsys, flows: Path) -> None:
    assert main(["compile", str(flows / "nps_survey.json")]) == 0
    written = flows / "nps_survey.pytk"
    program = Program.from_bytes(written.read_bytes())
    out = capsys.readouterr().out
    assert f"{written.stat().st_size} bytes" in out and program.hash in out


def test_compile_output_option(capsys, flows: Path) -> None:
    out = flows / "out" / "x.bin"
    out.parent.mkdir()
    assert main(["compile", str(flows / "nps_followup.json"), "-o", str(out)]) == 0
    assert Program.from_bytes(out.read_bytes()).code[0].node == "start"


def test_compile_disassemble_prints_the_listing_without_writing(capsys, flows: Path) -> None:
    assert main(["compile", "--disassemble", str(flows / "nps_followup.json")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(">0  START     start")
    assert not (flows / "nps_followup.pytk").exists()


def test_compile_json_prints_the_program_json(capsys, flows: Path) -> None:
    assert main(["compile", "--json", str(flows / "nps_followup.json")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert Program.from_json(doc).code[0].node == "start"


def test_compile_can_disassemble_a_program_file(capsys, flows: Path) -> None:
    main(["compile", str(flows / "nps_followup.json")])
    capsys.readouterr()
    assert main(["compile", "--disassemble", str(flows / "nps_followup.pytk")]) == 0
    assert "START" in capsys.readouterr().out


def test_compile_with_errors_writes_nothing_and_exits_1(capsys, tmp_path: Path) -> None:
    shutil.copy(BROKEN / "infinite-loop.json", tmp_path / "loop.json")
    assert main(["compile", str(tmp_path / "loop.json")]) == 1
    assert "infinite-loop error" in capsys.readouterr().err
    assert not (tmp_path / "loop.pytk").exists()


def test_compile_of_a_missing_file_exits_2(capsys, tmp_path: Path) -> None:
    assert main(["compile", str(tmp_path / "nope.json")]) == 2


def test_lint_and_compile_do_not_load_the_web_stack_or_database(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from pytake.cli import main\n"
        f"main(['lint', {str(EXAMPLES / 'pizza_order.json')!r}])\n"
        f"main(['compile', {str(EXAMPLES / 'pizza_order.json')!r}, '-o', {str(tmp_path / 'p.pytk')!r}])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('api', 'quart', 'sqlalchemy', 'asyncpg', 'redis', 'taskiq', 'hypercorn'))\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout


def test_pytake_lint_runs_as_a_command(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytake.cli", "lint", str(BROKEN / "no-start.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "no-start error" in done.stdout


def test_transcripts_named_on_the_command_line_are_skipped(capsys, tmp_path: Path) -> None:
    transcript = tmp_path / "ai_faq.transcript.json"
    transcript.write_text('{"turns": []}', encoding="utf-8")
    shutil.copy(EXAMPLES / "ai_faq.json", tmp_path / "ai_faq.json")
    assert main(["lint", str(tmp_path / "ai_faq.json"), str(transcript)]) == 0
    assert "1 file checked" in capsys.readouterr().out


def _templates(tmp_path: Path, doc: object) -> str:
    path = tmp_path / "templates.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return str(path)


ORDER_SHIPPED = {"name": "order_shipped", "language": "pt_BR", "status": "APPROVED", "parameters": 2}


def test_lint_templates_file_checks_template_parameters(capsys, tmp_path: Path) -> None:
    templates = _templates(tmp_path, [ORDER_SHIPPED])
    assert main(["lint", "--templates", templates, str(BROKEN / "template-parameters.json")]) == 1
    assert "notify: template-parameters error message 'notify': template 'order_shipped' has 2 body parameters, 1 given" \
        in capsys.readouterr().out


@pytest.mark.parametrize("entry, error", [
    ({**ORDER_SHIPPED, "parameters": "1"}, "template #1: 'parameters' must be the number of the body's {{n}}, 0 or more (got \"1\")"),
    ({**ORDER_SHIPPED, "name": 5}, "template #1: 'name' must be a string (got 5)"),
    ({**ORDER_SHIPPED, "params": 1}, "template #1: unknown field 'params' (known: name, language, status, parameters, header, header_parameters)"),
    ({"name": "order_shipped"}, "template #1: missing 'language', 'status', 'parameters'"),
])
def test_lint_templates_file_with_a_wrong_field_is_bad_usage_naming_it(capsys, tmp_path: Path, entry, error) -> None:
    templates = _templates(tmp_path, [entry])
    assert main(["lint", "--templates", templates, str(BROKEN / "template-parameters.json")]) == 2
    out = capsys.readouterr()
    assert out.err == f"pytake lint: --templates {templates}: {error}\n" and out.out == ""


def test_lint_templates_file_nested_too_deeply_is_bad_usage(capsys, tmp_path: Path) -> None:
    templates = _templates(tmp_path, "[" * 5000 + "]" * 5000)
    assert main(["lint", "--templates", templates, str(EXAMPLES / "pizza_order.json")]) == 2
    assert capsys.readouterr().err == f"pytake lint: --templates {templates}: not valid JSON: nested too deeply\n"


def test_compile_of_a_program_file_alone_describes_it(capsys, flows: Path) -> None:
    assert main(["compile", str(flows / "nps_survey.json")]) == 0
    summary = capsys.readouterr().out
    program = flows / "nps_survey.pytk"
    before = program.stat().st_mtime_ns
    assert main(["compile", str(program)]) == 0
    assert capsys.readouterr().out == summary
    assert program.stat().st_mtime_ns == before


def test_lint_reports_a_lone_surrogate_in_a_node_id_as_not_text_instead_of_dying(capsys, tmp_path: Path) -> None:
    """JSON may escape half a UTF-16 pair ("\\ud800"); printing it used to raise UnicodeEncodeError, and
    a save of it did too. It is not text: an invalid-json error at its place."""
    flow = tmp_path / "flow.json"
    flow.write_text('{"nodes": [{"id": "\\ud800", "type": "start", "position": {"x": 0, "y": 0}, "data": {}}]}',
                    encoding="utf-8")
    assert main(["lint", str(flow)]) == 1
    assert "invalid-json error not valid text at /nodes/0/id: a string holds a lone surrogate" in capsys.readouterr().out
    assert main(["lint", "--format", "json", str(flow)]) == 1
    assert [(d["code"], d["path"]) for d in json.loads(capsys.readouterr().out)] == [("invalid-json", "/nodes/0/id")]


def test_lint_reports_a_number_with_thousands_of_digits_as_invalid_json(capsys, tmp_path: Path) -> None:
    flow = tmp_path / "flow.json"
    flow.write_text('{"nodes": [{"id": "start", "type": "start", "position": {"x": 1' + "0" * 5000 + ', "y": 0}, '
                    '"data": {}}]}', encoding="utf-8")
    assert main(["lint", str(flow)]) == 1
    assert f"{flow}: invalid-json error not valid JSON: a number has more than 4300 digits" in capsys.readouterr().out


def test_lint_reports_a_position_too_large_for_a_number_instead_of_crashing(capsys, tmp_path: Path) -> None:
    flow = tmp_path / "flow.json"
    flow.write_text('{"nodes": [{"id": "start", "type": "start", "position": {"x": 1' + "0" * 400 + ', "y": 0}, '
                    '"data": {}}]}', encoding="utf-8")
    assert main(["lint", str(flow)]) == 1
    out = capsys.readouterr().out
    assert f"{flow}:start: invalid-canvas error nodes[0].position.x: must be ≤ 1e+300" in out


def test_run_shows_a_template_message_and_what_fills_it(capsys, monkeypatch, tmp_path: Path) -> None:
    """A flow's template message printed an empty "bot>" line."""
    import io

    flow = {"nodes": [
        {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
        {"id": "visit", "type": "message", "position": {"x": 0, "y": 0}, "data": {"template": {
            "name": "nova_loja", "parameters": ["{{contact.name | default(\"cliente\")}}"],
            "header_location": {"latitude": -8.06, "longitude": -34.87, "name": "Loja Recife"}}}},
        {"id": "end", "type": "end", "position": {"x": 0, "y": 0}, "data": {}}],
        "edges": [{"id": "e1", "source": "start", "target": "visit"}, {"id": "e2", "source": "visit", "target": "end"}]}
    (tmp_path / "loja.json").write_text(json.dumps(flow), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("oi\n"))
    assert main(["run", str(tmp_path / "loja.json")]) == 0
    out = capsys.readouterr().out
    assert "bot> [template nova_loja (pt_BR)]\n     header place: -8.06, -34.87 (Loja Recife)\n     {{1}} = cliente\n" in out
