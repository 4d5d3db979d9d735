"""Conversation state: lossless JSON, small, and resuming from it gives the same outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler import compile_canvas
from engine import InboundMessage, Interpreter, State, StateFormatError, effects_of
from engine.state import Frame, Wait

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_state_round_trips_through_json_text():
    state = State("nps_followup", "ab" * 32, 2, {"nota": 4, "nome": "Lúcia", "itens": [1, {"a": None}], "ok": True},
                  [Frame("nps_survey", "cd" * 32, 7), Frame("main", "ef" * 32, None)],
                  Wait("ask_detail", "question", 1, "2026-01-15T21:00:00-03:00"))
    again = State.from_json(json.loads(json.dumps(state.to_json())))
    assert again == state


def test_a_state_without_stack_or_wait_round_trips():
    state = State("f", "00" * 32, 0)
    assert State.from_json(state.to_json()) == state


@pytest.mark.parametrize("doc", [
    {},
    {"f": "x", "h": "y"},
    {"f": "x", "h": "y", "p": -1, "v": {}},
    {"f": "x", "h": "y", "p": "3", "v": {}},
    {"f": "x", "h": "y", "p": 1, "v": []},
    {"f": "x", "h": "y", "p": 1, "v": {}, "s": [["a", "b"]]},
    {"f": "x", "h": "y", "p": 1, "v": {}, "w": ["q", "question", "2", None]},
])
def test_a_malformed_state_is_refused_with_a_clear_error(doc):
    with pytest.raises(StateFormatError, match="not a flow state"):
        State.from_json(doc)


def _library():
    flows = {}
    for path in EXAMPLES.glob("*.json"):
        if path.name.endswith(".transcript.json"):
            continue
        flows[path.stem] = json.loads(path.read_text("utf-8"))
    programs = {ref: compile_canvas(c, known_flows=set(flows)).program for ref, c in flows.items()}

    async def load(ref, program_hash):
        if ref not in programs:
            raise LookupError(ref)
        return programs[ref]

    return programs, load


async def _play(kit, answers, roundtrip: bool):
    programs, load = _library()
    interp = Interpreter(kit.make_ports())
    result = await interp.start(programs["nps_survey"], "nps_survey", {"contact": {"name": "Lúcia"}}, load)
    results = [result]
    sizes = []
    for text in answers:
        state = result.state
        encoded = json.dumps(state.to_json(), ensure_ascii=False, separators=(",", ":"))
        sizes.append(len(encoded.encode()))
        if roundtrip:
            state = State.from_json(json.loads(encoded))
        result = await interp.resume(state, InboundMessage(text=text), load, {"contact": {"name": "Lúcia"}})
        results.append(result)
    effects = effects_of([e for r in results for e in r.events], {"name": "Lúcia"})
    outcome = [m.to_json() for m in effects.messages], result.status, effects.snapshot()
    return outcome, sizes


async def test_resuming_from_serialized_state_gives_the_same_outcome(kit):
    answers = ["3", "2", "Muito caro pelo tamanho"]
    direct, _ = await _play(kit, answers, roundtrip=False)
    reloaded, _ = await _play(kit, answers, roundtrip=True)
    assert reloaded == direct
    assert direct[1] == "ended" and direct[0][-1]["content"]["text"].startswith("Obrigado pela sinceridade")


async def test_the_state_of_an_example_flow_inside_a_sub_flow_stays_under_1_kb(kit):
    _, sizes = await _play(kit, ["3", "2", "Muito caro"], roundtrip=True)
    assert max(sizes) <= 1024, sizes
