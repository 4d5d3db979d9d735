"""A number's ``settings`` keys that the runtime reads are checked when written: a value the
sender or the flow runtime cannot use (a rate of "abc" or 0, a pair limit of 0 s, a chatbot id
that is not one) is a 422 naming the key, and nothing is written. Other keys are kept as given."""

from __future__ import annotations

import uuid

import pytest

from tests.api.resources.conftest import unique_digits

BAD = [
    ({"rate_limit_per_second": "abc"}, "settings.rate_limit_per_second"),
    ({"rate_limit_per_second": 0}, "settings.rate_limit_per_second"),
    ({"rate_limit_per_second": 5000}, "settings.rate_limit_per_second"),
    ({"rate_limit_per_second": True}, "settings.rate_limit_per_second"),
    ({"rate_limit_burst": 0}, "settings.rate_limit_burst"),
    ({"rate_limit_burst": 2.5}, "settings.rate_limit_burst"),
    ({"pair_rate_limit": {"per_seconds": 0}}, "settings.pair_rate_limit"),
    ({"pair_rate_limit": {"burst": "45"}}, "settings.pair_rate_limit"),
    ({"pair_rate_limit": "sometimes"}, "settings.pair_rate_limit"),
    ({"chatbot_id": "abc"}, "settings.chatbot_id"),
    ({"mark_as_read": "yes"}, "settings.mark_as_read"),
]


def _number(settings: dict) -> dict:
    digits = unique_digits()
    return {"phone_number": f"+{digits}", "phone_number_id": f"pn-{digits}", "settings": settings}


@pytest.mark.parametrize(("settings", "field"), BAD, ids=[f"{next(iter(s))}={next(iter(s.values()))!r}"
                                                          for s, _ in BAD])
async def test_a_setting_the_runtime_cannot_use_is_refused_naming_it(admin_api, seed, settings, field) -> None:
    _, before = await admin_api.get("/whatsapp-numbers")
    status, body = await admin_api.post("/whatsapp-numbers", _number(settings))
    assert status == 422, body
    assert body["error"]["field"].startswith(field), body
    _, after = await admin_api.get("/whatsapp-numbers")
    assert after["total"] == before["total"]  # nothing written

    number = await admin_api.created("/whatsapp-numbers", _number({"rate_limit_per_second": 20}))
    status, body = await admin_api.patch(f"/whatsapp-numbers/{number['id']}", {"settings": settings})
    assert status == 422, body
    assert body["error"]["field"].startswith(field), body
    _, kept = await admin_api.get(f"/whatsapp-numbers/{number['id']}")
    assert kept["settings"] == {"rate_limit_per_second": 20}


async def test_usable_settings_are_stored_as_given_with_the_other_keys(admin_api, seed) -> None:
    chatbot = str(uuid.uuid4())
    settings = {"rate_limit_per_second": 250, "rate_limit_burst": 10, "chatbot_id": chatbot.upper(),
                "pair_rate_limit": {"per_seconds": 3, "burst": 20}, "mark_as_read": True,
                "verify_token": "vt-1", "operator_note": "loja centro"}
    number = await admin_api.created("/whatsapp-numbers", _number(settings))
    _, stored = await admin_api.get(f"/whatsapp-numbers/{number['id']}")
    assert stored["settings"] == {**settings, "chatbot_id": chatbot}
    for off in (None, False, "default"):
        status, body = await admin_api.patch(f"/whatsapp-numbers/{number['id']}", {"settings": {"pair_rate_limit": off}})
        assert status == 200, body
        assert body["settings"]["pair_rate_limit"] == off
