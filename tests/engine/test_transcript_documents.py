"""`pytake run --script` with a transcript that is not what docs/transcripts.md describes:
exit 2 naming the problem, never a traceback, never a pass that checked nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytake.cli import main

ROOT = Path(__file__).resolve().parents[2]
FLOW = ROOT / "examples" / "pizza_order.json"
CASES = json.loads((Path(__file__).with_name("malformed_transcripts.json")).read_text("utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["description"] for c in CASES])
def test_a_malformed_transcript_exits_2_naming_the_problem(case, tmp_path: Path, capsys) -> None:
    script = tmp_path / "case.transcript.json"
    script.write_text(json.dumps(case["transcript"]), "utf-8")
    assert main(["run", str(FLOW), "--script", str(script)]) == 2
    out = capsys.readouterr()
    assert out.err == f"pytake run: {script}: {case['error']}\n"
    assert out.out == ""


def test_a_transcript_nested_too_deeply_exits_2(tmp_path: Path, capsys) -> None:
    script = tmp_path / "deep.transcript.json"
    script.write_text('{"steps": ' + "[" * 5000 + "]" * 5000 + "}", "utf-8")
    assert main(["run", str(FLOW), "--script", str(script)]) == 2
    assert capsys.readouterr().err == f"pytake run: {script}: cannot read the transcript: not valid JSON: nested too deeply\n"


def test_a_transcript_that_is_not_utf8_exits_2(tmp_path: Path, capsys) -> None:
    script = tmp_path / "latin1.transcript.json"
    script.write_bytes('{"steps": [{"user": "olá"}]}'.encode("latin-1"))
    assert main(["run", str(FLOW), "--script", str(script)]) == 2
    assert "cannot read the transcript: not UTF-8 text" in capsys.readouterr().err


def test_a_flow_nested_too_deeply_is_a_diagnostic_not_a_traceback(tmp_path: Path, capsys) -> None:
    flow = tmp_path / "deep.json"
    flow.write_text('{"nodes": ' + "[" * 5000 + "]" * 5000 + "}", "utf-8")
    assert main(["run", str(flow)]) == 1
    err = capsys.readouterr().err
    assert err == (f"{flow}:-:: error invalid-json: not valid JSON: nested too deeply\n"
                   f"pytake run: {flow} does not compile\n")
