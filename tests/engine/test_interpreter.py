"""Interpreter behaviours around waiting, resuming and program versions."""

from __future__ import annotations

import datetime as dt

from engine import FlowNotCompiled, InboundMessage, Interpreter, Program, State
from engine.adapters.clock import FixedClock

QUESTION_WITH_TIMEOUT = [
    {"op": "start", "node": "start", "arg": {}, "exits": {"next": 1}},
    {"op": "question", "node": "q", "arg": {"text": "Ainda aí?", "variable": "x", "timeout_seconds": 600},
     "exits": {"next": 2, "timeout": 3}},
    {"op": "end", "node": "ok", "arg": {"message": "respondeu"}},
    {"op": "end", "node": "late", "arg": {"message": "tempo esgotado"}},
]


async def test_a_timeout_before_the_deadline_changes_nothing(kit):
    clock = FixedClock("2026-01-15T12:00:00+00:00")
    ports = kit.make_ports(clock=clock)
    interp = Interpreter(ports)
    main = kit.program(QUESTION_WITH_TIMEOUT)
    started = await interp.start(main, "main", {})
    assert started.wait_deadline == dt.datetime(2026, 1, 15, 12, 10, tzinfo=dt.timezone.utc)
    clock.advance(599)
    early = await interp.on_timeout(started.state, kit.loader({"main": main}), {})
    assert early.status == "waiting" and early.events == [] and early.state == started.state
    assert [m.body for m in kit.sent(started, early)] == ["Ainda aí?"]


async def test_a_timeout_after_the_deadline_takes_the_timeout_branch(kit):
    clock = FixedClock("2026-01-15T12:00:00+00:00")
    ports = kit.make_ports(clock=clock)
    interp = Interpreter(ports)
    main = kit.program(QUESTION_WITH_TIMEOUT)
    started = await interp.start(main, "main", {})
    clock.advance(600)
    late = await interp.on_timeout(started.state, kit.loader({"main": main}), {})
    assert late.status == "ended" and [m.body for m in kit.sent(started, late)] == ["Ainda aí?", "tempo esgotado"]


async def test_an_answer_after_a_retry_gets_a_fresh_deadline(kit):
    clock = FixedClock("2026-01-15T12:00:00+00:00")
    ports = kit.make_ports(clock=clock)
    interp = Interpreter(ports)
    code = [dict(i) for i in QUESTION_WITH_TIMEOUT]
    code[1] = {**code[1], "arg": {**code[1]["arg"], "validation": "number"}}
    main = kit.program(code)
    started = await interp.start(main, "main", {})
    clock.advance(300)
    retried = await interp.resume(started.state, InboundMessage(text="abc"), kit.loader({"main": main}), {})
    assert retried.wait_deadline == dt.datetime(2026, 1, 15, 12, 15, tzinfo=dt.timezone.utc)


async def test_a_conversation_stays_on_the_program_version_it_started_with(kit):
    v1 = kit.program(QUESTION_WITH_TIMEOUT)
    v2_code = [dict(i) for i in QUESTION_WITH_TIMEOUT]
    v2_code[2] = {**v2_code[2], "arg": {"message": "versão 2"}}
    v2 = kit.program(v2_code)
    requested = []

    async def load(ref, program_hash):
        requested.append(program_hash)
        return {v1.hash: v1, v2.hash: v2}[program_hash] if program_hash else v2

    ports = kit.make_ports()
    interp = Interpreter(ports)
    started = await interp.start(v1, "main", {})
    done = await interp.resume(started.state, InboundMessage(text="sim"), load, {})
    assert requested == [v1.hash]
    assert [m.body for m in kit.sent(started, done)][-1] == "respondeu"
    assert done.status == "ended"


async def test_resuming_when_the_version_is_gone_is_an_error_not_a_crash(kit):
    main = kit.program(QUESTION_WITH_TIMEOUT)
    interp = Interpreter(kit.make_ports())
    started = await interp.start(main, "main", {})
    result = await interp.resume(started.state, InboundMessage(text="sim"), kit.loader({}), {})
    assert result.status == "error" and result.state is None
    assert [e.get("code") for e in result.events if e.type == "error"] == ["flow_not_found"]


async def test_a_loader_returning_another_version_is_refused(kit):
    main = kit.program(QUESTION_WITH_TIMEOUT)
    other = kit.program(QUESTION_WITH_TIMEOUT[:2] + [{"op": "end", "node": "ok", "arg": {}},
                                                     {"op": "end", "node": "late", "arg": {}}])
    interp = Interpreter(kit.make_ports())
    started = await interp.start(main, "main", {})

    async def load(ref, program_hash):
        return other

    result = await interp.resume(started.state, InboundMessage(text="sim"), load, {})
    assert [e.get("code") for e in result.events if e.type == "error"] == ["program_mismatch"]


async def test_a_state_pointing_at_a_node_that_is_not_its_question_is_refused(kit):
    main = kit.program(QUESTION_WITH_TIMEOUT)
    interp = Interpreter(kit.make_ports())
    started = await interp.start(main, "main", {})
    doc = started.state.to_json()
    doc["p"] = 2
    result = await interp.resume(State.from_json(doc), InboundMessage(text="x"), kit.loader({"main": main}), {})
    assert result.status == "error" and [e.get("code") for e in result.events if e.type == "error"] == ["bad_state"]


async def test_a_state_that_is_not_waiting_cannot_be_resumed(kit):
    main = kit.program(QUESTION_WITH_TIMEOUT)
    interp = Interpreter(kit.make_ports())
    state = State("main", main.hash, 1, {})
    result = await interp.resume(state, InboundMessage(text="x"), kit.loader({"main": main}), {})
    assert [e.get("code") for e in result.events if e.type == "error"] == ["not_waiting"]


async def test_a_program_loaded_from_bytes_runs_like_the_original(kit):
    main = kit.program(QUESTION_WITH_TIMEOUT)
    copy = Program.from_bytes(main.to_bytes())
    original = await Interpreter(kit.make_ports()).start(main, "main", {})
    result = await Interpreter(kit.make_ports()).start(copy, "main", {})
    assert kit.sent(original) == kit.sent(result) and result.state.program_hash == main.hash


async def test_the_callers_scope_data_is_not_modified(kit):
    main = kit.program([
        {"op": "start", "node": "start", "arg": {}, "exits": {"next": 1}},
        {"op": "action", "node": "t", "arg": {"action": "add_tag", "params": {"tag": "novo"}}},
    ])
    scope = {"contact": {"tags": ["antigo"]}, "vars": {"a": 1}}
    await Interpreter(kit.make_ports()).start(main, "main", scope)
    assert scope == {"contact": {"tags": ["antigo"]}, "vars": {"a": 1}}


async def test_a_sub_flow_that_exists_but_does_not_compile_is_not_reported_as_not_found(kit):
    main = kit.program([
        {"op": "start", "node": "start", "arg": {}, "exits": {"next": 1}},
        {"op": "call", "node": "go", "arg": {"flow": "survey", "return": True}},
    ])

    async def load(ref, program_hash):
        raise FlowNotCompiled(ref, ["survey.json:start: handle-unconnected error ..."])

    result = await Interpreter(kit.make_ports()).start(main, "main", {}, load)
    errors = [e.to_json() for e in result.events if e.type == "error"]
    assert errors == [{"type": "error", "node": "go", "code": "flow_not_compiled",
                       "message": "flow 'survey' exists but does not compile: "
                                  "survey.json:start: handle-unconnected error ..."}]
