"""The example flows: lint-clean, compiled, and together they use every node type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler import compile_canvas
from compiler.node_types import NODE_TYPES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FLOWS = sorted(p for p in EXAMPLES.glob("*.json") if not p.name.endswith(".transcript.json"))
REQUIRED = ["pizza_order", "lead_qualification", "support_triage", "ai_faq", "appointment_booking", "nps_survey", "nps_followup"]


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_required_examples_exist() -> None:
    assert set(REQUIRED) <= {p.stem for p in FLOWS}


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.stem)
def test_example_is_lint_clean_and_compiles(path: Path) -> None:
    result = compile_canvas(load(path), known_flows={p.stem for p in FLOWS})
    assert result.diagnostics == []
    assert result.program is not None and result.program.code[0].node == "start"


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.stem)
def test_example_has_id_and_name(path: Path) -> None:
    doc = load(path)
    assert doc["id"] == path.stem and doc["name"].strip()


def test_examples_use_every_node_type() -> None:
    used = {node["type"] for path in FLOWS for node in load(path)["nodes"]}
    assert used == set(NODE_TYPES)


def test_pizza_order_uses_reply_buttons_and_lists() -> None:
    nodes = load(EXAMPLES / "pizza_order.json")["nodes"]
    questions = [n["data"] for n in nodes if n["type"] == "question" and "options" in n["data"]]
    assert any(len(q["options"]) <= 3 and q.get("options_style") != "list" for q in questions)
    assert any(q.get("options_style") == "list" or len(q["options"]) > 3 for q in questions)


def test_support_triage_ends_in_handoffs() -> None:
    program = compile_canvas(load(EXAMPLES / "support_triage.json")).program
    assert sum(ins.op.name == "HANDOFF" for ins in program.code) >= 3


def test_appointment_booking_validates_a_date() -> None:
    nodes = load(EXAMPLES / "appointment_booking.json")["nodes"]
    assert any(n["data"].get("validation") == "date" for n in nodes if n["type"] == "question")


def test_nps_survey_calls_its_follow_up_and_comes_back() -> None:
    program = compile_canvas(load(EXAMPLES / "nps_survey.json"), known_flows={"nps_followup"}).program
    call = next(ins for ins in program.code if ins.op.name == "CALL")
    assert call.arg == {"flow": "nps_followup", "return": True} and call.exit("next") is not None
