"""End to end over HTTP: signed webhook → flow → outbox → sandbox → status webhook back."""

from __future__ import annotations

import json


async def test_customer_message_runs_the_flow_and_the_reply_reaches_whatsapp(servers, add, flows, query):
    await add("cadastro", flows["name"])
    response = await servers.customer_says("5511911112222", "oi", profile_name="Ana")
    assert response.status_code == 200
    await servers.wait_for(lambda: servers.inbox("5511911112222"))
    first = servers.inbox("5511911112222")[0]["payload"]
    assert first["text"]["body"] == "Qual seu nome?"

    await servers.customer_says("5511911112222", "Ana Souza")
    await servers.wait_for(lambda: len(servers.inbox("5511911112222")) >= 2)
    assert servers.inbox("5511911112222")[1]["payload"]["text"]["body"] == "Obrigado, Ana Souza!"


async def test_status_webhooks_from_whatsapp_update_the_outbound_row(servers, add, flows, query):
    await add("cadastro", flows["name"])
    await servers.customer_says("5511933334444", "oi")
    await servers.wait_for(lambda: servers.inbox("5511933334444"))
    wamid = servers.inbox("5511933334444")[0]["id"]

    async def read():
        found = await query("SELECT status, sent_at, delivered_at, read_at FROM messages "
                            "WHERE whatsapp_message_id = :w", w=wamid)
        return found and found[0]["status"] == "read" and found[0]

    row = await servers.wait_for(read)
    assert row["sent_at"] and row["delivered_at"] and row["read_at"]


async def test_bad_signature_is_401_and_nothing_is_stored(servers, add, flows, query):
    await add("cadastro", flows["name"])
    from api.sandbox import webhooks

    doc = webhooks.inbound_message("100200300", "5511955556666", webhooks.text_message("oi"))
    response = await servers.post(doc, secret="wrong-secret")
    assert response.status_code == 401
    unsigned = await servers.client.post(servers.pytake_url + "/webhooks/whatsapp", content=json.dumps(doc))
    assert unsigned.status_code == 401
    assert await query("SELECT id FROM messages") == []
    assert await query("SELECT id FROM contacts") == []


async def test_malformed_json_with_valid_signature_is_400(servers):
    from api.whatsapp.signature import sign

    body = b'{"object": "whatsapp_business_account", "entry": ['
    response = await servers.client.post(servers.pytake_url + "/webhooks/whatsapp", content=body,
                                         headers={"X-Hub-Signature-256": sign("test-app-secret", body)})
    assert response.status_code == 400


async def test_json_that_is_not_a_webhook_is_400(servers):
    response = await servers.post({"hello": "world"})
    assert response.status_code == 400


async def test_a_nul_character_anywhere_in_a_webhook_is_stored_as_a_replacement_not_a_500(servers, add, flows, query):
    """PostgreSQL cannot store U+0000; Meta would redeliver a 500 for days."""
    servers.sandbox.config.send_statuses = False  # its own "failed" below must be the last status
    await add("cadastro", flows["name"])
    from api.sandbox import webhooks

    doc = webhooks.inbound_message("100200300", "5511966667777", webhooks.text_message("oi\u0000 tudo"),
                                   profile_name="Ana\u0000")
    assert b"\\u0000" in json.dumps(doc).encode()  # on the wire it is JSON's escape
    response = await servers.post(doc)
    assert response.status_code == 200 and response.json()["stored"] == 1
    await servers.wait_for(lambda: servers.inbox("5511966667777"))  # and the flow ran
    message = (await query("SELECT content FROM messages WHERE direction = 'inbound'"))[0]
    assert message["content"]["text"] == "oi\ufffd tudo"
    assert (await query("SELECT whatsapp_name FROM contacts"))[0]["whatsapp_name"] == "Ana\ufffd"
    wamid = servers.inbox("5511966667777")[0]["id"]
    await servers.wait_for(lambda: query("SELECT id FROM messages WHERE whatsapp_message_id = :w", w=wamid))
    failed = webhooks.status_update("100200300", wamid, "failed", "5511966667777", errors=[
        {"code": 131026, "title": "Message undeliverable", "message": "bad\u0000byte"}])
    assert (await servers.post(failed)).status_code == 200
    rows = await query("SELECT status, error_message FROM messages WHERE whatsapp_message_id = :w", w=wamid)
    assert rows[0]["status"] == "failed" and "\ufffd" in rows[0]["error_message"]


async def test_values_longer_than_their_columns_are_cut_or_skipped_not_a_500(servers, add, flows, query):
    await add("cadastro", flows["name"])
    from api.sandbox import webhooks

    doc = webhooks.inbound_message("100200300", "5511966668888", webhooks.text_message("oi"),
                                   profile_name="N" * 400)
    bogus = webhooks.inbound_message("100200300", "5511966668888", webhooks.text_message("x"),
                                     wamid="wamid." + "x" * 300)["entry"][0]["changes"][0]["value"]["messages"][0]
    doc["entry"][0]["changes"][0]["value"]["messages"].append(bogus)
    doc["entry"][0]["changes"][0]["value"]["statuses"] = [
        webhooks.status_update("100200300", "wamid." + "y" * 300, "read", "5511966668888")
        ["entry"][0]["changes"][0]["value"]["statuses"][0]]
    response = await servers.post(doc)
    assert response.status_code == 200
    assert (response.json()["stored"], response.json()["statuses_matched"]) == (1, 0)  # the bogus ids skipped
    assert (await query("SELECT whatsapp_name FROM contacts"))[0]["whatsapp_name"] == "N" * 255
    assert len(await query("SELECT id FROM messages WHERE direction = 'inbound'")) == 1


def _deep(levels: int, leaf: str = "") -> dict:
    doc: dict = {"leaf": leaf}
    for _ in range(levels):
        doc = {"a": doc}
    return doc


async def _post_raw(servers, doc: dict):
    """Signed as Meta signs; json.dumps with room to recurse (orjson and the default limit stop earlier)."""
    import sys

    from api.whatsapp.signature import sign

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)
    try:
        body = json.dumps(doc).encode()
    finally:
        sys.setrecursionlimit(limit)
    return await servers.client.post(servers.pytake_url + "/webhooks/whatsapp", content=body,
                                     headers={"X-Hub-Signature-256": sign("test-app-secret", body)})


async def test_a_webhook_nested_beyond_the_depth_limit_is_400_and_nothing_stored(servers, add, flows, query):
    """Beyond `WEBHOOK_MAX_DEPTH` (Meta's payloads are ~10 levels) the whole body is refused
    before anything is stored, well before the parser's own limit."""
    await add("cadastro", flows["name"])
    from api.sandbox import webhooks

    doc = webhooks.inbound_message("100200300", "5511966660000", webhooks.text_message("oi"))
    deep = webhooks.inbound_message("100200300", "5511966660000", {"type": "brand_new", "brand_new": _deep(1000)})
    doc["entry"][0]["changes"][0]["value"]["messages"].append(deep["entry"][0]["changes"][0]["value"]["messages"][0])
    response = await _post_raw(servers, doc)
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"
    assert await query("SELECT id FROM messages") == []
    # with a NUL to replace as well: refused the same way, not a 500
    response = await _post_raw(servers, {"object": "whatsapp_business_account", "entry": [_deep(1000, "\x00")]})
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"


async def test_redelivered_message_is_a_no_op(servers, add, flows, query):
    await add("cadastro", flows["name"])
    from api.sandbox import webhooks

    doc = webhooks.inbound_message("100200300", "5511977778888", webhooks.text_message("oi"))
    assert (await servers.post(doc)).status_code == 200
    again = await servers.post(doc)
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    await servers.wait_for(lambda: servers.inbox("5511977778888"))
    inbound = await query("SELECT id FROM messages WHERE direction = 'inbound'")
    conv = await query("SELECT message_count FROM conversations")
    assert len(inbound) == 1
    assert conv[0]["message_count"] >= 1
    outbound = await query("SELECT id FROM messages WHERE direction = 'outbound'")
    assert len(outbound) == 1  # the question was asked once


async def test_verification_handshake_echoes_challenge_for_known_token(servers):
    url = servers.pytake_url + "/webhooks/whatsapp"
    ok = await servers.client.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "test-verify-token",
                                               "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = await servers.client.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "nope",
                                                "hub.challenge": "1"})
    assert bad.status_code == 403


async def test_verification_accepts_the_numbers_own_token(servers, db):
    from sqlalchemy import text

    async with db.transaction() as s:
        await s.execute(text("UPDATE whatsapp_numbers SET settings = '{\"verify_token\": \"num-token\"}'"))
    ok = await servers.client.get(servers.pytake_url + "/webhooks/whatsapp", params={
        "hub.mode": "subscribe", "hub.verify_token": "num-token", "hub.challenge": "42"})
    assert ok.status_code == 200 and ok.text == "42"


async def test_reply_buttons_reach_the_customer_and_a_tap_continues_the_flow(servers, add, flows):
    await add("menu", flows["menu"])
    from api.sandbox import webhooks

    await servers.customer_says("5511900001111", "oi")
    await servers.wait_for(lambda: servers.inbox("5511900001111"))
    interactive = servers.inbox("5511900001111")[0]["payload"]["interactive"]
    assert [b["reply"]["id"] for b in interactive["action"]["buttons"]] == ["pizza", "human"]
    await servers.post(webhooks.inbound_message("100200300", "5511900001111", webhooks.button_reply("pizza", "Pizza")))
    await servers.wait_for(lambda: len(servers.inbox("5511900001111")) >= 2)
    assert servers.inbox("5511900001111")[1]["payload"]["text"]["body"] == "Pizza escolhida"


async def test_an_agent_reply_written_to_the_outbox_is_sent_after_kick_sender(servers, add, flows, query, redis, db):
    from api.outbox import insert_outbound, kick_sender, outbound_rows

    await add("cadastro", flows["name"])
    await servers.customer_says("5511922223333", "oi")
    await servers.wait_for(lambda: servers.inbox("5511922223333"))
    conversation = (await query("SELECT id FROM conversations"))[0]["id"]
    async with db.transaction() as s:
        ids = await insert_outbound(s, outbound_rows(conversation, [{"type": "text", "content": {"text": "Sou a Ana, do suporte."}}],
                                                     sender_type="agent"))
    await kick_sender(redis, ids)
    await servers.wait_for(lambda: len(servers.inbox("5511922223333")) >= 2)
    assert servers.inbox("5511922223333")[-1]["payload"]["text"]["body"] == "Sou a Ana, do suporte."


async def test_a_number_asking_for_read_receipts_gets_its_customers_messages_marked_read(servers, add, flows, query):
    await add("cadastro", flows["name"])
    from sqlalchemy import text

    async with servers.db.transaction() as s:
        await s.execute(text("UPDATE whatsapp_numbers SET settings = settings || '{\"mark_as_read\": true}'"))
    await servers.customer_says("5511977778888", "oi")
    await servers.wait_for(lambda: servers.inbox("5511977778888"))
    inbound = (await query("SELECT whatsapp_message_id FROM messages WHERE direction = 'inbound'"))[0]
    await servers.wait_for(lambda: servers.sandbox.read_receipts)
    assert servers.sandbox.read_receipts == [inbound["whatsapp_message_id"]]
