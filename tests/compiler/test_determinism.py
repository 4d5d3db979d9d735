"""Same canvas → same bytes → same hash, whatever the order of nodes, edges and keys."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler import compile_canvas

EXAMPLES = ["pizza_order", "lead_qualification", "support_triage", "ai_faq", "appointment_booking", "nps_survey", "nps_followup"]


def _reordered(value, rng: random.Random):
    """The same JSON value with every object's keys in a random order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _reordered(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_reordered(v, rng) for v in value]
    return value


@pytest.mark.parametrize("name", EXAMPLES)
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_shuffled_canvas_compiles_to_the_same_bytes(cv, name: str, seed: int) -> None:
    canvas = cv.load_example(name)
    expected = compile_canvas(canvas).program
    rng = random.Random(seed)
    shuffled = _reordered(canvas, rng)
    rng.shuffle(shuffled["nodes"])
    rng.shuffle(shuffled["edges"])
    program = compile_canvas(shuffled).program
    assert program.to_bytes() == expected.to_bytes()
    assert program.hash == expected.hash


def test_compiling_twice_gives_identical_bytes(cv) -> None:
    canvas = cv.load_example("support_triage")
    assert compile_canvas(canvas).program.to_bytes() == compile_canvas(json.loads(json.dumps(canvas))).program.to_bytes()


def test_a_changed_text_changes_the_hash(cv) -> None:
    canvas = cv.load_example("nps_followup")
    before = compile_canvas(canvas).program.hash
    for node in canvas["nodes"]:
        if node["id"] == "ask_reason":
            node["data"]["text"] = "O que houve?"
    assert compile_canvas(canvas).program.hash != before


def test_moving_a_node_on_the_canvas_does_not_change_the_program(cv) -> None:
    canvas = cv.load_example("nps_followup")
    before = compile_canvas(canvas).program.hash
    canvas["nodes"][1]["position"] = {"x": 999, "y": -5}
    canvas["viewport"]["zoom"] = 2
    assert compile_canvas(canvas).program.hash == before
