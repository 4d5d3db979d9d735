"""Which flow answers: active flow, trigger keywords, main flow, fallback, welcome, handoff, hours."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import text

from api.conversations.business_hours import is_open
from api.conversations.flow_selection import keyword_matches, normalize, normalized_keywords


async def texts_to(local, wa_id):
    return [m["payload"].get("text", {}).get("body") or m["payload"].get("interactive", {}).get("body", {}).get("text")
            for m in local.sandbox.state.inboxes.get(wa_id, [])]


async def sent_texts(query):
    found = await query("SELECT content FROM messages WHERE direction = 'outbound' ORDER BY created_at, id")
    return [r["content"].get("text") for r in found]


async def set_chatbot(db, **values):
    sets = ", ".join(f"{k} = :{k}" for k in values)
    async with db.transaction() as s:
        await s.execute(text(f"UPDATE chatbots SET {sets}"), values)


def test_keywords_match_whole_words_ignoring_case_and_accents():
    assert keyword_matches("promoção", "Quero ver a PROMOCAO de hoje")
    assert keyword_matches("cardápio", "cardapio")
    assert not keyword_matches("oi", "oitenta")


def test_opt_out_words_match_as_each_word_normalized_would():
    """The step checks a message against the set of normalized opt-out words (built once per
    process): the same answer as normalizing each word against the message; a word of
    punctuation only normalizes to "" and matches nothing, not the message without words."""
    words = ("PARAR", "Não quero", "sáir!", "¿¿", "stop")
    for said in ["parar", "nao quero", "Sair", "", "stop please", "quero", "NÃO   QUERO!"]:
        expected = any(normalize(w) and normalize(w) == normalize(said) for w in words)
        assert (normalize(said) in normalized_keywords(words)) is expected, said
    assert normalize("NÃO   QUERO!") in normalized_keywords(words)
    assert normalize("") not in normalized_keywords(words)  # "¿¿"
    assert normalize("") not in normalized_keywords(("stop",))


async def test_trigger_keyword_starts_its_flow(local, add, flows, query):
    await add("cadastro", flows["name"])
    await add("promo", flows["promo"], keywords=["promoção"])
    await local.say("5511900000010", "tem promoção?")
    assert await sent_texts(query) == ["Promoções de hoje!"]


async def test_without_keyword_the_main_flow_runs(local, add, flows, query):
    await add("promo", flows["promo"], keywords=["promoção"])
    await add("cadastro", flows["name"])
    await local.say("5511900000011", "bom dia")
    assert await sent_texts(query) == ["Qual seu nome?"]


async def test_number_specific_main_flow_wins_over_shared_one(local, add, flows, query):
    await add("shared", flows["promo"])
    await add("mine", flows["name"], number_specific=True)
    await local.say("5511900000012", "bom dia")
    assert await sent_texts(query) == ["Qual seu nome?"]


async def test_active_conversation_resumes_its_flow_even_if_the_answer_is_a_keyword(local, add, flows, query):
    await add("cadastro", flows["name"])
    await add("promo", flows["promo"], keywords=["promoção"])
    await local.say("5511900000013", "oi")
    await local.say("5511900000013", "promoção")
    assert await sent_texts(query) == ["Qual seu nome?", "Obrigado, promoção!"]


async def test_no_flow_sends_the_fallback_message(local, query):
    await local.say("5511900000014", "oi")
    assert await sent_texts(query) == ["Não entendi."]


async def test_the_fallback_follows_the_chatbots_language(local, query, db):
    await set_chatbot(db, fallback_message=None, settings='{"language": "en"}')
    await local.say("5511900000041", "hi")
    assert await sent_texts(query) == ["Sorry, I didn't understand. Could you rephrase?"]


async def test_a_flows_built_in_retry_text_follows_the_chatbots_language(local, add, flows, query, db):
    await set_chatbot(db, settings='{"language": "en"}')
    await add("menu", flows["menu"])
    await local.say("5511900000042", "hi")
    await local.say("5511900000042", "nope")
    assert await sent_texts(query) == ["Escolha", "Sorry, that is not a valid answer. Please try again."]


async def test_the_databases_portuguese_default_fallback_follows_the_language_too(local, query, db):
    await set_chatbot(db, fallback_message="Desculpe, não entendi. Pode reformular?", settings='{"language": "es"}')
    await local.say("5511900000043", "hola")
    assert await sent_texts(query) == ["Lo siento, no entendí. ¿Puedes reformularlo?"]


async def test_welcome_message_goes_first_on_the_first_message_only(local, add, flows, query, db):
    await set_chatbot(db, welcome_message="Bem-vindo!")
    await add("eco", flows["echo"])
    await local.say("5511900000015", "oi")
    await local.say("5511900000015", "tudo bem")
    assert await sent_texts(query) == ["Bem-vindo!", "Diga algo", "eco: tudo bem", "Diga algo"]


async def test_conversation_left_to_agents_gets_no_bot_reply(local, add, flows, query, db):
    await add("eco", flows["echo"])
    result = await local.say("5511900000016", "oi")
    async with db.transaction() as s:
        await s.execute(text("UPDATE conversations SET is_bot_active = false"))
    await local.say("5511900000016", "quero falar com alguém")
    assert await sent_texts(query) == ["Diga algo"]
    inbound = await query("SELECT metadata FROM messages WHERE direction = 'inbound' ORDER BY created_at")
    assert [m["metadata"]["processed"] for m in inbound] == [True, True]
    assert result.conversations


def thanked_differently(canvas: dict) -> dict:
    """The name flow with another thank-you text: a second version."""
    return {**canvas, "nodes": [{**n, "data": {**n["data"], "text": "Valeu, {{vars.name}}!"}} if n["id"] == "thanks"
                                else n for n in canvas["nodes"]]}


async def test_running_conversation_stays_on_the_version_it_started(local, add, flows, query, db):
    local.rt.cache_ttl = 0  # see a save at once
    flow_id = await add("cadastro", flows["name"])
    await local.say("5511900000017", "oi")
    changed = thanked_differently(flows["name"])
    from api.db.models import Flow
    from api.services.flow_versions import save_canvas

    async with db.transaction() as s:
        flow = await s.get(Flow, flow_id)
        assert (await save_canvas(s, flow, changed, None, publish=True)).version == 2
    await local.say("5511900000017", "Bia")
    await local.say("5511900000099", "oi")  # a new conversation gets version 2
    await local.say("5511900000099", "Caio")
    texts = await sent_texts(query)
    assert "Obrigado, Bia!" in texts and "Valeu, Caio!" in texts


async def test_a_saved_draft_stays_invisible_to_customers_until_published(local, add, flows, query, db):
    local.rt.cache_ttl = 0  # see a publish at once
    flow_id = await add("cadastro", flows["name"])
    changed = thanked_differently(flows["name"])
    from api.db.models import Flow
    from api.services.flow_versions import publish_version, save_canvas

    async with db.transaction() as s:
        flow = await s.get(Flow, flow_id)
        assert (await save_canvas(s, flow, changed, None)).version == 2  # a draft
    await local.say("5511900000031", "oi")
    await local.say("5511900000031", "Ana")
    assert "Obrigado, Ana!" in await sent_texts(query)
    async with db.transaction() as s:
        flow = await s.get(Flow, flow_id, with_for_update=True)
        assert await publish_version(s, flow, 2, None) is not None
    await local.say("5511900000032", "oi")
    await local.say("5511900000032", "Rui")
    assert "Valeu, Rui!" in await sent_texts(query)


async def test_handoff_keyword_puts_the_conversation_in_the_queue(local, add, flows, query, db):
    await set_chatbot(db, handoff_keywords=["atendente"])
    await add("eco", flows["echo"])
    await local.say("5511900000018", "oi")
    await local.say("5511900000018", "quero um atendente")
    conv = (await query("SELECT is_bot_active, status, entered_queue_at, handoff_reason, flow_variables "
                        "FROM conversations"))[0]
    assert conv["is_bot_active"] is False and conv["status"] == "waiting_in_queue"
    assert conv["entered_queue_at"] is not None and "atendente" in conv["handoff_reason"]
    assert conv["flow_variables"]["state"] is None
    await local.say("5511900000018", "alô?")
    assert await sent_texts(query) == ["Diga algo"]  # the bot stays quiet after the handoff
    # the run that was waiting for an answer ends there, handed to a person (analytics' handoff rate)
    runs = await query("SELECT type, payload FROM events WHERE type IN ('flow.started', 'flow.completed') "
                       "ORDER BY id")
    assert [(r["type"], r["payload"].get("outcome")) for r in runs] == [("flow.started", None),
                                                                        ("flow.completed", "handoff")]
    assert runs[1]["payload"]["flow"] == runs[0]["payload"]["flow"]
    assert runs[1]["payload"]["duration_ms"] >= 0


async def test_handoff_node_queues_in_its_department(local, add, flows, query, db):
    from api.db.models import Department

    async with db.transaction() as s:
        s.add(Department(organization_id=local.seeded.organization_id, name="Suporte"))
    await add("menu", flows["menu"])
    await local.say("5511900000019", "oi")
    from api.sandbox import webhooks

    await local.say("5511900000019", webhooks.button_reply("human", "Atendente"))
    conv = (await query("SELECT c.is_bot_active, c.status, d.name FROM conversations c "
                        "JOIN departments d ON d.id = c.department_id"))[0]
    assert (conv["is_bot_active"], conv["status"], conv["name"]) == (False, "waiting_in_queue", "Suporte")
    assert (await sent_texts(query))[-1] == "Um atendente vai falar com você."


async def test_handoff_outside_business_hours_also_sends_the_away_message(local, add, flows, query, db):
    closed_every_day = {"timezone": "UTC", "days": {d: [] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}
    import json

    async with db.transaction() as s:
        await s.execute(text("UPDATE chatbots SET handoff_keywords = ARRAY['humano'], away_message = 'Voltamos às 9h.', "
                             "business_hours = CAST(:h AS jsonb)"), {"h": json.dumps(closed_every_day)})
    await add("eco", flows["echo"])
    await local.say("5511900000020", "humano")
    assert await sent_texts(query) == ["Voltamos às 9h."]
    assert (await query("SELECT status FROM conversations"))[0]["status"] == "waiting_in_queue"


def test_business_hours_intervals_in_the_configured_timezone():
    hours = {"timezone": "America/Sao_Paulo", "days": {"mon": [["09:00", "18:00"]]}}
    monday_10_sp = datetime(2026, 11, 23, 13, 0, tzinfo=timezone.utc)  # 10:00 in São Paulo
    monday_20_sp = datetime(2026, 11, 23, 23, 0, tzinfo=timezone.utc)
    tuesday_10_sp = datetime(2026, 11, 24, 13, 0, tzinfo=timezone.utc)
    assert is_open(hours, monday_10_sp)
    assert not is_open(hours, monday_20_sp)
    assert not is_open(hours, tuesday_10_sp)
    assert is_open({}, monday_20_sp)


def test_stored_hours_in_an_unknown_zone_are_read_in_utc_and_the_log_says_so_once(caplog):
    """A zone written before the API checked it (or by hand): the hours are kept in UTC, not
    dropped, and the operator is told which setting holds what, once, not on every message."""
    hours = {"timezone": "America/Sao_Paul0", "days": {"mon": [["09:00", "18:00"]]}}
    monday_10_utc = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
    monday_20_utc = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)
    with caplog.at_level("WARNING", logger="pytake.settings"):
        assert is_open(hours, monday_10_utc)
        assert not is_open(hours, monday_20_utc)
    warnings = [r.getMessage() for r in caplog.records if r.name == "pytake.settings"]
    assert len(warnings) == 1
    assert "America/Sao_Paul0" in warnings[0] and "business_hours.timezone" in warnings[0]
    assert "UTC" in warnings[0]


async def test_a_reaction_is_not_taken_as_an_answer(local, add, flows, query):
    await add("cadastro", flows["name"])
    await local.say("5511900000021", "oi")
    await local.say("5511900000021", {"type": "reaction", "reaction": {"message_id": "wamid.x", "emoji": "👍"}})
    await local.say("5511900000021", "Rui")
    assert await sent_texts(query) == ["Qual seu nome?", "Obrigado, Rui!"]


async def test_a_failing_api_call_is_a_log_line_naming_conversation_and_node(local, add, query, caplog):
    canvas = {
        "nodes": [{"id": n, "type": t, "position": {"x": 0, "y": 0}, "data": d} for n, t, d in [
            ("start", "start", {}),
            ("lookup", "api_call", {"url": "http://127.0.0.1:9/orders"}),  # private: refused by the guard
            ("ok", "message", {"text": "ok"}),
            ("sorry", "message", {"text": "Sistema fora do ar"})]],
        "edges": [{"id": "a", "source": "start", "target": "lookup"},
                  {"id": "b", "source": "lookup", "target": "ok", "sourceHandle": "success"},
                  {"id": "c", "source": "lookup", "target": "sorry", "sourceHandle": "error"}],
    }
    await add("pedidos", canvas)
    with caplog.at_level("WARNING", logger="pytake.runtime.processor"):
        await local.say("5511900000051", "oi")
    assert await sent_texts(query) == ["Sistema fora do ar"]
    conversation_id = str((await query("SELECT id FROM conversations"))[0]["id"])
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("api_call failed")]
    assert len(lines) == 1 and conversation_id in lines[0] and '"node":"lookup"' in lines[0].replace(" ", "")
    inbound = (await query("SELECT metadata FROM messages WHERE direction = 'inbound'"))[0]["metadata"]
    assert inbound["run"]["failed_calls"][0]["node"] == "lookup"


def test_business_hours_that_span_midnight_stay_open_into_the_next_day():
    """A bar open Friday 22:00 to 02:00 (São Paulo) answers as open until Saturday 02:00."""
    hours = {"timezone": "America/Sao_Paulo", "days": {"fri": [["22:00", "02:00"]]}}
    sp = ZoneInfo("America/Sao_Paulo")
    assert not is_open(hours, datetime(2026, 11, 27, 21, 59, tzinfo=sp))
    assert is_open(hours, datetime(2026, 11, 27, 23, 0, tzinfo=sp))
    assert is_open(hours, datetime(2026, 11, 28, 1, 30, tzinfo=sp))  # Saturday
    assert not is_open(hours, datetime(2026, 11, 28, 2, 0, tzinfo=sp))
    assert not is_open(hours, datetime(2026, 11, 28, 23, 0, tzinfo=sp))  # Saturday has no hours


def test_business_hours_until_24_00_include_the_last_minute_of_the_day():
    hours = {"timezone": "UTC", "days": {"mon": [["18:00", "24:00"]]}}
    assert is_open(hours, datetime(2026, 11, 23, 23, 59, 30, tzinfo=timezone.utc))
    assert not is_open(hours, datetime(2026, 11, 24, 0, 0, 30, tzinfo=timezone.utc))


def test_business_hours_follow_the_zones_daylight_saving_change():
    """On the Sunday New York springs forward, 09:30 local is 13:30 UTC (not 14:30)."""
    hours = {"timezone": "America/New_York", "days": {"sun": [["09:00", "17:00"]]}}
    assert is_open(hours, datetime(2026, 3, 8, 13, 30, tzinfo=timezone.utc))
    assert not is_open(hours, datetime(2026, 3, 8, 12, 30, tzinfo=timezone.utc))
    assert is_open(hours, datetime(2026, 3, 8, 20, 59, tzinfo=timezone.utc))
