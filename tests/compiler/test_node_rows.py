"""The rows for the `nodes` table: one per canvas node, with the graph's next pointers."""

from __future__ import annotations

from compiler import compile_canvas


def rows_by_id(result) -> dict:
    return {row["id"]: row for row in result.node_rows}


def test_one_row_per_canvas_node_with_its_fields(cv) -> None:
    canvas = cv.load_example("nps_survey")
    result = compile_canvas(canvas, known_flows={"nps_followup"})
    assert sorted(rows_by_id(result)) == sorted(n["id"] for n in canvas["nodes"])
    row = rows_by_id(result)["ask_score"]
    source = next(n for n in canvas["nodes"] if n["id"] == "ask_score")
    assert row == {
        "id": "ask_score", "type": "question", "label": "Nota", "content": source["data"],
        "position_x": source["position"]["x"], "position_y": source["position"]["y"], "next_node_id": "save_score",
    }


def test_next_node_id_follows_next_or_default(cv) -> None:
    rows = rows_by_id(compile_canvas(cv.load_example("nps_survey")))
    assert rows["start"]["next_node_id"] == "ask_score"
    assert rows["segment"]["next_node_id"] == "neutral_thanks"  # a cases condition's default
    assert rows["sorry"]["next_node_id"] is None  # an end


def test_a_node_jump_points_at_its_target(cv) -> None:
    rows = rows_by_id(compile_canvas(cv.load_example("ai_faq")))
    assert rows["again"]["next_node_id"] == "ask"


def test_branch_only_nodes_have_no_next_node(cv) -> None:
    rows = rows_by_id(compile_canvas(cv.load_example("lead_qualification")))
    assert rows["create_lead"]["next_node_id"] is None  # success/error only
    assert rows["is_hot"]["next_node_id"] is None  # true/false only


def test_rows_without_label_have_none(cv) -> None:
    rows = rows_by_id(compile_canvas(cv.load_example("lead_qualification")))
    assert rows["thanks"]["label"] is None


def test_unreachable_nodes_get_rows_after_the_compiled_ones(cv) -> None:
    nodes = [cv.node("zz", "end"), cv.node("start", "start"), cv.node("end", "end"), cv.node("aa", "end")]
    result = compile_canvas(cv.canvas(nodes, [cv.edge("start", "end")]))
    assert [r["id"] for r in result.node_rows] == ["start", "end", "aa", "zz"]
