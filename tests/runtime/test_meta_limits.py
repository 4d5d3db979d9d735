"""A flow whose templates render past Meta's limits still reaches the customer:
the runtime fits what it writes to the outbox, the sandbox (which refuses what
Meta refuses) takes every request, and the adjustment is on record."""

from __future__ import annotations

from api.outbox import Sender

NAME = "Maria Aparecida dos Santos Oliveira Costa"  # 41 characters: a button title takes 20
WA_ID = "5511900007001"


def words(n: int) -> str:
    return " ".join(f"item{i}" for i in range(n))


LONG_FLOW = {
    "nodes": [
        {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
        {"id": "menu", "type": "message", "position": {"x": 0, "y": 0}, "data": {
            "text": "{{message.text}}\nO que deseja?",
            "buttons": [{"id": "eu", "title": "{{contact.name}}"}, {"id": "outro", "title": "Outra pessoa"}]}},
        {"id": "audio", "type": "message", "position": {"x": 0, "y": 0}, "data": {
            "media_url": "https://example.com/boas-vindas.ogg", "media_type": "audio",
            "text": "Ouça, {{contact.name}}"}},
        {"id": "end", "type": "end", "position": {"x": 0, "y": 0}, "data": {}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "menu", "sourceHandle": "next"},
              {"id": "e2", "source": "menu", "target": "audio", "sourceHandle": "next"},
              {"id": "e3", "source": "audio", "target": "end", "sourceHandle": "next"}],
}


async def test_rendered_values_past_metas_limits_are_fitted_and_every_request_is_accepted(local, add, query):
    await add("longo", LONG_FLOW)
    said = words(300)  # about 2,000 characters: over the 1,024 of an interactive body
    assert len(said) > 1024
    result = await local.say(WA_ID, said, profile_name=NAME)
    await Sender(local.rt).deliver_conversation(result.conversations[0])

    state = local.sandbox.state
    assert state.rejected == []
    payloads = [m["payload"] for m in state.accepted]
    assert [p["type"] for p in payloads] == ["text", "interactive", "audio", "text"]
    assert payloads[0]["text"]["body"] == said
    interactive = payloads[1]["interactive"]
    assert interactive["body"]["text"] == "O que deseja?"
    assert [b["reply"]["title"] for b in interactive["action"]["buttons"]] == [NAME[:19] + "…", "Outra pessoa"]
    assert payloads[2]["audio"] == {"link": "https://example.com/boas-vindas.ogg"}
    assert payloads[3]["text"]["body"] == f"Ouça, {NAME}"

    outbound = await query("SELECT status FROM messages WHERE direction = 'outbound' ORDER BY created_at")
    assert [r["status"] for r in outbound] == ["sent"] * 4
    inbound = (await query("SELECT metadata FROM messages WHERE direction = 'inbound'"))[0]["metadata"]
    adjusted = inbound["run"]["adjusted"]
    assert [(a["node"], a["type"]) for a in adjusted] == [("menu", "button"), ("audio", "audio")]
    assert {a["field"] for a in adjusted[0]["adjustments"]} == {"text", "buttons[0].title"}


async def test_a_chatbot_text_past_4096_characters_goes_out_in_parts(local, add, query, db):
    from sqlalchemy import text

    await add("longo", LONG_FLOW)
    welcome = words(1000)  # about 6,900 characters
    async with db.transaction() as s:
        await s.execute(text("UPDATE chatbots SET welcome_message = :w"), {"w": welcome})
    result = await local.say(WA_ID, "oi", profile_name="Ana")
    await Sender(local.rt).deliver_conversation(result.conversations[0])

    state = local.sandbox.state
    assert state.rejected == []
    texts = [m["payload"]["text"]["body"] for m in state.accepted if m["type"] == "text"]
    assert all(len(t) <= 4096 for t in texts)
    assert " ".join(texts[:2]) == welcome
