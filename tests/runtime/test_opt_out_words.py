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


async def test_opting_out_again_after_opting_back_in_is_dated_today(local, db, query):
    await local.say("5511900000302", "  Parar!! ")
    out = await query("SELECT opt_in, opt_out_date FROM contacts WHERE whatsapp_id = '5511900000302'")
    assert out[0]["opt_in"] is False and out[0]["opt_out_date"] is not None
    async with db.transaction() as s:  # back in months ago (an agent set opt_in: true)
        await s.execute(text("UPDATE contacts SET opt_in = true, opt_out_date = now() - interval '90 days', "
                             "opt_in_date = now() - interval '60 days' WHERE whatsapp_id = '5511900000302'"))
    await local.say("5511900000302", "STOP")
    again = await query("SELECT opt_in, opt_out_date > now() - interval '1 day' AS today FROM contacts "
                        "WHERE whatsapp_id = '5511900000302'")
    assert (again[0]["opt_in"], again[0]["today"]) == (False, True)
