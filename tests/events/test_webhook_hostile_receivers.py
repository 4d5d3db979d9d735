"""Receivers that answer strangely must not break delivery: whatever a customer's
server sends back, the attempt is recorded (once), and other webhooks' deliveries
in the same round are recorded too."""

from __future__ import annotations

from typing import AsyncIterator, Callable

import pytest
from aiohttp import web
from sqlalchemy import text

from tests.events.conftest import until, write_events
from tests.events.receiver import Receiver


@pytest.fixture
async def odd() -> AsyncIterator[Callable[..., Receiver]]:
    """A receiver whose whole answer (status, headers, body bytes) the test sets."""
    started: list[Receiver] = []

    async def make(answer: Callable[[], web.Response]) -> Receiver:
        r = await Receiver(answer=lambda _r, _b: answer()).start()
        started.append(r)
        return r

    yield make
    for r in started:
        await r.stop()


async def _states(db, hook) -> list[tuple[str, int | None, str | None]]:
    async with db.session() as s:
        rows = await s.execute(text("SELECT state, status_code, response_body FROM webhook_deliveries "
                                    "WHERE webhook_id = :h"), {"h": hook})
        return [tuple(r) for r in rows]


async def _delivered(db, hook):
    rows = await _states(db, hook)
    return rows if rows and all(r[0] == "delivered" for r in rows) else None


@pytest.mark.parametrize("charset", ["no-such-charset", "base64"])  # unknown; a codec that is not for text
async def test_an_answer_in_an_unknown_charset_is_recorded_as_delivered(db, org, make_webhook, odd, deliverers,
                                                                        charset):
    bad = await odd(lambda: web.Response(status=200, body=b"ok thanks",
                                         headers={"Content-Type": f"text/plain; charset={charset}"}))
    hook = await make_webhook(bad.url)
    deliverers(1)
    await write_events(db, org, ("contact.created", {"contact": {"id": "c1"}}, None))
    [(state, code, body)] = await until(lambda: _delivered(db, hook))
    assert (state, code, body) == ("delivered", 200, "ok thanks")
    assert len(bad.received) == 1


async def test_an_answer_with_a_nul_byte_does_not_stop_other_webhooks_being_recorded(
        db, org, make_webhook, odd, delivery_settings):
    from api.events.webhooks import Deliverer, dispatch

    bad = await odd(lambda: web.Response(status=200, body=b"ok\x00\x00binary", content_type="text/plain"))
    good = await odd(lambda: web.Response(status=200, text="fine"))
    bad_hook = await make_webhook(bad.url)
    good_hook = await make_webhook(good.url)
    await write_events(db, org, ("contact.created", {"contact": {"id": "c1"}}, None))
    deliverer = Deliverer(db, delivery_settings)
    try:
        await until(lambda: dispatch(db))
        assert await deliverer.deliver_due() == 2  # one round: both answers recorded by one statement
    finally:
        await deliverer.aclose()
    assert await _states(db, good_hook) == [("delivered", 200, "fine")]
    [(state, code, body)] = await _states(db, bad_hook)
    assert (state, code) == ("delivered", 200) and body.startswith("ok") and "\x00" not in body
