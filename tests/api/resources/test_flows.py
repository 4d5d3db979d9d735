"""Flows: saving a canvas compiles it into a draft (errors refuse the save, warnings come back),
publishing makes a version live, versions and rollback."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from api.db.models import AuditLog, FlowVersion, Node


def canvas(*extra_nodes: dict) -> dict:
    return {
        "nodes": [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
            {"id": "hello", "type": "message", "position": {"x": 0, "y": 100}, "data": {"text": "Olá!"}},
            {"id": "end", "type": "end", "position": {"x": 0, "y": 200}, "data": {}},
            *extra_nodes,
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "hello"},
            {"id": "e2", "source": "hello", "target": "end"},
        ],
        "viewport": {"x": 0, "y": 0, "zoom": 1},
    }


ORPHAN = {"id": "orphan", "type": "message", "position": {"x": 300, "y": 0}, "data": {"text": "?"}}


async def _nodes(db, flow_id: str) -> list[str]:
    async with db.session() as session:
        nodes = (await session.execute(select(Node).where(Node.flow_id == uuid.UUID(flow_id)))).scalars().all()
    return sorted(n.type for n in nodes)


async def test_saving_a_valid_canvas_creates_a_draft_version(seed, admin_api, db) -> None:
    flow = await seed.flow()
    status, saved = await admin_api.put(f"/flows/{flow['id']}/canvas", {"canvas": canvas()})
    assert status == 200, saved
    assert saved["version"] == 1 and saved["created"] is True and saved["published"] is False
    assert saved["diagnostics"] == []
    assert saved["flow"]["canvas_data"]["nodes"][1]["id"] == "hello"
    _, versions = await admin_api.get(f"/flows/{flow['id']}/versions")
    assert [(v["version"], v["current"], v["published_at"]) for v in versions["items"]] == [(1, False, None)]
    assert await _nodes(db, flow["id"]) == []  # the nodes table shows the live graph only


async def test_publishing_writes_the_live_graph_into_nodes(seed, admin_api, db) -> None:
    flow = await seed.flow()
    await admin_api.put(f"/flows/{flow['id']}/canvas", {"canvas": canvas()})
    await admin_api.post(f"/flows/{flow['id']}/publish")
    assert await _nodes(db, flow["id"]) == ["end", "message", "start"]
    await admin_api.put(f"/flows/{flow['id']}/canvas", {"canvas": canvas(ORPHAN)})  # a draft
    assert await _nodes(db, flow["id"]) == ["end", "message", "start"]


async def test_save_with_publish_true_saves_and_publishes_at_once(seed, admin_api) -> None:
    flow = await seed.flow()
    status, saved = await admin_api.put(f"/flows/{flow['id']}/canvas", {"canvas": canvas(), "publish": True})
    assert (status, saved["version"], saved["published"]) == (200, 1, True)
    _, versions = await admin_api.get(f"/flows/{flow['id']}/versions")
    item = versions["items"][0]
    assert item["current"] is True and item["published_at"] is not None
    assert item["published_by"] == item["created_by"] is not None
    status, error = await admin_api.put(f"/flows/{flow['id']}/canvas", {"canvas": canvas(), "publish": 1})
    assert status == 422 and error["error"]["field"] == "publish"


async def test_canvas_may_be_sent_without_the_wrapper(seed, admin_api) -> None:
    flow = await seed.flow()
    status, saved = await admin_api.put(f"/flows/{flow['id']}/canvas", canvas())
    assert status == 200 and saved["version"] == 1


async def test_warnings_are_returned_with_the_saved_flow(seed, admin_api) -> None:
    flow = await seed.flow()
    status, saved = await admin_api.put(f"/flows/{flow['id']}/canvas", canvas(ORPHAN))
    assert status == 200
    assert [(d["code"], d["severity"], d["node_id"]) for d in saved["diagnostics"]] == [
        ("unreachable-node", "warning", "orphan")]


async def test_a_canvas_with_errors_is_422_with_diagnostics_and_nothing_saved(seed, admin_api, db) -> None:
    flow = await seed.flow()
    status, error = await admin_api.put(f"/flows/{flow['id']}/canvas", {"canvas": {"nodes": "nope", "edges": []}})
    assert status == 422
    assert error["error"]["code"] == "invalid_canvas"
    assert error["error"]["details"][0]["severity"] == "error"
    assert error["error"]["details"][0]["field"] == "/nodes"
    async with db.session() as session:
        versions = (await session.execute(select(FlowVersion))).scalars().all()
    assert versions == []
    assert (await admin_api.get(f"/flows/{flow['id']}"))[1]["version"] == flow["version"]


async def test_each_changed_save_is_a_new_version_listed_newest_first(seed, admin_api) -> None:
    flow = await seed.flow()
    await admin_api.put(f"/flows/{flow['id']}/canvas", canvas())
    _, again = await admin_api.put(f"/flows/{flow['id']}/canvas", canvas())
    assert again["created"] is False and again["version"] == 1
    await admin_api.post(f"/flows/{flow['id']}/publish")
    await admin_api.put(f"/flows/{flow['id']}/canvas", canvas(ORPHAN))
    status, versions = await admin_api.get(f"/flows/{flow['id']}/versions")
    assert status == 200
    # version 2 is a draft: version 1 stays live
    assert [(v["version"], v["current"]) for v in versions["items"]] == [(2, False), (1, True)]


async def test_one_version_can_be_read_with_its_canvas(seed, admin_api, other_api) -> None:
    flow = await seed.flow()
    await admin_api.put(f"/flows/{flow['id']}/canvas", canvas())
    await admin_api.put(f"/flows/{flow['id']}/canvas", canvas(ORPHAN))
    status, one = await admin_api.get(f"/flows/{flow['id']}/versions/1")
    assert status == 200 and one["version"] == 1 and one["current"] is False
    assert [n["id"] for n in one["canvas"]["nodes"]] == ["start", "hello", "end"]
    assert (await admin_api.get(f"/flows/{flow['id']}/versions/7"))[0] == 404
    assert (await other_api.get(f"/flows/{flow['id']}/versions/1"))[0] == 404


async def test_publish_makes_the_flow_live_and_the_chatbot_published(seed, admin_api) -> None:
    flow = await seed.flow(is_active=False)
    await admin_api.put(f"/flows/{flow['id']}/canvas", canvas())
    status, published = await admin_api.post(f"/flows/{flow['id']}/publish")
    assert status == 200, published
    assert published["is_active"] is True and published["version"] == 1
    assert (await admin_api.get(f"/chatbots/{flow['chatbot_id']}"))[1]["is_published"] is True


async def test_publish_can_roll_back_to_an_earlier_version(seed, admin_api) -> None:
    flow = await seed.flow()
    await admin_api.put(f"/flows/{flow['id']}/canvas", canvas())
    await admin_api.put(f"/flows/{flow['id']}/canvas", canvas(ORPHAN))
    status, published = await admin_api.post(f"/flows/{flow['id']}/publish")
    assert (status, published["version"]) == (200, 2)
    status, published = await admin_api.post(f"/flows/{flow['id']}/publish", {"version": 1})
    assert (status, published["version"]) == (200, 1)
    _, versions = await admin_api.get(f"/flows/{flow['id']}/versions")
    assert [(v["version"], v["current"]) for v in versions["items"]] == [(2, False), (1, True)]
    status, error = await admin_api.post(f"/flows/{flow['id']}/publish", {"version": 9})
    assert status == 422 and error["error"]["field"] == "version"


async def test_a_flow_never_compiled_cannot_be_published(seed, admin_api) -> None:
    flow = await seed.flow()
    status, error = await admin_api.post(f"/flows/{flow['id']}/publish")
    assert status == 409
    assert error["error"]["field"] == "canvas"


async def test_canvas_save_and_publish_are_audited(seed, admin_api, db) -> None:
    flow = await seed.flow()
    await admin_api.put(f"/flows/{flow['id']}/canvas", canvas())
    await admin_api.post(f"/flows/{flow['id']}/publish")
    async with db.session() as session:
        actions = (await session.execute(select(AuditLog.action).where(
            AuditLog.resource_id == uuid.UUID(flow["id"])).order_by(AuditLog.created_at))).scalars().all()
    assert actions == ["flow.created", "flow.canvas_saved", "flow.published"]


async def test_flows_of_another_organization_are_404_for_canvas_publish_and_versions(
        seed, other_api, admin_api) -> None:
    flow = await seed.flow()
    assert (await other_api.put(f"/flows/{flow['id']}/canvas", canvas()))[0] == 404
    assert (await other_api.post(f"/flows/{flow['id']}/publish"))[0] == 404
    assert (await other_api.get(f"/flows/{flow['id']}/versions"))[0] == 404


async def test_a_flow_cannot_be_created_on_another_organizations_chatbot(seed, other_seed, admin_api) -> None:
    foreign = await other_seed.chatbot()
    status, error = await admin_api.post("/flows", {"chatbot_id": foreign["id"], "name": "x"})
    assert status == 422
    assert error["error"]["field"] == "chatbot_id"


async def test_flows_of_a_deleted_chatbot_are_hidden(seed, admin_api) -> None:
    flow = await seed.flow()
    await admin_api.delete(f"/chatbots/{flow['chatbot_id']}")
    assert (await admin_api.get(f"/flows/{flow['id']}"))[0] == 404


async def test_viewers_cannot_save_canvases(seed, viewer_api) -> None:
    flow = await seed.flow()
    assert (await viewer_api.put(f"/flows/{flow['id']}/canvas", canvas()))[0] == 403


async def test_a_handoff_to_a_department_the_organization_lacks_is_a_warning_when_saving(seed, admin_api) -> None:
    await seed.department(name="Suporte")
    flow = await seed.flow()

    def handoff_to(department: str) -> dict:
        return {"nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
                          {"id": "h", "type": "handoff", "position": {"x": 0, "y": 100},
                           "data": {"department": department}}],
                "edges": [{"id": "e", "source": "start", "target": "h"}]}

    status, saved = await admin_api.put(f"/flows/{flow['id']}/canvas", {"canvas": handoff_to("Finaceiro")})
    assert status == 200
    assert [(d["code"], d["node_id"], d["path"]) for d in saved["diagnostics"]] == [
        ("unknown-department", "h", "/nodes/1/data/department")]
    status, saved = await admin_api.put(f"/flows/{flow['id']}/canvas", {"canvas": handoff_to("suporte")})
    assert status == 200 and saved["diagnostics"] == []
    status, linted = await admin_api.post("/flows/lint", {"canvas_data": handoff_to("Finaceiro"), "flow_id": flow["id"]})
    assert status == 200 and [d["code"] for d in linted["diagnostics"]] == ["unknown-department"]


def _jumping(flow: str, *, ask: bool = False) -> dict:
    """start → a message → (a question →) a jump to `flow` without return."""
    nodes = [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
             {"id": "say", "type": "message", "position": {"x": 0, "y": 100}, "data": {"text": "Olá!"}},
             {"id": "go", "type": "jump", "position": {"x": 0, "y": 300}, "data": {"flow": flow, "return": False}}]
    edges = [{"id": "e1", "source": "start", "target": "say"}]
    if ask:
        nodes += [{"id": "ask", "type": "question", "position": {"x": 0, "y": 200},
                   "data": {"text": "Mais alguma coisa?", "variable": "more"}},
                  {"id": "bye", "type": "end", "position": {"x": 200, "y": 200}, "data": {}}]
        edges += [{"id": "e2", "source": "say", "target": "ask"}, {"id": "e3", "source": "ask", "target": "go"},
                  {"id": "e4", "source": "ask", "target": "bye", "sourceHandle": "invalid"}]
    else:
        edges.append({"id": "e2", "source": "say", "target": "go"})
    return {"nodes": nodes, "edges": edges}


async def test_a_flow_that_jumps_back_to_itself_without_waiting_is_refused_naming_the_jump(seed, admin_api) -> None:
    """Saved, it would send "Olá!" hundreds of times to a customer until the step budget stopped it."""
    bot = await seed.chatbot()
    menu = await seed.flow(chatbot_id=bot["id"], name="menu")
    for name in ("menu", menu["id"]):  # by name or by id
        status, error = await admin_api.put(f"/flows/{menu['id']}/canvas", {"canvas": _jumping(name)})
        assert status == 422, error
        assert [(d["code"], d["node_id"]) for d in error["error"]["details"]] == [("infinite-loop", "go")]
    status, saved = await admin_api.put(f"/flows/{menu['id']}/canvas", {"canvas": _jumping("menu", ask=True)})
    assert status == 200 and saved["diagnostics"] == [], saved


async def test_two_flows_that_jump_to_each_other_without_waiting_are_refused(seed, admin_api) -> None:
    bot = await seed.chatbot()
    a = await seed.flow(chatbot_id=bot["id"], name="a")
    b = await seed.flow(chatbot_id=bot["id"], name="b")
    status, saved = await admin_api.put(f"/flows/{b['id']}/canvas", {"canvas": _jumping("a")})
    assert status == 200, saved  # a has no canvas yet: nothing loops
    status, error = await admin_api.put(f"/flows/{a['id']}/canvas", {"canvas": _jumping("b")})
    assert status == 422 and [d["code"] for d in error["error"]["details"]] == ["infinite-loop"], error
    assert "go → b:start → b:say → b:go → start → say → go" in error["error"]["details"][0]["message"]
    status, linted = await admin_api.post("/flows/lint", {"canvas_data": _jumping("b"), "flow_id": a["id"]})
    assert status == 200 and [d["code"] for d in linted["diagnostics"]] == ["infinite-loop"]


async def test_a_canvas_sent_as_text_whose_strings_are_not_text_is_refused_where_they_are(seed, admin_api) -> None:
    """A canvas sent as a JSON string with a \\u0000 or a lone surrogate escape: saving it was a 500
    (UnicodeEncodeError) or, for NUL, a draft that could never be published; now a 422 naming the path."""
    import json

    flow = await seed.flow()
    for escape in ("a\\u0000b", "a\\ud800b"):
        text = json.dumps(canvas()).replace("Ol\\u00e1!", escape)
        assert escape in text
        status, error = await admin_api.put(f"/flows/{flow['id']}/canvas", {"canvas": text})
        assert status == 422, error
        assert [d["field"] for d in error["error"]["details"]] == ["/nodes/1/data/text"]
    _, versions = await admin_api.get(f"/flows/{flow['id']}/versions")
    assert versions["items"] == []


async def test_a_version_number_past_the_columns_range_is_not_found(seed, admin_api) -> None:
    """It was a 422 naming no field (the database's out-of-range error)."""
    flow = await seed.flow()
    status, error = await admin_api.get(f"/flows/{flow['id']}/versions/99999999999")
    assert status == 404, error
