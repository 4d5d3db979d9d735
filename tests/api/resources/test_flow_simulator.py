"""The editor's simulator: POST /flows/{id}/simulate runs the draft through the real
interpreter and changes nothing in the organization's data."""

from __future__ import annotations

from sqlalchemy import func, select

from api.db.models import Contact, Conversation, Message


def node(node_id: str, kind: str, data: dict, y: int = 0) -> dict:
    return {"id": node_id, "type": kind, "position": {"x": 0, "y": y}, "data": data}


def edge(source: str, target: str, handle: str | None = None) -> dict:
    out = {"id": f"{source}-{handle or 'next'}-{target}", "source": source, "target": target}
    if handle:
        out["sourceHandle"] = handle
    return out


PIZZA = {
    "nodes": [
        node("start", "start", {}),
        node("size", "question", {"text": "Qual tamanho?", "variable": "size",
                                  "options": [{"id": "p", "title": "Pequena"}, {"id": "g", "title": "Grande"}],
                                  "timeout_seconds": 60}, 100),
        node("thanks", "message", {"text": "Uma {{vars.size_title}}, anotado!"}, 200),
        node("idle", "message", {"text": "Ainda está aí?"}, 300),
        node("end", "end", {}, 400),
    ],
    "edges": [edge("start", "size"), edge("size", "thanks"), edge("thanks", "end"),
              edge("size", "idle", "timeout"), edge("idle", "end")],
}


async def _counts(db) -> tuple[int, int, int]:
    async with db.session() as s:
        return tuple([(await s.execute(select(func.count()).select_from(m))).scalar_one()
                      for m in (Contact, Conversation, Message)])


async def _flow_with_draft(seed, admin_api, canvas=PIZZA) -> dict:
    flow = await seed.flow()
    status, saved = await admin_api.put(f"/flows/{flow['id']}/canvas", {"canvas": canvas})
    assert status == 200, saved
    return flow


async def test_the_simulator_runs_the_draft_to_the_end_and_changes_nothing(seed, admin_api, db) -> None:
    flow = await _flow_with_draft(seed, admin_api)
    before = await _counts(db)
    status, step = await admin_api.post(f"/flows/{flow['id']}/simulate", {})
    assert status == 200, step
    assert step["status"] == "waiting" and step["current_node"] == "size"
    assert step["messages"][0]["type"] == "button"
    assert [b["title"] for b in step["messages"][0]["content"]["buttons"]] == ["Pequena", "Grande"]
    assert [e["node"] for e in step["trace"] if e["type"] == "node_entered"] == ["start", "size"]

    status, step = await admin_api.post(f"/flows/{flow['id']}/simulate",
                                        {"message": {"reply_id": "g"}, "session": step["session"]})
    assert status == 200, step
    assert step["status"] == "ended"
    assert [m["content"]["text"] for m in step["messages"]] == ["Uma Grande, anotado!"]
    assert step["variables"]["size"] == "g" and step["variables"]["size_title"] == "Grande"
    assert await _counts(db) == before


async def test_a_typed_answer_and_a_fired_timeout_take_their_branches(seed, admin_api) -> None:
    flow = await _flow_with_draft(seed, admin_api)
    _, first = await admin_api.post(f"/flows/{flow['id']}/simulate", {})
    _, typed = await admin_api.post(f"/flows/{flow['id']}/simulate",
                                    {"message": {"text": "pequena"}, "session": first["session"]})
    assert [m["content"]["text"] for m in typed["messages"]] == ["Uma Pequena, anotado!"]
    _, idle = await admin_api.post(f"/flows/{flow['id']}/simulate", {"timeout": True, "session": first["session"]})
    assert [m["content"]["text"] for m in idle["messages"]] == ["Ainda está aí?"]
    assert idle["status"] == "ended"


async def test_an_unsaved_canvas_can_be_simulated(seed, admin_api) -> None:
    flow = await seed.flow()
    hello = {"nodes": [node("start", "start", {}), node("hi", "message", {"text": "Oi!"}, 100)],
             "edges": [edge("start", "hi")]}
    status, step = await admin_api.post(f"/flows/{flow['id']}/simulate", {"canvas": hello})
    assert status == 200, step
    assert [m["content"]["text"] for m in step["messages"]] == ["Oi!"]


async def test_a_canvas_with_errors_is_422_with_its_diagnostics(seed, admin_api) -> None:
    flow = await seed.flow()
    status, error = await admin_api.post(f"/flows/{flow['id']}/simulate",
                                         {"canvas": {"nodes": [node("hi", "message", {"text": "x"})], "edges": []}})
    assert status == 422
    assert error["error"]["code"] == "invalid_canvas"
    assert any(d["code"] == "no-start" for d in error["error"]["details"])


async def test_a_forged_session_is_refused_with_its_field(seed, admin_api) -> None:
    flow = await _flow_with_draft(seed, admin_api)
    status, error = await admin_api.post(f"/flows/{flow['id']}/simulate",
                                         {"message": {"text": "oi"}, "session": {"state": {"f": 1}}})
    assert status == 422 and error["error"]["field"] == "session"


async def test_an_api_call_to_a_private_address_is_refused_as_it_would_be_live(seed, admin_api) -> None:
    canvas = {"nodes": [node("start", "start", {}),
                        node("call", "api_call", {"url": "http://127.0.0.1:9/secret"}, 100),
                        node("ok", "message", {"text": "ok"}, 200),
                        node("fail", "message", {"text": "falhou"}, 300)],
              "edges": [edge("start", "call"), edge("call", "ok", "success"), edge("call", "fail", "error")]}
    flow = await _flow_with_draft(seed, admin_api, canvas)
    status, step = await admin_api.post(f"/flows/{flow['id']}/simulate", {})
    assert status == 200, step
    assert [m["content"]["text"] for m in step["messages"]] == ["falhou"]
    called = [e for e in step["trace"] if e["type"] == "api_called"]
    assert called and called[0]["ok"] is False


async def test_viewers_and_other_organizations_cannot_simulate(seed, admin_api, viewer_api, other_api) -> None:
    flow = await _flow_with_draft(seed, admin_api)
    assert (await viewer_api.post(f"/flows/{flow['id']}/simulate", {}))[0] == 403
    assert (await other_api.post(f"/flows/{flow['id']}/simulate", {}))[0] == 404


async def test_a_flow_that_runs_itself_again_without_waiting_is_422_not_a_flood_of_messages(seed, admin_api) -> None:
    flow = await seed.flow()
    again = {"nodes": [node("start", "start", {}), node("hi", "message", {"text": "Oi!"}, 100),
                       node("go", "jump", {"flow": flow["name"], "return": False}, 200)],
             "edges": [edge("start", "hi"), edge("hi", "go")]}
    status, error = await admin_api.post(f"/flows/{flow['id']}/simulate", {"canvas": again})
    assert status == 422, error
    assert [(d["code"], d["node_id"]) for d in error["error"]["details"]] == [("infinite-loop", "go")]


async def test_a_session_edited_into_other_shapes_is_refused_or_reported_never_a_500(seed, admin_api) -> None:
    """Found by fuzzing: a session whose call stack returns past its program's end raised IndexError,
    and a contact's tags or attributes, or the history, of another type raised TypeError (500s)."""
    flow = await _flow_with_draft(seed, admin_api)
    _, first = await admin_api.post(f"/flows/{flow['id']}/simulate", {})
    session = first["session"]
    state = session["state"]
    past_the_end = {**session, "state": {**state, "s": [[state["f"], state["h"], 99]]}}
    status, step = await admin_api.post(f"/flows/{flow['id']}/simulate",
                                        {"message": {"reply_id": "g"}, "session": past_the_end})
    assert status == 200 and step["status"] == "error", step
    assert any("return pc 99" in str(t.get("message")) for t in step["trace"]), step["trace"]
    for forged in ({**session, "state": {**state, "s": [[state["f"], state["h"], -3]]}},
                   {**session, "contact": {"tags": 5}}, {**session, "contact": {"attributes": [1]}},
                   {**session, "history": 5}):
        status, error = await admin_api.post(f"/flows/{flow['id']}/simulate",
                                             {"message": {"reply_id": "g"}, "session": forged})
        assert status == 422 and error["error"]["field"] == "session", (forged, error)
