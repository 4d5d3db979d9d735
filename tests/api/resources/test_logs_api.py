"""/logs through the app: message search, a conversation's sessions, a webhook's attempts
and the API request logs (sanitized, admins only); each organization sees only its own."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import text

from api.events import message_payload
from api.logstore import WebhookQuery, event_backlog, feed_once
from api.logstore.postgres import PostgresLogStore
from tests.logstore.conftest import until, write_events

MASK = "***"


async def _feed_all(db) -> None:
    """Rounds of the `logs` consumer until every committed event is logged (the store polled,
    not the routes: polling the API would meet its rate limit)."""
    store = PostgresLogStore(db)

    async def fed():
        await feed_once(db, store)
        return await event_backlog(db) == 0
    await until(fed)


def _message(conversation: dict, text: str, *, direction: str = "inbound") -> dict:
    return message_payload({"id": uuid.uuid4(), "conversation_id": conversation["id"],
                            "contact_id": conversation["contact_id"], "direction": direction,
                            "sender_type": "contact" if direction == "inbound" else "agent", "type": "text",
                            "content": {"text": text}, "status": "delivered" if direction == "inbound" else "sent",
                            "created_at": datetime.now(timezone.utc)})


async def test_message_logs_are_searched_within_the_organization(seed, admin_api, viewer_api, other_api, db,
                                                                  org_admin) -> None:
    conversation = await seed.conversation()
    key = uuid.UUID(conversation["id"])
    await write_events(db, org_admin.org_id,
                       ("message.received", _message(conversation, "quero a segunda via do boleto"), key),
                       ("message.sent", _message(conversation, "claro, segue o link", direction="outbound"), key))

    await _feed_all(db)
    status, page = await viewer_api.get(f"/logs/messages?conversation_id={conversation['id']}")
    assert status == 200 and len(page["items"]) == 2
    status, page = await viewer_api.get("/logs/messages?q=boleto")
    assert status == 200 and [i["text"] for i in page["items"]] == ["quero a segunda via do boleto"]
    assert page["items"][0]["status_history"][0]["status"] == "delivered" and page["next_before"] is None
    status, page = await admin_api.get("/logs/messages?status=sent&limit=1")
    assert [i["direction"] for i in page["items"]] == ["outbound"] and page["next_before"] is not None
    status, page = await admin_api.get(f"/logs/messages?before={page['next_before']}&status=sent")
    assert page["items"] == []
    assert (await other_api.get("/logs/messages?q=boleto"))[1]["items"] == []
    status, page = await admin_api.get("/logs/messages?direction=inbound")
    assert status == 200 and [i["text"] for i in page["items"]] == ["quero a segunda via do boleto"]
    status, page = await admin_api.get("/logs/messages?direction=outbound")
    assert [i["text"] for i in page["items"]] == ["claro, segue o link"]
    status, error = await admin_api.get("/logs/messages?direction=sideways")
    assert status == 422 and error["error"]["field"] == "direction"
    status, error = await admin_api.get("/logs/messages?status=lost")
    assert status == 422 and error["error"]["field"] == "status"
    status, error = await admin_api.get("/logs/messages?contact=1")
    assert status == 422 and error["error"]["field"] == "contact"


async def test_a_conversations_log_shows_its_sessions(seed, admin_api, agent_api, other_api, agent, db) -> None:
    conversation = await seed.conversation()
    path = f"/conversations/{conversation['id']}"
    await write_events(db, (await admin_api.get("/organization"))[1]["id"],
                       ("message.received", _message(conversation, "oi"), uuid.UUID(conversation["id"])))
    assert (await admin_api.post(f"{path}/assign", {"user_id": str(agent.user_id)}))[0] == 200
    assert (await admin_api.post(f"{path}/close"))[0] == 200

    await _feed_all(db)
    (session,) = (await agent_api.get(f"/logs/conversations/{conversation['id']}"))[1]["sessions"]
    assert session["agent_id"] == str(agent.user_id) and session["outcome"] == "closed"
    assert session["message_count"] == 1 and session["human_message_count"] == 1
    assert (await other_api.get(f"/logs/conversations/{conversation['id']}"))[0] == 404


async def test_a_webhooks_attempts_are_for_admins_of_its_organization(seed, admin_api, agent_api, other_api, db,
                                                                       org_admin) -> None:
    hook = await seed.webhook()
    store = PostgresLogStore(db)
    await store.write_webhook_attempts([{
        "id": uuid.uuid4(), "organization_id": org_admin.org_id, "webhook_id": uuid.UUID(hook["id"]),
        "delivery_id": uuid.uuid4(), "event_type": "message.received", "url": hook["url"], "method": "POST",
        "headers": {}, "payload": {"id": 1}, "status_code": 503, "response_headers": {}, "response_body": "down",
        "response_time_ms": 20, "success": False, "error_message": "HTTP 503", "attempt_number": 1,
        "created_at": datetime.now(timezone.utc)}])
    status, page = await admin_api.get(f"/logs/webhooks/{hook['id']}?success=false")
    assert status == 200 and [(i["status_code"], i["error_message"]) for i in page["items"]] == [(503, "HTTP 503")]
    assert (await admin_api.get(f"/logs/webhooks/{hook['id']}?success=true"))[1]["items"] == []
    assert (await agent_api.get(f"/logs/webhooks/{hook['id']}"))[0] == 403
    assert (await other_api.get(f"/logs/webhooks/{hook['id']}"))[0] == 404


async def _logged(db, path: str, method: str) -> list:
    async with db.raw() as conn:
        return await conn.fetch("SELECT * FROM api_request_logs WHERE path = $1 AND method = $2", path, method)


async def test_requests_are_logged_sanitized_and_readable_by_admins_only(client, db, org_admin, agent) -> None:
    created = await client.post("/webhooks", headers=org_admin.headers,
                                json={"name": "crm", "url": "https://example.com/hook", "events": ["*"],
                                      "secret": "very-secret-signing-key"})
    assert created.status_code == 201
    login = await client.post("/auth/login", json={"email": org_admin.email, "password": org_admin.password})
    assert login.status_code == 200

    (row,) = await until(lambda: _logged(db, "/webhooks", "POST"))
    assert row["body"]["secret"] == MASK and row["body"]["name"] == "crm"
    assert row["headers"]["authorization"] == MASK and row["status_code"] == 201
    assert row["organization_id"] == org_admin.org_id and row["user_id"] == org_admin.user_id
    (signin,) = await until(lambda: _logged(db, "/auth/login", "POST"))
    assert signin["body"]["password"] == MASK and signin["organization_id"] is None
    assert org_admin.password not in str(dict(signin)) and "very-secret-signing-key" not in str(dict(row))

    page = await client.get("/logs/api-requests?method=POST&path=/webhooks", headers=org_admin.headers)
    assert page.status_code == 200
    (item,) = (await page.get_json())["items"]
    assert item["body"]["secret"] == MASK and item["user_id"] == str(org_admin.user_id)
    assert item["response_time_ms"] > 0 and item["success"] is True

    assert (await client.get("/logs/api-requests", headers=agent.headers)).status_code == 403
    bad = await client.get("/logs/api-requests?limit=0", headers=org_admin.headers)
    assert bad.status_code == 422 and (await bad.get_json())["error"]["field"] == "limit"


async def test_the_health_route_shows_the_log_backlog(client):
    body = await (await client.get("/health")).get_json()
    assert body["logs"]["events_waiting"] >= 0 and body["logs"]["requests_dropped"] == 0


async def test_a_test_event_sent_from_the_api_is_logged_too(seed, admin_api, db, org_admin) -> None:
    hook = await seed.webhook()
    async with db.transaction() as session:  # saved before loopback URLs were refused when saved
        await session.execute(text("UPDATE webhooks SET url = 'http://127.0.0.1:9/hook' WHERE id = :id"),
                              {"id": uuid.UUID(hook["id"])})
    status, delivery = await admin_api.post(f"/webhooks/{hook['id']}/test")
    assert status == 200 and delivery["state"] == "dead"

    async def logged():  # the store, not the route: polling the API would meet its rate limit
        return await PostgresLogStore(db).webhook_logs(WebhookQuery(org_admin.org_id, uuid.UUID(hook["id"])))
    await until(logged)
    status, page = await admin_api.get(f"/logs/webhooks/{hook['id']}")
    (item,) = page["items"]
    assert item["event_type"] == "webhook.test" and item["success"] is False and item["error_message"]
    assert item["delivery_id"] == delivery["id"]


async def test_a_body_with_a_lone_surrogate_escape_does_not_stop_the_request_logs(client, db, org_admin) -> None:
    """Anyone's ``{"email": "\\ud800"}`` (refused with a 400) was parsed for the log by the stdlib,
    which keeps the lone surrogate PostgreSQL refuses: the batch, every organization's requests
    in it, failed and was retried until the buffer dropped it."""
    odd = await client.post("/auth/login", data=b'{"email": "\\ud800@x.com", "password": "p"}',
                            headers={"Content-Type": "application/json"})
    assert odd.status_code == 400
    created = await client.post("/webhooks", headers=org_admin.headers,
                                json={"name": "crm", "url": "https://example.com/hook", "events": ["*"]})
    assert created.status_code == 201
    (row,) = await until(lambda: _logged(db, "/webhooks", "POST"))
    assert row["organization_id"] == org_admin.org_id
    (refused,) = await until(lambda: _logged(db, "/auth/login", "POST"))
    assert refused["status_code"] == 400 and refused["body"]["_omitted"] == "not JSON"
