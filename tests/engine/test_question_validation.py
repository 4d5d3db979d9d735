"""Question validation rules, one case per rule, from ``cases/validation/question.json``.

Each case asks one question, answers it once and checks what was stored (or
that the answer was refused: the `invalid` branch is taken).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine import InboundMessage, Interpreter

CASES = json.loads((Path(__file__).parent / "cases" / "validation" / "question.json").read_text("utf-8"))


@pytest.mark.parametrize("case", [pytest.param(c, id=c["description"]) for c in CASES])
async def test_answer(case: dict[str, Any], kit) -> None:
    arg = {"text": "?", "variable": "answer", "max_retries": 0, **case["question"]}
    main = kit.program([
        {"op": "start", "node": "start", "arg": {}, "exits": {"next": 1}},
        {"op": "question", "node": "q", "arg": arg, "exits": {"invalid": 3, "next": 2}},
        {"op": "end", "node": "valid", "arg": {}},
        {"op": "end", "node": "invalid", "arg": {}},
    ])
    interp = Interpreter(kit.make_ports(), **case.get("interpreter", {}))
    started = await interp.start(main, "main", {})
    text = case["text_repeat"][0] * case["text_repeat"][1] if "text_repeat" in case else case.get("text")
    result = await interp.resume(started.state, InboundMessage(text=text, reply_id=case.get("reply_id")),
                                 kit.loader({"main": main}), {})
    stored = {e.data["name"]: e.data["value"] for e in result.events if e.type == "variable_set"}
    entered = [e.node for e in result.events if e.type == "node_entered"]
    if case.get("invalid"):
        assert entered == ["invalid"] and stored == {}
    else:
        assert entered == ["valid"]
        assert stored["answer"] == case["value"] and type(stored["answer"]) is type(case["value"])
        if "title" in case:
            assert stored["answer_title"] == case["title"]
