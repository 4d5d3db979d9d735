"""GET /flows/{id}/errors: the live flow's recent failures, as the runtime records them
on each inbound message (metadata.run.errors / failed_calls), naming the node."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import text


async def _inbound(db, conversation_id: str, run: dict) -> None:  # noqa: ANN001
    """An inbound message the runtime has processed, with its run record."""
    async with db.session() as s, s.begin():
        await s.execute(text(
            "INSERT INTO messages (conversation_id, direction, sender_type, type, content, metadata) "
            "VALUES (:c, 'inbound', 'contact', 'text', CAST(:content AS jsonb), CAST(:meta AS jsonb))"),
            {"c": conversation_id, "content": json.dumps({"text": "oi"}),
             "meta": json.dumps({"processed": True, "run": run})})


FAILED_CALL = {"type": "api_called", "node": "lookup", "method": "GET", "url": "http://127.0.0.1:9/orders",
               "status": 0, "ok": False, "error": "private_address", "message": "refused"}
FLOW_ERROR = {"type": "error", "node": "price", "code": "expression_error", "message": "division by zero"}


async def test_failures_of_the_flow_name_their_node_newest_first(seed, admin_api, viewer_api, db) -> None:
    flow = await seed.flow()
    other_flow = await seed.flow()
    conversation = await seed.conversation()
    await _inbound(db, conversation["id"], {"status": "waiting", "flow_id": flow["id"], "failed_calls": [FAILED_CALL]})
    await _inbound(db, conversation["id"], {"status": "ended", "flow_id": flow["id"], "errors": [FLOW_ERROR]})
    await _inbound(db, conversation["id"], {"status": "ended", "flow_id": flow["id"]})  # ran cleanly
    await _inbound(db, conversation["id"], {"status": "ended", "flow_id": other_flow["id"], "errors": [FLOW_ERROR]})

    status, body = await viewer_api.get(f"/flows/{flow['id']}/errors")
    assert status == 200, body
    assert [(i["kind"], i["node"]) for i in body["items"]] == [("error", "price"), ("failed_call", "lookup")]
    assert body["items"][0]["message"] == "expression_error division by zero"
    assert "http://127.0.0.1:9/orders" in body["items"][1]["message"]
    assert "private_address" in body["items"][1]["message"]
    assert all(i["conversation_id"] == conversation["id"] for i in body["items"])

    status, body = await admin_api.get(f"/flows/{other_flow['id']}/errors")
    assert [i["node"] for i in body["items"]] == ["price"]


async def test_another_organization_sees_neither_the_flow_nor_its_failures(seed, other_api, db) -> None:
    flow = await seed.flow()
    conversation = await seed.conversation()
    await _inbound(db, conversation["id"], {"status": "ended", "flow_id": flow["id"], "errors": [FLOW_ERROR]})
    status, body = await other_api.get(f"/flows/{flow['id']}/errors")
    assert status == 404, body
    status, body = await other_api.get(f"/flows/{uuid.uuid4()}/errors")
    assert status == 404, body
