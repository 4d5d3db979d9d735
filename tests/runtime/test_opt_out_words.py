"""The organization's opt-out words as customers meet them (docs/campaigns.md, "Replies and opt-out")."""

from __future__ import annotations

import json

from sqlalchemy import text


async def org_settings(db, seeded, **values):
    async with db.transaction() as s:
        await s.execute(text("UPDATE organizations SET settings = COALESCE(settings, '{}'::jsonb) || CAST(:s AS jsonb) "
                             "WHERE id = :o"), {"o": seeded.organization_id, "s": json.dumps(values)})


async def opted_in(query, wa_id):
    return (await query("SELECT opt_in FROM contacts WHERE whatsapp_id = :w", w=wa_id))[0]["opt_in"]


async def sent_texts(query):
    found = await query("SELECT content FROM messages WHERE direction = 'outbound' ORDER BY created_at, id")
    return [r["content"].get("text") for r in found]


LOCATION = {"type": "location", "location": {"latitude": -23.55, "longitude": -46.63, "name": "Loja"}}


async def test_a_message_without_words_is_no_opt_out_even_with_an_emoji_word(local, db, seeded, query):
    await org_settings(db, seeded, campaign_opt_out_keywords=["PARAR", "🛑"],
                       campaign_opt_out_reply="Você não receberá mais campanhas.")
    await local.say("5511900000301", LOCATION)
    assert await opted_in(query, "5511900000301") is not False
    assert await sent_texts(query) == ["Não entendi."]
