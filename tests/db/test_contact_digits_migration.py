"""Migration 0027: contacts stored as "+5511..." before the API stored Meta's digits
take the digits, or are merged into the digits contact Meta's messages arrive for."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import text

from api.db import migrations
from api.db.session import Database

JAN, FEB, MAR = (datetime(2026, month, 1, tzinfo=timezone.utc) for month in (1, 2, 3))


async def _insert(s, table: str, **values) -> object:
    columns = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    return (await s.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id"), values)).scalar()


async def _contact(s, org, whatsapp_id: str, **values) -> object:
    return await _insert(s, "contacts", organization_id=org, whatsapp_id=whatsapp_id, **values)


async def test_plus_contacts_take_the_digits_or_merge_into_their_twin(empty_database_url):
    migrations.upgrade(empty_database_url, "0026")
    db = Database(empty_database_url)
    try:
        async with db.transaction() as s:
            org, other_org = [await _insert(s, "organizations", name=n, slug=n) for n in ("a", "b")]
            alone = await _contact(s, org, "+5511111111111", name="Alone")
            other = await _contact(s, other_org, "5511111111111", name="Other org")
            # a CRM import and the customer's own messages: the same person twice
            crm = await _contact(s, org, "+5511222222222", name="Ana", email="ana@example.com",
                                 tags=["vip", "promo"], attributes='{"city": "Recife", "plan": "gold"}',
                                 notes="from the CRM", opt_in=False, opt_out_date=JAN, total_messages=0,
                                 created_at=JAN)
            wa = await _contact(s, org, "5511222222222", whatsapp_name="Ana WA", tags=["promo", "new"],
                                attributes='{"city": "Olinda"}', opt_in=True, total_messages=5,
                                total_conversations=1, last_message_at=MAR, created_at=FEB)
            # opted out on the + contact, opted back in later on the twin
            back_plus = await _contact(s, org, "+5511333333333", opt_in=False, opt_out_date=JAN)
            back = await _contact(s, org, "5511333333333", opt_in=True, opt_in_date=FEB)
            # an opt-out with no date outlasts any opt-in
            out_plus = await _contact(s, org, "+5511444444444", opt_in=False)
            out = await _contact(s, org, "5511444444444", opt_in=True, opt_in_date=FEB)
            # the twin deleted, the + contact alive and holding the business-scoped user id
            alive_plus = await _contact(s, org, "+5511555555555", bsuid="BR.alive", is_blocked=True)
            gone = await _contact(s, org, "5511555555555", deleted_at=FEB)

            conversation_crm = await _insert(s, "conversations", organization_id=org, contact_id=crm)
            conversation_wa = await _insert(s, "conversations", organization_id=org, contact_id=wa)
            both, only_crm = [await _insert(s, "campaigns", organization_id=org, name=n, message_content="{}")
                              for n in ("both", "only crm")]
            recipient_both_crm = await _insert(s, "campaign_recipients", campaign_id=both, contact_id=crm)
            recipient_both_wa = await _insert(s, "campaign_recipients", campaign_id=both, contact_id=wa)
            recipient_only_crm = await _insert(s, "campaign_recipients", campaign_id=only_crm, contact_id=crm)
            await s.execute(text("CREATE TABLE message_logs_test PARTITION OF message_logs "
                                 "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"))
            await s.execute(text(
                "INSERT INTO message_logs (message_id, organization_id, conversation_id, contact_id, created_at) "
                "VALUES (gen_random_uuid(), :org, :conv, :crm, :at)"), {"org": org, "conv": conversation_crm,
                                                                        "crm": crm, "at": FEB})
            await _insert(s, "conversation_logs", id=conversation_crm, organization_id=org,
                          conversation_id=conversation_crm, contact_id=crm, session_start=FEB)

        migrations.upgrade(empty_database_url)

        async with db.session() as s:
            rows = {r.id: r for r in (await s.execute(text("SELECT * FROM contacts"))).all()}
            conversations = dict((await s.execute(text("SELECT id, contact_id FROM conversations"))).all())
            recipients = dict((await s.execute(text("SELECT id, contact_id FROM campaign_recipients"))).all())
            logged = {(await s.execute(text(f"SELECT contact_id FROM {t}"))).scalar()
                      for t in ("message_logs", "conversation_logs")}
    finally:
        await db.dispose()

    assert rows[alone].whatsapp_id == "5511111111111" and rows[alone].deleted_at is None
    assert rows[other].whatsapp_id == "5511111111111" and rows[other].name == "Other org"

    kept = rows[wa]
    assert kept.whatsapp_id == "5511222222222" and kept.deleted_at is None
    assert (kept.name, kept.email, kept.whatsapp_name) == ("Ana", "ana@example.com", "Ana WA")
    assert kept.tags == ["promo", "new", "vip"]
    assert kept.attributes == {"city": "Olinda", "plan": "gold"}
    assert kept.notes == "from the CRM"
    assert kept.opt_in is False and kept.opt_out_date == JAN  # the CRM's opt-out reaches the customer
    assert (kept.total_messages, kept.total_conversations) == (5, 1)
    assert (kept.created_at, kept.last_message_at) == (JAN, MAR)
    merged = rows[crm]
    assert merged.whatsapp_id == "+5511222222222" and merged.deleted_at is not None

    assert conversations == {conversation_crm: wa, conversation_wa: wa}
    assert recipients == {recipient_both_crm: crm, recipient_both_wa: wa, recipient_only_crm: wa}
    assert logged == {wa}

    assert rows[back].opt_in is True and rows[back_plus].deleted_at is not None
    assert rows[out].opt_in is False and rows[out_plus].deleted_at is not None

    assert rows[gone].deleted_at is None and rows[gone].bsuid == "BR.alive" and rows[gone].is_blocked is True
    assert rows[alive_plus].bsuid is None and rows[alive_plus].deleted_at is not None
