"""The organization's opt-in words as customers meet them (docs/campaigns.md, "Replies and opt-out"):
an opted-out customer's word opts it back in; from anyone else the word is an ordinary message."""

from __future__ import annotations

from api.sandbox import webhooks
from tests.runtime.conftest import _canvas
from tests.runtime.test_opt_out_words import org_settings, sent_texts

BACK_MENU = _canvas(  # a Brazilian menu's "Voltar" (go back) button
    [{"id": "start", "type": "start"},
     {"id": "menu", "type": "question", "data": {
         "text": "Escolha", "variable": "choice",
         "options": [{"id": "pedidos", "title": "Pedidos"}, {"id": "voltar", "title": "Voltar"}]}},
     {"id": "back", "type": "message", "data": {"text": "Menu principal"}},
     {"id": "end", "type": "end"}],
    [("start", "menu", None), ("menu", "back", "voltar"), ("menu", "end", "pedidos"), ("back", "end", None)])


async def contact(query, wa_id):
    return (await query("SELECT opt_in, opt_in_date FROM contacts WHERE whatsapp_id = :w", w=wa_id))[0]


async def test_the_opt_in_word_opts_back_in_only_a_contact_who_opted_out(local, add, flows, query):
    await add("promo", flows["promo"], keywords=["voltar"])
    await local.say("5511900000401", "VOLTAR")  # never opted out: the flow its keyword starts
    assert await sent_texts(query) == ["Promoções de hoje!"]
    assert dict(await contact(query, "5511900000401")) == {"opt_in": True, "opt_in_date": None}

    await local.say("5511900000402", "PARAR")
    await local.say("5511900000402", "VOLTAR")
    back = await contact(query, "5511900000402")
    assert back["opt_in"] is True and back["opt_in_date"] is not None
    assert (await sent_texts(query))[1:] == [
        "Pronto! Você não receberá mais nossas mensagens. Para voltar a recebê-las, responda VOLTAR.",
        "Pronto! Você voltará a receber nossas mensagens. Para deixar de recebê-las, responda PARAR."]


async def test_the_organizations_opt_in_words_and_reply_replace_the_defaults(local, db, seeded, query):
    await org_settings(db, seeded, campaign_opt_out_keywords=["Sair"], campaign_opt_out_reply="Até logo!",
                       campaign_opt_in_keywords=["Quero de volta"], campaign_opt_in_reply="Bem-vindo de volta!")
    await local.say("5511900000403", "sair")
    await local.say("5511900000403", "START")  # a default the organization replaced: an ordinary message
    assert (await contact(query, "5511900000403"))["opt_in"] is False
    await local.say("5511900000403", "quero de volta")
    assert (await contact(query, "5511900000403"))["opt_in"] is True
    assert await sent_texts(query) == ["Até logo!", "Não entendi.", "Bem-vindo de volta!"]


async def test_empty_replies_opt_out_and_back_in_silently(local, db, seeded, query):
    await org_settings(db, seeded, campaign_opt_out_reply="", campaign_opt_in_reply="")
    await local.say("5511900000404", "stop")
    await local.say("5511900000404", "Start")
    assert (await contact(query, "5511900000404"))["opt_in"] is True
    assert await sent_texts(query) == []


async def test_the_default_reply_speaks_the_chatbots_language(local, db, seeded, query):
    from sqlalchemy import text

    async with db.transaction() as s:
        await s.execute(text("UPDATE chatbots SET settings = COALESCE(settings, '{}'::jsonb) || '{\"language\": \"en\"}' "
                             "WHERE id = :c"), {"c": seeded.chatbot_id})
    await local.say("5511900000405", "STOP")
    await local.say("5511900000405", "start")
    assert await sent_texts(query) == ["Done! You will not receive our messages any more. To receive them again, "
                                       "reply VOLTAR.",
                                       "Done! You will receive our messages again. To stop them, reply PARAR."]


async def test_tapping_the_bots_voltar_button_answers_it_and_does_not_opt_back_in(local, add, query):
    await local.say("5511900000406", "PARAR")
    await add("menu", BACK_MENU, keywords=["menu"])
    await local.say("5511900000406", "menu")
    await local.say("5511900000406", webhooks.button_reply("voltar", "Voltar"))
    assert (await contact(query, "5511900000406"))["opt_in"] is False
    assert (await sent_texts(query))[-1] == "Menu principal"


async def test_typing_voltar_while_the_bot_waits_for_an_answer_answers_it_and_does_not_opt_back_in(
        local, add, query):
    await local.say("5511900000407", "PARAR")
    await add("menu", BACK_MENU, keywords=["menu"])
    await local.say("5511900000407", "menu")
    await local.say("5511900000407", "voltar")  # typed, not tapped: the menu's answer all the same
    assert (await contact(query, "5511900000407"))["opt_in"] is False
    assert (await sent_texts(query))[-1] == "Menu principal"
    await local.say("5511900000407", "VOLTAR")  # the flow has ended: now the word is the opt-in
    assert (await contact(query, "5511900000407"))["opt_in"] is True


async def test_a_keyword_opt_out_and_opt_in_are_contact_updated_events_once_each(local, query):
    await local.say("5511900000405", "PARAR")
    await local.say("5511900000405", "PARAR")  # already out: no change, no event
    await local.say("5511900000405", "VOLTAR")
    await local.say("5511900000405", "VOLTAR")  # back in already: an ordinary message, no event

    rows = await query("SELECT payload FROM events WHERE type = 'contact.updated' ORDER BY id")
    changes = [r["payload"]["changes"] for r in rows]
    assert [c["opt_in"] for c in changes] == [False, True], changes
    assert changes[0]["opt_out_date"] and changes[1]["opt_in_date"]
    assert {r["payload"]["contact"]["whatsapp_id"] for r in rows} == {"5511900000405"}
