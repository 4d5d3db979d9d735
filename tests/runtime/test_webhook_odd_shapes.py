"""Webhook bodies Meta's shape allows to be odd, found by fuzzing: each is answered (never a 500,
which Meta redelivers for days) and the customer still gets the bot's reply. A template webhook's
``changes`` that is a number; a message whose ``text`` or ``caption`` is not text (it crashed the
step: the customer got nothing); a message timestamp of the year 1 (stored as -infinity, and the
reply's send then failed on every attempt)."""

from __future__ import annotations

from api.sandbox import webhooks
from tests.runtime.conftest import ECHO_FLOW, PNID, rows


def _replies(servers, wa_id: str) -> list[str]:
    return [m["payload"]["text"]["body"] for m in servers.inbox(wa_id) if m["type"] == "text"]


async def test_changes_that_is_not_a_list_is_answered(servers):
    for changes in (5, True, 1.5, "x"):
        response = await servers.post({"object": "whatsapp_business_account",
                                       "entry": [{"id": "1", "changes": changes}]})
        assert response.status_code == 200, (changes, response.text)


async def test_a_message_whose_text_or_caption_is_not_text_still_gets_its_reply(servers, add):
    await add("eco", ECHO_FLOW)
    odd = {
        "5511988000001": {"type": "image", "image": {"id": "m1", "mime_type": "image/jpeg", "caption": {"a": 1}}},
        "5511988000002": {"type": "image", "image": {"id": "m2", "mime_type": "image/jpeg", "text": ["x"]}},
        "5511988000003": {"type": "order", "order": {"catalog_id": "1", "text": {"a": 1}, "product_items": []}},
        "5511988000004": {"type": "location", "location": {"latitude": 1, "longitude": 2, "text": 5}},
    }
    for wa_id, message in odd.items():
        await servers.post(webhooks.inbound_message(PNID, wa_id, message))
    for wa_id in odd:  # the flow's question, asked: the step ran
        assert await servers.wait_for(lambda w=wa_id: _replies(servers, w)) == ["Diga algo"]


async def test_a_message_from_the_year_1_is_taken_as_now_and_answered(servers, add, db):
    await add("eco", ECHO_FLOW)
    doc = webhooks.inbound_message(PNID, "5511988000099", webhooks.text_message("oi"))
    doc["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = "-62135596800"
    assert (await servers.post(doc)).status_code == 200
    assert await servers.wait_for(lambda: _replies(servers, "5511988000099")) == ["Diga algo"]
    [conversation] = await rows(db, "SELECT extract(year FROM last_customer_message_at) AS y, "
                                    "isfinite(twenty_four_hour_window_expires_at) AS finite FROM conversations")
    assert conversation["y"] >= 2026 and conversation["finite"]
