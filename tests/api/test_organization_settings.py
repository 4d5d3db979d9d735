"""PATCH /organization ``settings``: the keys the runtime reads are checked when written.

A timezone the runtime cannot load would schedule campaigns and cut analytics days in UTC;
opt-out or opt-in words that are not a list of words would silently fall back to the defaults,
and a word of both kinds would never opt anyone back in (opt-out wins). Each is a 422 naming
the key, and nothing of the request is written.
"""

from __future__ import annotations

import pytest

BAD = [
    ({"timezone": "America/SaoPaulo"}, "settings.timezone"),
    ({"timezone": "localtime"}, "settings.timezone"),
    ({"timezone": ""}, "settings.timezone"),
    ({"timezone": -3}, "settings.timezone"),
    ({"campaign_opt_out_keywords": "PARAR, STOP"}, "settings.campaign_opt_out_keywords"),
    ({"campaign_opt_out_keywords": ["PARAR", "🛑"]}, "settings.campaign_opt_out_keywords.1"),
    ({"campaign_opt_out_keywords": ["  "]}, "settings.campaign_opt_out_keywords.0"),
    ({"campaign_opt_out_keywords": [7]}, "settings.campaign_opt_out_keywords.0"),
    ({"campaign_opt_out_reply": {"text": "ok"}}, "settings.campaign_opt_out_reply"),
    ({"campaign_opt_in_keywords": "VOLTAR, START"}, "settings.campaign_opt_in_keywords"),
    ({"campaign_opt_in_keywords": ["VOLTAR", "🔁"]}, "settings.campaign_opt_in_keywords.1"),
    ({"campaign_opt_in_keywords": [" "]}, "settings.campaign_opt_in_keywords.0"),
    ({"campaign_opt_in_reply": ["ok"]}, "settings.campaign_opt_in_reply"),
    # a word of both kinds, as the words will be (the other kind's defaults included; case and accents ignored)
    ({"campaign_opt_in_keywords": ["Voltar", "stop"]}, "settings.campaign_opt_in_keywords.1"),
    ({"campaign_opt_out_keywords": ["PARAR", "Voltár"]}, "settings.campaign_opt_out_keywords.1"),
    ({"campaign_opt_out_keywords": ["Sair"], "campaign_opt_in_keywords": ["SAIR"]},
     "settings.campaign_opt_in_keywords.0"),
]


@pytest.mark.parametrize(("settings", "field"), BAD)
async def test_a_setting_the_runtime_cannot_use_is_422_naming_it_and_nothing_is_written(
        client, org_admin, settings, field):
    response = await client.patch("/organization", headers=org_admin.headers,
                                  json={"name": "Not Renamed", "settings": settings})
    assert response.status_code == 422
    assert (await response.get_json())["error"]["field"] == field
    after = await (await client.get("/organization", headers=org_admin.headers)).get_json()
    assert after["name"] != "Not Renamed"
    assert not set(settings) & set(after["settings"])


async def test_usable_settings_are_kept_words_trimmed_and_other_keys_as_given(client, org_admin):
    response = await client.patch("/organization", headers=org_admin.headers, json={"settings": {
        "timezone": "America/Sao_Paulo", "campaign_opt_out_keywords": ["  Parar ", "não quero"],
        "campaign_opt_out_reply": "Pronto.", "theme": {"dark": True}}})
    assert response.status_code == 200
    assert (await response.get_json())["settings"] == {
        "timezone": "America/Sao_Paulo", "campaign_opt_out_keywords": ["Parar", "não quero"],
        "campaign_opt_out_reply": "Pronto.", "theme": {"dark": True}}
    removed = await client.patch("/organization", headers=org_admin.headers,
                                 json={"settings": {"timezone": None}})
    assert "timezone" not in (await removed.get_json())["settings"]


async def test_an_opt_out_word_may_take_a_default_opt_in_word_the_opt_in_words_give_up(client, org_admin):
    response = await client.patch("/organization", headers=org_admin.headers, json={"settings": {
        "campaign_opt_in_keywords": ["Voltar"], "campaign_opt_out_keywords": ["PARAR", "STOP", "START"]}})
    assert response.status_code == 200, await response.get_json()
    clash = await client.patch("/organization", headers=org_admin.headers,
                               json={"settings": {"campaign_opt_in_keywords": None}})  # the defaults again
    assert clash.status_code == 422
    assert (await clash.get_json())["error"]["field"] == "settings.campaign_opt_in_keywords"


async def test_the_accepted_timezones_are_documented(client):
    spec = await (await client.get("/openapi.json")).get_json()
    names = spec["components"]["schemas"]["OrganizationSettings"]["properties"]["timezone"]
    assert "America/Sao_Paulo" in str(names) and "localtime" not in str(names)


async def test_the_opt_in_settings_are_documented(client):
    spec = await (await client.get("/openapi.json")).get_json()
    properties = spec["components"]["schemas"]["OrganizationSettings"]["properties"]
    assert "VOLTAR" in str(properties["campaign_opt_in_keywords"]) and "opt-out" in str(
        properties["campaign_opt_in_keywords"])
    assert "PARAR" in str(properties["campaign_opt_in_reply"])
