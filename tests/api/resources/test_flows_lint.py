"""POST /flows/lint: the compiler's diagnostics for a canvas, nothing saved (the editor's live check)."""

from __future__ import annotations

from sqlalchemy import func, select

from api.db.models import FlowVersion

from .test_flows import ORPHAN, canvas

BROKEN_QUESTION = {"id": "ask", "type": "question", "position": {"x": 0, "y": 300}, "data": {"variable": "1x"}}


def jump_canvas(target_flow: str) -> dict:
    c = canvas()
    c["nodes"][2] = {"id": "end", "type": "jump", "position": {"x": 0, "y": 200},
                     "data": {"flow": target_flow, "return": False}}
    return c


async def test_lint_returns_every_diagnostic_and_saves_nothing(seed, admin_api, db) -> None:
    flow = await seed.flow()
    status, body = await admin_api.post("/flows/lint", {"canvas_data": canvas(ORPHAN, BROKEN_QUESTION),
                                                        "flow_id": flow["id"]})
    assert status == 200, body
    found = {(d["code"], d["severity"], d["node_id"], d["path"]) for d in body["diagnostics"]}
    assert ("unreachable-node", "warning", "orphan", "/nodes/3") in found
    assert ("invalid-node-data", "error", "ask", "/nodes/4/data/variable") in found
    assert all(set(d) == {"code", "severity", "node_id", "path", "message", "hint"} for d in body["diagnostics"])
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(FlowVersion))).scalar() == 0


async def test_a_clean_canvas_has_no_diagnostics_and_viewers_may_check(seed, viewer_api) -> None:
    status, body = await viewer_api.post("/flows/lint", {"canvas_data": canvas()})
    assert (status, body) == (200, {"diagnostics": []})


async def test_jumps_are_checked_against_the_flows_of_the_chatbot_of_flow_id(seed, admin_api) -> None:
    flow = await seed.flow()
    sibling = await seed.flow(chatbot_id=flow["chatbot_id"])
    _, ok = await admin_api.post("/flows/lint", {"canvas_data": jump_canvas(sibling["name"]), "flow_id": flow["id"]})
    assert [d["code"] for d in ok["diagnostics"]] == []
    _, unknown = await admin_api.post("/flows/lint", {"canvas_data": jump_canvas("nope"), "flow_id": flow["id"]})
    assert [d["code"] for d in unknown["diagnostics"]] == ["jump-unknown-flow"]
    _, unchecked = await admin_api.post("/flows/lint", {"canvas_data": jump_canvas("nope")})
    assert unchecked["diagnostics"] == []


async def test_another_organizations_flow_id_is_not_found(seed, other_seed, admin_api) -> None:
    theirs = await other_seed.flow()
    status, body = await admin_api.post("/flows/lint", {"canvas_data": canvas(), "flow_id": theirs["id"]})
    assert status == 404, body


async def test_a_body_without_a_canvas_is_422_naming_the_field(admin_api) -> None:
    status, body = await admin_api.post("/flows/lint", {"canvas": canvas()})
    assert status == 422
    assert {d["field"] for d in body["error"]["details"]} >= {"canvas_data"}
    status, body = await admin_api.post("/flows/lint", {"canvas_data": "not a canvas"})
    assert status == 200 and body["diagnostics"][0]["severity"] == "error"
