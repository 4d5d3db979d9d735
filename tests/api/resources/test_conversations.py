"""Conversations: filters, assign/transfer/close; messages: list and agent replies into the outbox."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from api.db.models import AuditLog, Message


async def _customer_wrote(db, conversation: dict) -> None:  # noqa: ANN001
    async with db.transaction() as session:
        session.add(Message(conversation_id=uuid.UUID(conversation["id"]), direction="inbound",
                            sender_type="contact", type="text", content={"text": "oi"}, status="delivered"))


async def _ids(api, query: str) -> set[str]:  # noqa: ANN001
    status, body = await api.get(f"/conversations?{query}&per_page=100")
    assert status == 200, body
    return {c["id"] for c in body["items"]}


async def test_filters_by_status_department_assignee_and_tag(seed, admin_api, agent) -> None:
    sales = await seed.department(name="Vendas")
    plain = await seed.conversation()
    in_sales = await seed.conversation(department_id=sales["id"], tags=["vip"])
    await admin_api.post(f"/conversations/{in_sales['id']}/assign", {"user_id": str(agent.user_id)})
    assert await _ids(admin_api, "status=assigned") == {in_sales["id"]}
    assert await _ids(admin_api, "status=open,assigned") == {plain["id"], in_sales["id"]}
    assert await _ids(admin_api, f"department_id={sales['id']}") == {in_sales["id"]}
    assert await _ids(admin_api, f"assigned_to={agent.user_id}") == {in_sales["id"]}
    assert await _ids(admin_api, "tag=vip") == {in_sales["id"]}


async def test_a_bad_filter_value_is_422_naming_the_parameter(seed, admin_api) -> None:
    for query, field in (("status=sleeping", "status"), ("assigned_to=bob", "assigned_to"),
                         ("per_page=101", "per_page"), ("page=0", "page"), ("colour=red", "colour")):
        status, error = await admin_api.get(f"/conversations?{query}")
        assert status == 422, query
        assert error["error"]["field"] == field


async def test_assign_gives_the_conversation_to_an_agent_and_stops_the_bot(seed, admin_api, agent) -> None:
    conversation = await seed.conversation()
    status, assigned = await admin_api.post(f"/conversations/{conversation['id']}/assign",
                                            {"user_id": str(agent.user_id)})
    assert status == 200, assigned
    assert assigned["assigned_to"] == str(agent.user_id)
    assert assigned["status"] == "assigned"
    assert assigned["is_bot_active"] is False
    assert assigned["assigned_at"] is not None


async def test_assign_refuses_viewers_and_users_of_other_organizations(seed, admin_api, viewer,
                                                                       other_org_admin) -> None:
    conversation = await seed.conversation()
    for user_id in (viewer.user_id, other_org_admin.user_id, uuid.uuid4()):
        status, error = await admin_api.post(f"/conversations/{conversation['id']}/assign",
                                             {"user_id": str(user_id)})
        assert status == 422
        assert error["error"]["field"] == "user_id"
    assert (await admin_api.get(f"/conversations/{conversation['id']}"))[1]["assigned_to"] is None


async def test_transfer_to_a_department_puts_it_back_in_the_queue(seed, admin_api, agent) -> None:
    support = await seed.department(name="Suporte")
    conversation = await seed.conversation()
    await admin_api.post(f"/conversations/{conversation['id']}/assign", {"user_id": str(agent.user_id)})
    status, moved = await admin_api.post(f"/conversations/{conversation['id']}/transfer",
                                         {"department_id": support["id"], "reason": "dúvida técnica"})
    assert status == 200, moved
    assert moved["department_id"] == support["id"]
    assert moved["assigned_to"] is None
    assert moved["status"] == "waiting_in_queue"
    assert moved["entered_queue_at"] is not None


async def test_transfer_to_an_agent_assigns_it(seed, admin_api, agent) -> None:
    conversation = await seed.conversation()
    status, moved = await admin_api.post(f"/conversations/{conversation['id']}/transfer",
                                         {"user_id": str(agent.user_id)})
    assert (status, moved["assigned_to"], moved["status"]) == (200, str(agent.user_id), "assigned")


async def test_transfer_needs_a_target(seed, admin_api) -> None:
    conversation = await seed.conversation()
    status, error = await admin_api.post(f"/conversations/{conversation['id']}/transfer", {})
    assert status == 422 and error["error"]["field"] == "department_id"


async def test_transfer_to_another_organizations_department_is_422(seed, other_seed, admin_api) -> None:
    foreign = await other_seed.department()
    conversation = await seed.conversation()
    status, error = await admin_api.post(f"/conversations/{conversation['id']}/transfer",
                                         {"department_id": foreign["id"]})
    assert status == 422 and error["error"]["field"] == "department_id"


async def test_close_resolves_and_blocks_further_replies_until_reopened(seed, admin_api, db) -> None:
    conversation = await seed.conversation()
    await _customer_wrote(db, conversation)  # inside the 24-hour window
    path = f"/conversations/{conversation['id']}"
    status, closed = await admin_api.post(f"{path}/close", {"resolved": True})
    assert (status, closed["status"]) == (200, "resolved")
    assert closed["resolved_at"] is not None
    status, error = await admin_api.post(f"{path}/messages", {"text": "ainda aí?"})
    assert status == 409 and error["error"]["field"] == "status"
    assert (await admin_api.post(f"{path}/close"))[0] == 409
    assert (await admin_api.patch(path, {"status": "open"}))[0] == 200
    assert (await admin_api.post(f"{path}/messages", {"text": "ainda aí?"}))[0] == 201


async def test_assign_transfer_close_are_audited(seed, admin_api, agent, db) -> None:
    conversation = await seed.conversation()
    path = f"/conversations/{conversation['id']}"
    await admin_api.post(f"{path}/assign", {"user_id": str(agent.user_id)})
    await admin_api.post(f"{path}/transfer", {"user_id": str(agent.user_id)})
    await admin_api.post(f"{path}/close")
    async with db.session() as session:
        actions = (await session.execute(select(AuditLog.action).where(
            AuditLog.resource_id == uuid.UUID(conversation["id"])).order_by(AuditLog.created_at))).scalars().all()
    assert actions == ["conversation.created", "conversation.assigned", "conversation.transferred",
                       "conversation.closed"]


async def test_actions_on_another_organizations_conversation_are_404(seed, other_api, other_org_admin) -> None:
    conversation = await seed.conversation()
    path = f"/conversations/{conversation['id']}"
    assert (await other_api.post(f"{path}/assign", {"user_id": str(other_org_admin.user_id)}))[0] == 404
    assert (await other_api.post(f"{path}/close"))[0] == 404
    assert (await other_api.get(f"{path}/messages"))[0] == 404
    assert (await other_api.post(f"{path}/messages", {"text": "oi"}))[0] == 404


async def test_agent_reply_is_queued_in_the_outbox(seed, agent_api, agent, db) -> None:
    conversation = await seed.conversation()
    await _customer_wrote(db, conversation)  # inside the 24-hour window
    status, message = await agent_api.post(f"/conversations/{conversation['id']}/messages", {"text": "Olá! 😊"})
    assert status == 201, message
    assert (message["direction"], message["status"], message["sender_type"]) == ("outbound", "pending", "agent")
    assert message["sender_id"] == str(agent.user_id)
    assert message["content"] == {"text": "Olá! 😊"}
    async with db.session() as session:
        row = (await session.execute(select(Message).where(Message.id == uuid.UUID(message["id"])))).scalar_one()
    assert (row.direction, row.status, row.type) == ("outbound", "pending", "text")
    _, updated = await agent_api.get(f"/conversations/{conversation['id']}")
    assert updated["message_count"] == 1
    assert updated["last_message_at"] is not None


async def test_media_reply_needs_a_media_url(seed, admin_api, db) -> None:
    conversation = await seed.conversation()
    await _customer_wrote(db, conversation)  # inside the 24-hour window
    path = f"/conversations/{conversation['id']}/messages"
    status, error = await admin_api.post(path, {"type": "image", "caption": "menu"})
    assert status == 422 and error["error"]["field"] == "media_url"
    status, message = await admin_api.post(path, {"type": "image", "media_url": "https://example.com/m.jpg",
                                                  "caption": "menu"})
    assert status == 201
    assert message["content"] == {"media_url": "https://example.com/m.jpg", "caption": "menu"}


async def test_a_caption_meta_would_drop_or_refuse_is_422_naming_it(seed, admin_api, db) -> None:
    conversation = await seed.conversation()
    await _customer_wrote(db, conversation)  # inside the 24-hour window
    path = f"/conversations/{conversation['id']}/messages"
    audio = {"type": "audio", "media_url": "https://example.com/a.ogg"}
    for body, field in (({**audio, "caption": "ouça"}, "caption"),
                        ({"type": "image", "media_url": "https://example.com/m.jpg", "caption": "c" * 1025}, "caption"),
                        ({**audio, "filename": "a.ogg"}, "filename")):
        status, error = await admin_api.post(path, body)
        assert status == 422 and error["error"]["field"] == field, (body, error)
    status, _ = await admin_api.post(path, audio)
    assert status == 201


async def test_empty_or_oversized_text_is_422_naming_text(seed, admin_api) -> None:
    conversation = await seed.conversation()
    path = f"/conversations/{conversation['id']}/messages"
    for text in ("", "   ", "x" * 4097):
        status, error = await admin_api.post(path, {"text": text})
        assert status == 422 and error["error"]["field"] == "text"


async def test_messages_list_newest_first_with_direction_filter(seed, admin_api, db) -> None:
    conversation = await seed.conversation()
    async with db.transaction() as session:
        session.add(Message(conversation_id=uuid.UUID(conversation["id"]), direction="inbound",
                            sender_type="contact", type="text", content={"text": "oi"}, status="delivered"))
    path = f"/conversations/{conversation['id']}/messages"
    await admin_api.post(path, {"text": "olá"})
    _, listed = await admin_api.get(path)
    assert [m["content"]["text"] for m in listed["items"]] == ["olá", "oi"]
    _, inbound = await admin_api.get(f"{path}?direction=inbound")
    assert [m["content"]["text"] for m in inbound["items"]] == ["oi"]


async def test_viewers_cannot_reply(seed, viewer_api) -> None:
    conversation = await seed.conversation()
    assert (await viewer_api.post(f"/conversations/{conversation['id']}/messages", {"text": "oi"}))[0] == 403


async def test_a_conversation_for_another_organizations_contact_is_refused(seed, other_seed, admin_api) -> None:
    foreign = await other_seed.contact()
    status, error = await admin_api.post("/conversations", {"contact_id": foreign["id"]})
    assert status == 422 and error["error"]["field"] == "contact_id"


async def test_a_conversation_on_a_deactivated_number_is_refused_naming_it(seed, admin_api) -> None:
    number = await seed.whatsapp_number()
    status, _ = await admin_api.patch(f"/whatsapp-numbers/{number['id']}", {"is_active": False})
    assert status == 200
    contact = await seed.contact()

    status, error = await admin_api.post("/conversations", {"contact_id": contact["id"],
                                                            "whatsapp_number_id": number["id"]})

    assert status == 422, error
    assert error["error"]["field"] == "whatsapp_number_id" and "deactivated" in error["error"]["message"]
    _, listed = await admin_api.get(f"/conversations?contact_id={contact['id']}")
    assert listed["items"] == []
    await admin_api.patch(f"/whatsapp-numbers/{number['id']}", {"is_active": True})
    status, opened = await admin_api.post("/conversations", {"contact_id": contact["id"],
                                                             "whatsapp_number_id": number["id"]})
    assert status == 201, opened


async def test_agent_reply_wakes_the_sender_through_the_task_queue(seed, admin_api, redis, db) -> None:
    from api.workers.queue import HIGH

    conversation = await seed.conversation()
    await _customer_wrote(db, conversation)  # inside the 24-hour window
    _, message = await admin_api.post(f"/conversations/{conversation['id']}/messages", {"text": "oi"})
    queued = await redis.lrange(HIGH, 0, -1)  # a live reply rides the high lane
    assert any(message["id"] in (item.decode() if isinstance(item, bytes) else item) for item in queued)


async def test_return_to_bot_frees_the_agent_and_tells_who_held_it(seed, admin_api, agent, db) -> None:
    conversation = await seed.conversation()
    path = f"/conversations/{conversation['id']}"
    await admin_api.post(f"{path}/assign", {"user_id": str(agent.user_id)})
    status, back = await admin_api.post(f"{path}/return-to-bot", {"reason": "pedido resolvido pelo menu"})
    assert status == 200, back
    assert (back["status"], back["assigned_to"], back["is_bot_active"]) == ("open", None, True)
    async with db.raw() as conn:
        row = await conn.fetchrow(
            "SELECT payload FROM events WHERE type = 'conversation.returned_to_bot' AND ordering_key = $1",
            uuid.UUID(conversation["id"]))
        action = await conn.fetchval("SELECT action FROM audit_logs WHERE resource_id = $1 "
                                     "ORDER BY created_at DESC LIMIT 1", uuid.UUID(conversation["id"]))
    import json
    payload = json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]
    assert payload["previous"]["assigned_agent_id"] == str(agent.user_id)
    assert payload["reason"] == "pedido resolvido pelo menu"
    assert action == "conversation.returned_to_bot"
    assert (await admin_api.post(f"{path}/close"))[0] == 200
    status, error = await admin_api.post(f"{path}/return-to-bot", {})
    assert status == 409 and error["error"]["field"] == "status"
