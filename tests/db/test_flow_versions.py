"""Saving a canvas compiles it into a draft version; publishing makes it live and rewrites the flow's nodes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.db.models import Flow, FlowVersion, Node
from api.services.flow_versions import load_current_program, load_program, node_ids, save_canvas
from compiler import compile_canvas

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _canvas(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


@pytest.fixture
async def followup_flow(db, tenant):
    """The flow nps_survey jumps to, so the jump's target is known."""
    async with db.transaction() as s:
        flow = Flow(chatbot_id=tenant.chatbot.id, name="nps_followup", type="sub")
        s.add(flow)
    return flow


async def _save(db, flow, canvas, user_id=None, publish=True):
    async with db.transaction() as s:
        return await save_canvas(s, flow, canvas, user_id, publish=publish)


async def _nodes(db, flow_id) -> list[Node]:
    async with db.session() as s:
        return list((await s.execute(select(Node).where(Node.flow_id == flow_id))).scalars())


async def test_first_save_stores_version_one_with_program(db, tenant, followup_flow):
    canvas = _canvas("nps_survey")
    result = await _save(db, tenant.flow, canvas, tenant.user.id)
    assert result.ok and result.created and result.version == 1
    expected = compile_canvas(canvas, known_flows={"nps_followup"}).program
    async with db.session() as s:
        program = await load_program(s, tenant.flow.id, 1)
        stored = (await s.execute(select(FlowVersion))).scalar_one()
    assert program == expected
    assert stored.program_hash == expected.hash and stored.created_by == tenant.user.id
    assert stored.canvas == canvas


async def test_save_writes_one_node_row_per_canvas_node_with_links(db, tenant, followup_flow):
    canvas = _canvas("nps_survey")
    await _save(db, tenant.flow, canvas)
    rows = {n.settings["canvas_id"]: n for n in await _nodes(db, tenant.flow.id)}
    assert set(rows) == {n["id"] for n in canvas["nodes"]}
    start = rows["start"]
    assert start.type == "start" and start.label == "Início"
    assert start.next_node_id == rows["ask_score"].id
    assert float(rows["ask_score"].position_x) == 320.0


async def test_second_save_bumps_version_and_keeps_node_ids(db, tenant, followup_flow):
    canvas = _canvas("nps_survey")
    await _save(db, tenant.flow, canvas)
    before = {n.settings["canvas_id"]: n.id for n in await _nodes(db, tenant.flow.id)}
    changed = copy.deepcopy(canvas)
    for node in changed["nodes"]:
        if node["id"] == "ask_score":
            node["data"]["text"] = "De 0 a 10, você nos recomendaria?"
    result = await _save(db, tenant.flow, changed)
    assert result.version == 2
    after = {n.settings["canvas_id"]: n.id for n in await _nodes(db, tenant.flow.id)}
    assert after == before
    async with db.session() as s:
        assert (await s.execute(select(Flow.version).where(Flow.id == tenant.flow.id))).scalar() == 2
        version, program = await load_current_program(s, tenant.flow.id)
        old = await load_program(s, tenant.flow.id, 1)
    assert version == 2 and program != old


async def test_saving_the_same_canvas_again_creates_no_version(db, tenant, followup_flow):
    canvas = _canvas("nps_survey")
    await _save(db, tenant.flow, canvas)
    again = await _save(db, tenant.flow, canvas)
    assert again.ok and not again.created and again.version == 1


def _with_orphan(canvas: dict) -> dict:
    canvas = copy.deepcopy(canvas)
    canvas["nodes"].append({"id": "orphan", "type": "end", "position": {"x": 9, "y": 9},
                            "data": {"message": "Tchau"}})
    return canvas


async def test_removed_canvas_node_loses_its_row(db, tenant):
    canvas = _canvas("nps_followup")
    await _save(db, tenant.flow, _with_orphan(canvas))
    assert "orphan" in {n.settings["canvas_id"] for n in await _nodes(db, tenant.flow.id)}
    result = await _save(db, tenant.flow, canvas)
    assert result.ok and result.version == 2
    assert "orphan" not in {n.settings["canvas_id"] for n in await _nodes(db, tenant.flow.id)}


async def test_canvas_with_errors_is_rejected_and_nothing_written(db, tenant):
    canvas = _canvas("nps_survey")  # jumps to nps_followup, which this chatbot lacks
    result = await _save(db, tenant.flow, canvas)
    assert not result.ok and result.version is None
    assert {d.code for d in result.errors} == {"jump-unknown-flow"}
    async with db.session() as s:
        assert (await s.execute(select(func.count()).select_from(FlowVersion))).scalar() == 0
        assert (await s.execute(select(func.count()).select_from(Node))).scalar() == 0
        flow = (await s.execute(select(Flow).where(Flow.id == tenant.flow.id))).scalar_one()
    assert flow.version is None and flow.canvas_data == {"nodes": [], "edges": []}


async def test_malformed_canvas_returns_diagnostics(db, tenant):
    result = await _save(db, tenant.flow, {"nodes": "not a list"})
    assert not result.ok and result.errors


async def test_warnings_come_back_with_a_saved_flow(db, tenant):
    result = await _save(db, tenant.flow, _with_orphan(_canvas("nps_followup")))
    assert result.ok and result.version == 1
    assert "unreachable-node" in {d.code for d in result.warnings}


async def test_node_ids_map_canvas_ids_to_rows(db, tenant):
    await _save(db, tenant.flow, _canvas("nps_followup"))
    async with db.session() as s:
        mapping = await node_ids(s, tenant.flow.id)
    assert mapping == {n.settings["canvas_id"]: n.id for n in await _nodes(db, tenant.flow.id)}


async def test_missing_version_loads_nothing(db, tenant):
    async with db.session() as s:
        assert await load_program(s, tenant.flow.id, 7) is None
        assert await load_current_program(s, tenant.flow.id) is None


async def test_a_draft_save_leaves_the_live_version_and_its_nodes(db, tenant, followup_flow):
    first = _canvas("nps_survey")
    await _save(db, tenant.flow, first)
    draft = copy.deepcopy(first)
    draft["nodes"] = [n for n in draft["nodes"] if n["id"] != "idle"]
    draft["edges"] = [e for e in draft["edges"] if "idle" not in (e["source"], e["target"])]
    result = await _save(db, tenant.flow, draft, publish=False)
    assert result.ok and result.version == 2 and not result.published
    rows = {n.settings["canvas_id"] for n in await _nodes(db, tenant.flow.id)}
    assert "idle" in rows
    async with db.session() as s:
        version, program = await load_current_program(s, tenant.flow.id)
        flow = await s.get(Flow, tenant.flow.id)
    assert version == 1 and flow.version == 1 and flow.canvas_data == draft
    assert program == compile_canvas(first, known_flows={"nps_followup"}).program


async def test_a_never_published_flow_has_no_current_program(db, tenant, followup_flow):
    await _save(db, tenant.flow, _canvas("nps_survey"), publish=False)
    async with db.session() as s:
        assert await load_current_program(s, tenant.flow.id) is None
