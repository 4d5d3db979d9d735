"""Table-driven node semantics: every ``cases/*.json`` file is a list of cases.

A case: ``description``; ``code`` (the program in its readable JSON form) and
optional ``flows`` (sub-flows by ref, same form); ``scope`` (contact,
conversation, message, history, vars); optional canned ``http``/``ai``
answers; ``inputs`` after the start (``{"text"}``, ``{"reply_id"}``,
``{"timeout": true}``, ``{"roundtrip": true}`` to serialize and reload the
state); ``expect``: ``status`` of the last run, ``messages`` (every message
sent, in order, content compared as a subset), ``vars`` (subset of the
variables at the end; the last waiting state's or the last run's
``variable_set`` events), ``events`` (a subsequence over all runs, compared
as subsets), ``contact`` (subset of the contact port's record), ``handoff``
(the handoff requests), ``requests``/``ai_calls`` (what the canned HTTP
and AI clients were asked, subsets), ``state`` (subset of the final state JSON).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine import Interpreter, State, effects_of

CASES = Path(__file__).parent / "cases"


def _cases() -> list[Any]:
    params = []
    for path in sorted(CASES.glob("*.json")):
        for case in json.loads(path.read_text(encoding="utf-8")):
            params.append(pytest.param(case, id=f"{path.stem}: {case['description']}"))
    return params


@pytest.mark.parametrize("case", _cases())
async def test_case(case: dict[str, Any], kit) -> None:
    flows = {ref: kit.program(code) for ref, code in case.get("flows", {}).items()}
    main = flows["main"] = kit.program(case["code"])
    load = kit.loader(flows)
    ports = kit.make_ports(case)
    interp = Interpreter(ports, **case.get("interpreter", {}))
    scope = case.get("scope", {})
    result = await interp.start(main, "main", scope, load)
    events = list(result.events)
    variables: dict[str, Any] = dict(scope.get("vars", {}))
    for step in case.get("inputs", []):
        variables.update({e.data["name"]: e.data["value"] for e in result.events if e.type == "variable_set"})
        assert result.state is not None, f"the run is {result.status} before input {step}"
        if step.get("roundtrip"):
            result.state = State.from_json(json.loads(json.dumps(result.state.to_json())))
            continue
        if step.get("timeout"):
            ports.clock.set(result.wait_deadline) if result.wait_deadline else None
            result = await interp.on_timeout(result.state, load, scope)
        else:
            result = await interp.resume(result.state, kit.inbound(step), load, scope)
        events += result.events
    variables.update({e.data["name"]: e.data["value"] for e in result.events if e.type == "variable_set"})
    if result.state is not None:
        variables = result.state.vars

    expect = case["expect"]
    if "status" in expect:
        assert result.status == expect["status"], [e.to_json() for e in events]
    effects = effects_of(events, scope.get("contact"))
    if "messages" in expect:
        sent = [m.to_json() for m in effects.messages]
        assert kit.subset(expect["messages"], sent), sent
    if "vars" in expect:
        assert kit.subset(expect["vars"], variables), variables
    if "events" in expect:
        logged = [e.to_json() for e in events]
        assert kit.subsequence(expect["events"], logged), logged
    if "contact" in expect:
        assert kit.subset(expect["contact"], effects.snapshot()), effects.snapshot()
    if "handoff" in expect:
        asked = [{k: e.get(k) for k in ("department", "reason", "priority")} for e in events if e.type == "handoff"]
        assert asked == expect["handoff"]
    if "requests" in expect:
        assert kit.subset(expect["requests"], ports.http.requests), ports.http.requests
    if "ai_calls" in expect:
        assert kit.subset(expect["ai_calls"], ports.ai.calls), ports.ai.calls
    if "state" in expect:
        if expect["state"] is None:
            assert result.state is None
        else:
            assert result.state is not None and kit.subset(expect["state"], result.state.to_json())
