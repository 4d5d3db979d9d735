"""Behaviour shared by every resource: pagination bounds, body errors, audit-log reads, OpenAPI."""

from __future__ import annotations

import re
import uuid

from api.db.models import WebhookDelivery
from api.routes import BLUEPRINTS


async def test_per_page_defaults_to_20_and_caps_at_100(seed, admin_api) -> None:
    for i in range(21):
        await admin_api.created("/tags", {"name": f"t{i:02d}"})
    _, page = await admin_api.get("/tags")
    assert (page["per_page"], len(page["items"]), page["total"]) == (20, 20, 21)
    status, error = await admin_api.get("/tags?per_page=101")
    assert status == 422 and error["error"]["field"] == "per_page"
    _, big = await admin_api.get("/tags?per_page=100")
    assert len(big["items"]) == 21


async def test_a_page_past_the_end_is_empty_with_the_total(seed, admin_api) -> None:
    await admin_api.created("/tags", {"name": "only"})
    status, page = await admin_api.get("/tags?page=5")
    assert status == 200
    assert (page["items"], page["page"], page["total"]) == ([], 5, 1)


async def test_sort_accepts_several_fields(seed, admin_api) -> None:
    for name in ("b", "a", "c"):
        await admin_api.created("/quick-replies", {"shortcut": f"/{name}", "title": "same", "content": "x"})
    _, listed = await admin_api.get("/quick-replies?sort=title,-shortcut")
    assert [r["shortcut"] for r in listed["items"]] == ["/c", "/b", "/a"]


async def test_malformed_json_is_a_client_error_naming_body(seed, client, org_admin) -> None:
    response = await client.post("/tags", data=b"{not json", headers={**org_admin.headers,
                                                                       "Content-Type": "application/json"})
    body = await response.get_json()
    assert response.status_code in (400, 422)
    assert body["error"].get("field", "body") == "body"


async def test_a_json_array_body_is_422_naming_body(seed, admin_api) -> None:
    status, error = await admin_api.call("post", "/tags", [{"name": "x"}])
    assert status == 422 and error["error"]["field"] == "body"


async def test_null_for_a_required_column_is_422_naming_it(seed, admin_api) -> None:
    tag = await admin_api.created("/tags", {"name": "keep"})
    status, error = await admin_api.patch(f"/tags/{tag['id']}", {"name": None})
    assert status == 422 and error["error"]["field"] == "name"
    assert (await admin_api.get(f"/tags/{tag['id']}"))[1]["name"] == "keep"


async def test_too_long_value_is_422_naming_the_field(seed, admin_api) -> None:
    status, error = await admin_api.post("/tags", {"name": "x" * 101})
    assert status == 422 and error["error"]["field"] == "name"


async def test_malformed_id_in_the_path_is_404(seed, admin_api) -> None:
    assert (await admin_api.get("/tags/not-a-uuid"))[0] == 404


async def test_a_missing_id_is_404_naming_the_resource(seed, admin_api) -> None:
    status, error = await admin_api.get(f"/contacts/{uuid.uuid4()}")
    assert status == 404
    assert error["error"] == {"code": "not_found", "message": "contact not found"}


async def test_audit_logs_filter_by_action_and_resource(seed, admin_api) -> None:
    tag = await admin_api.created("/tags", {"name": "audited"})
    await admin_api.patch(f"/tags/{tag['id']}", {"color": "#000000"})
    await seed.contact()
    _, updates = await admin_api.get("/audit-logs?action=tag.updated")
    assert [(e["action"], e["resource_id"]) for e in updates["items"]] == [("tag.updated", tag["id"])]
    assert updates["items"][0]["changes"]["before"]["color"] != "#000000"
    _, by_resource = await admin_api.get(f"/audit-logs?resource_type=tag&resource_id={tag['id']}&sort=created_at")
    assert [e["action"] for e in by_resource["items"]] == ["tag.created", "tag.updated"]


async def test_audit_logs_are_read_only_and_admin_only(seed, admin_api, agent_api, other_api) -> None:
    await admin_api.created("/tags", {"name": "x"})
    assert (await admin_api.post("/audit-logs", {"action": "forged"}))[0] == 405
    assert (await agent_api.get("/audit-logs"))[0] == 403
    _, theirs = await other_api.get("/audit-logs")
    assert theirs["total"] == 0


async def test_webhook_deliveries_are_listed_per_webhook_inside_the_organization(seed, admin_api, other_api,
                                                                                  db) -> None:
    hook = await seed.webhook()
    async with db.transaction() as session:
        for ok in (True, False):
            session.add(WebhookDelivery(webhook_id=uuid.UUID(hook["id"]), event_type="message.received",
                                        payload={"x": 1}, status_code=200 if ok else 500, success=ok))
    path = f"/webhooks/{hook['id']}/deliveries"
    _, listed = await admin_api.get(path)
    assert listed["total"] == 2
    _, failed = await admin_api.get(f"{path}?success=false")
    assert [d["status_code"] for d in failed["items"]] == [500]
    assert (await other_api.get(path))[0] == 404


async def test_webhook_url_must_be_http_or_https(seed, admin_api) -> None:
    for url in ("javascript:alert(1)", "ftp://example.com", "example.com/hook"):
        status, error = await admin_api.post("/webhooks", {"name": "h", "url": url, "events": ["message.sent"]})
        assert status == 422 and error["error"]["field"] == "url"


async def test_every_resource_route_is_in_the_openapi_document(client, app) -> None:
    response = await client.get("/openapi.json")
    document = await response.get_json()
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    own = {bp.name for bp in BLUEPRINTS} - {"organization"}  # API-core documents its own
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in own or getattr(rule, "websocket", False):
            continue  # (a WebSocket, like /live, is not an HTTP operation: docs/live.md documents it)
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)
            operation = document["paths"][path][method.lower()]
            assert operation["responses"], (path, method)
            if method in ("PATCH",) or (method == "POST" and not path.endswith("/import")):
                assert "requestBody" in operation, (path, method)


async def test_templates_without_a_number_are_unique_by_name_and_language(seed, admin_api) -> None:
    await admin_api.created("/templates", {"name": "boas_vindas", "body_text": "Oi"})
    status, error = await admin_api.post("/templates", {"name": "boas_vindas", "body_text": "Olá"})
    assert status == 409 and error["error"]["field"] == "name"
    assert (await admin_api.post("/templates", {"name": "boas_vindas", "language": "en_US",
                                                "body_text": "Hi"}))[0] == 201


async def test_a_campaigns_status_changes_only_through_its_actions(seed, admin_api) -> None:
    # scheduling is POST /campaigns/{id}/start {"scheduled_at"} (docs/campaigns.md)
    status, error = await admin_api.post("/campaigns", {"name": "c", "message_content": {"text": "x"},
                                                        "status": "scheduled"})
    assert status == 422 and error["error"]["field"] == "status"
