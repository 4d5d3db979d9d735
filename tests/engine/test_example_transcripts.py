"""Every example flow has a transcript, and `pytake run --script` passes it (CI runs these)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytake.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FLOWS = sorted(p for p in EXAMPLES.glob("*.json") if not p.name.endswith(".transcript.json"))


def test_every_example_flow_has_a_transcript():
    missing = [p.name for p in FLOWS if not p.with_name(p.stem + ".transcript.json").exists()]
    assert FLOWS and missing == []


@pytest.mark.parametrize("flow", FLOWS, ids=[p.stem for p in FLOWS])
def test_example_transcript_passes(flow: Path, capsys):
    transcript = flow.with_name(flow.stem + ".transcript.json")
    if not transcript.exists():
        pytest.fail(f"{transcript.name} is missing")
    code = main(["run", str(flow), "--script", str(transcript)])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err


def test_a_transcript_that_disagrees_exits_1_with_a_readable_diff(tmp_path, capsys):
    flow = EXAMPLES / "pizza_order.json"
    doc = json.loads((EXAMPLES / "pizza_order.transcript.json").read_text("utf-8"))
    doc["steps"][1]["bot"] = ["Escolha um sabor, por favor."]
    script = tmp_path / "wrong.transcript.json"
    script.write_text(json.dumps(doc), "utf-8")
    code = main(["run", str(flow), "--script", str(script)])
    out = capsys.readouterr().out
    assert code == 1
    assert 'step 2 (user: "margarita"): bot messages differ' in out
    assert '"Escolha um sabor, por favor."' in out and "Escolha um sabor da lista, por favor." in out


def test_a_wrong_variable_is_reported_with_expected_and_actual(tmp_path, capsys):
    flow = EXAMPLES / "pizza_order.json"
    doc = json.loads((EXAMPLES / "pizza_order.transcript.json").read_text("utf-8"))
    doc["steps"][3]["vars"] = {"tamanho": "m"}
    script = tmp_path / "wrong.transcript.json"
    script.write_text(json.dumps(doc), "utf-8")
    assert main(["run", str(flow), "--script", str(script)]) == 1
    assert "variable 'tamanho' expected \"m\", actual \"g\"" in capsys.readouterr().out


def test_a_malformed_transcript_exits_2_naming_the_problem(tmp_path, capsys):
    script = tmp_path / "bad.transcript.json"
    script.write_text(json.dumps({"steps": [{"user": "oi", "reply": "x"}]}), "utf-8")
    assert main(["run", str(EXAMPLES / "pizza_order.json"), "--script", str(script)]) == 2
    assert "step 1: needs exactly one of user, reply, timeout" in capsys.readouterr().err


def test_a_call_the_transcript_has_no_canned_answer_for_fails_the_step(tmp_path, capsys):
    doc = json.loads((EXAMPLES / "support_triage.transcript.json").read_text("utf-8"))
    doc["http"] = []
    script = tmp_path / "nohttp.transcript.json"
    script.write_text(json.dumps(doc), "utf-8")
    assert main(["run", str(EXAMPLES / "support_triage.json"), "--script", str(script)]) == 1
    assert "no canned http response for: GET https://loja.example.com/api/orders/123456" in capsys.readouterr().out


def test_trace_prints_nodes_and_variable_changes(capsys):
    code = main(["run", str(EXAMPLES / "nps_followup.json"), "--script",
                 str(EXAMPLES / "nps_followup.transcript.json"), "--trace"])
    out = capsys.readouterr().out
    assert code == 0
    assert "· ask_reason (question)" in out and '· motivo = "preco"' in out


def test_interactive_chat_numbers_pick_choices(monkeypatch, capsys):
    answers = iter(["oi", "4", "/quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    code = main(["run", str(EXAMPLES / "nps_followup.json")])
    out = capsys.readouterr().out
    assert code == 0
    assert "     4) Prazo de entrega — Demora ou atraso na entrega" in out
    assert "Quer contar um pouco mais sobre prazo de entrega?" in out


def test_a_flow_that_does_not_compile_exits_1_with_diagnostics(capsys):
    broken = sorted((EXAMPLES / "broken").glob("*.json"))
    assert broken, "examples/broken holds canvases with known problems"
    code = main(["run", str(broken[0])])
    err = capsys.readouterr().err
    assert code == 1 and "does not compile" in err and "error" in err


def test_the_example_in_the_transcript_docs_passes(tmp_path, capsys):
    docs = (EXAMPLES.parent / "docs" / "transcripts.md").read_text("utf-8")
    example = docs.split("## Example", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    script = tmp_path / "docs.transcript.json"
    script.write_text(example, "utf-8")
    assert main(["run", str(EXAMPLES / "nps_followup.json"), "--script", str(script)]) == 0, capsys.readouterr()


def test_sub_flows_are_found_in_the_flows_folder(tmp_path, capsys):
    main_dir, lib_dir = tmp_path / "main", tmp_path / "lib"
    main_dir.mkdir()
    lib_dir.mkdir()
    (main_dir / "nps_survey.json").write_text((EXAMPLES / "nps_survey.json").read_text("utf-8"), "utf-8")
    (lib_dir / "nps_followup.json").write_text((EXAMPLES / "nps_followup.json").read_text("utf-8"), "utf-8")
    transcript = str(EXAMPLES / "nps_survey.transcript.json")
    assert main(["run", str(main_dir / "nps_survey.json"), "--flows", str(lib_dir), "--script", transcript]) == 0
    capsys.readouterr()
    # without the folder the jump names an unknown flow: the flow does not compile
    assert main(["run", str(main_dir / "nps_survey.json"), "--script", transcript]) == 1


def test_true_inside_a_variable_is_not_the_number_1(tmp_path, capsys):
    flow = tmp_path / "flags.json"
    flow.write_text(json.dumps({
        "nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
                  {"id": "set", "type": "action", "position": {"x": 0, "y": 0},
                   "data": {"action": "set_variable", "params": {"variable": "flags", "expression": "[true, false]"}}},
                  {"id": "end", "type": "end", "position": {"x": 0, "y": 0}, "data": {}}],
        "edges": [{"id": "e1", "source": "start", "target": "set"}, {"id": "e2", "source": "set", "target": "end"}],
    }), "utf-8")
    script = tmp_path / "flags.transcript.json"
    script.write_text(json.dumps({"steps": [{"user": "oi", "vars": {"flags": [1, 0]}}]}), "utf-8")
    assert main(["run", str(flow), "--script", str(script)]) == 1
    assert "variable 'flags' expected [1, 0], actual [true, false]" in capsys.readouterr().out
    script.write_text(json.dumps({"steps": [{"user": "oi", "vars": {"flags": [True, False]}}]}), "utf-8")
    assert main(["run", str(flow), "--script", str(script)]) == 0


def test_a_failing_step_says_why_the_run_stopped(tmp_path, capsys):
    (tmp_path / "nps_survey.json").write_text((EXAMPLES / "nps_survey.json").read_text("utf-8"), "utf-8")
    (tmp_path / "nps_followup.json").write_text('{"nodes": [], "edges": []}', "utf-8")  # the sub-flow is broken
    script = str(EXAMPLES / "nps_survey.transcript.json")
    assert main(["run", str(tmp_path / "nps_survey.json"), "--script", script]) == 1
    out = capsys.readouterr().out
    assert 'step 3 (user: "4"): bot messages differ' in out
    assert (f'step 3 (user: "4"): the run stopped with an error: flow \'nps_followup\' exists but does not '
            f"compile: {tmp_path / 'nps_followup.json'}:-:/nodes: error no-start: the flow has no start node") in out
    assert "not found" not in out


def test_a_sub_flow_that_does_not_compile_is_not_reported_as_missing(tmp_path, capsys):
    """A designer reading the trace is told to fix the sub-flow (flow_not_compiled), not to look for it."""
    (tmp_path / "nps_survey.json").write_text((EXAMPLES / "nps_survey.json").read_text("utf-8"), "utf-8")
    followup = json.loads((EXAMPLES / "nps_followup.json").read_text("utf-8"))
    followup["edges"] = [e for e in followup["edges"] if e["source"] != "start"]  # start's `next` left open
    (tmp_path / "nps_followup.json").write_text(json.dumps(followup), "utf-8")
    script = str(EXAMPLES / "nps_survey.transcript.json")
    assert main(["run", str(tmp_path / "nps_survey.json"), "--script", script, "--trace"]) == 1
    out = capsys.readouterr().out
    assert '· error {"code": "flow_not_compiled", "message": "flow \'nps_followup\' exists but does not compile: ' in out
    assert "handle-unconnected" in out and "flow_not_found" not in out


def test_a_flows_folder_that_does_not_exist_is_bad_usage(tmp_path, capsys):
    missing = tmp_path / "flows"
    assert main(["run", str(EXAMPLES / "nps_survey.json"), "--flows", str(missing)]) == 2
    out = capsys.readouterr()
    assert out.err == f"pytake run: --flows {missing}: no such folder\n" and out.out == ""


def test_running_a_folder_says_it_is_a_folder(tmp_path, capsys):
    assert main(["run", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"pytake run: {tmp_path}: a folder, not a flow file\n"


def test_interactive_chat_passes_a_superscript_digit_to_the_flow_instead_of_crashing(monkeypatch, capsys):
    answers = iter(["oi", "²", "/quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    assert main(["run", str(EXAMPLES / "nps_followup.json")]) == 0
    out = capsys.readouterr().out
    assert "Quer contar um pouco mais sobre preço?" in out  # the question's own matching took "²" as option 2
