"""A real `pytake worker` killed mid-campaign: nothing sent twice, nothing skipped.

The first worker is SIGKILLed while it sends; a second one takes the campaign over
(the maintenance chore wakes running campaigns nobody runs once the dead runner's
lease expires) and continues with the recipients never handed to the outbox. The
rows the dead worker had claimed are never sent again: those whose request was
made reached the customer; those in flight at the kill are the only ones that can
be missing, and they end ``failed`` with "delivery unknown" (at most one batch).
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import timedelta

from sqlalchemy import text

from api.campaigns import start
from api.db.models import Campaign, WhatsAppTemplate
from api.outbox import reconcile_abandoned_claims
from api.workers.queue import RUN_CAMPAIGN, enqueue
from tests.runtime.campaign_helpers import add_contacts, counts, mismatches
from tests.runtime.conftest import APP_SECRET
from tests.runtime.test_recovery import _until, _worker, sandbox  # noqa: F401 - the fixture

RECIPIENTS = 800
RATE = 100  # per second: the kill lands mid-campaign; a batch is a tenth of it


def _received(state) -> Counter:
    return Counter(wa_id for wa_id, inbox in list(state.inboxes.items()) if wa_id.startswith("55719")
                   for m in inbox if m["type"] == "template")


async def test_a_killed_worker_mid_campaign_sends_nothing_twice_and_skips_nothing(
        sandbox, db, redis, runtime, seeded, database_url, redis_url, tmp_path):  # noqa: F811
    sandbox_url, state = sandbox
    org = seeded.organization_id
    async with db.transaction() as s:
        await s.execute(text("UPDATE whatsapp_numbers SET settings = jsonb_build_object('rate_limit_per_second', "
                             "CAST(:r AS int)) WHERE id = :n"), {"r": RATE, "n": seeded.number_id})
        await s.execute(text("UPDATE organizations SET monthly_message_limit = NULL WHERE id = :o"), {"o": org})
        template = WhatsAppTemplate(organization_id=org, whatsapp_number_id=seeded.number_id, name="aviso",
                                    language="pt_BR", category="UTILITY", meta_status="APPROVED",
                                    body_text="Aviso importante.")
        s.add(template)
        await s.flush()
        campaign = Campaign(organization_id=org, name="Aviso", template_id=template.id, message_content={},
                            target_type="all", target_filters={})
        s.add(campaign)
        await s.flush()
        campaign_id = campaign.id
    await add_contacts(db, org, RECIPIENTS, prefix="55719", tags=[])
    async with db.transaction() as s:
        await start(s, campaign_id, org)

    env = os.environ | {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "PYTAKE_DATA_DIR": str(tmp_path),
                        "PYTAKE_GRAPH_API_URL": sandbox_url, "PYTAKE_WHATSAPP_APP_SECRET": APP_SECRET}
    log = tmp_path / "workers.log"
    workers = [_worker(env, log)]
    try:
        await enqueue(redis, RUN_CAMPAIGN, str(campaign_id))
        await _until(lambda: sum(_received(state).values()) >= 150, 180, "the first worker sending")
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        at_kill = sum(_received(state).values())
        assert at_kill < RECIPIENTS, "the campaign finished before the kill"
        async with db.session() as s:
            dead_claims = set((await s.execute(text(
                "SELECT DISTINCT metadata->>'claim_token' FROM messages WHERE metadata->>'campaign_id' = :c"),
                {"c": str(campaign_id)})).scalars())

        workers.append(_worker(env, log))  # takes the campaign over once the dead runner's lease expires

        async def only_dead_claims_left() -> bool:
            async with db.session() as s:
                return (await s.execute(text(
                    "SELECT count(*) FROM campaign_recipients r "
                    "LEFT JOIN messages m ON m.id = r.message_id AND m.created_at = r.message_created_at "
                    "WHERE r.campaign_id = :c AND r.status = 'pending' "
                    "AND (m.id IS NULL OR NOT (m.metadata->>'claim_token' = ANY(:dead)))"),
                    {"c": campaign_id, "dead": list(dead_claims)})).scalar() == 0
        deadline = 300
        import asyncio
        loop = asyncio.get_running_loop()
        until = loop.time() + deadline
        while not await only_dead_claims_left():
            assert loop.time() < until, log.read_text()[-3000:]
            await asyncio.sleep(0.1)

        # the dead worker's claims: never resent; the sweep's reconciliation, without its grace period
        await reconcile_abandoned_claims(runtime, grace=timedelta(0))

        async def completed() -> bool:
            return (await counts(db, campaign_id))["status"] == "completed"
        until = loop.time() + 120
        while not await completed():
            assert loop.time() < until, log.read_text()[-3000:]
            await asyncio.sleep(0.1)
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()

    received = _received(state)
    assert set(received.values()) == {1}, "a recipient got the campaign twice"
    row = await counts(db, campaign_id)
    assert not mismatches(row), mismatches(row)
    assert row["recipients"] == RECIPIENTS and row["pending"] == 0 and row["skipped"] == 0
    async with db.session() as s:
        recipients = (await s.execute(text(
            "SELECT k.whatsapp_id, r.status, r.error_message, r.message_id FROM campaign_recipients r "
            "JOIN contacts k ON k.id = r.contact_id WHERE r.campaign_id = :c"), {"c": campaign_id})).all()
    assert all(r.message_id is not None for r in recipients)  # every one handed to the outbox, once
    missing = [r for r in recipients if r.whatsapp_id not in received]
    # only requests in flight at the kill can be missing, and they say so
    assert all(r.status == "failed" and "delivery unknown" in r.error_message for r in missing), missing
    assert len(missing) <= RATE // 10
    sent_after_kill = sum(received.values()) - at_kill
    assert sent_after_kill > 0
