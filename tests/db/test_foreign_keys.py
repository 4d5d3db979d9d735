"""ON DELETE rules of SCHEMA.md, as a user of the data would notice them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from api.db.messages import add_message_once
from api.db.models import (
    Campaign, CampaignRecipient, Contact, Conversation, Department, Flow, Message, Node,
    Organization,
    User, WhatsAppNumber,
)


async def _count(db, model) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar()


async def _message(db, tenant, wamid="wamid.FK1") -> Message:
    async with db.transaction() as s:
        msg = Message(conversation_id=tenant.conversation.id, direction="inbound",
                      content={"text": "oi"}, whatsapp_message_id=wamid)
        await add_message_once(s, msg)
    return msg


async def test_deleting_an_organization_removes_everything_it_owns(db, tenant):
    msg = await _message(db, tenant)
    async with db.transaction() as s:
        campaign = Campaign(organization_id=tenant.organization.id, name="Black Friday",
                            message_content={"text": "promo"})
        s.add(campaign)
        await s.flush()
        s.add(CampaignRecipient(campaign_id=campaign.id, contact_id=tenant.contact.id,
                                message_id=msg.id, message_created_at=msg.created_at))
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM organizations WHERE id = :id"),
                        {"id": tenant.organization.id})
    for model in (Organization, User, Contact, Conversation, Message, Campaign,
                  CampaignRecipient, Node):
        assert await _count(db, model) == 0, model.__tablename__
    async with db.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM message_whatsapp_ids"))).scalar() == 0


async def test_deleting_an_agent_unassigns_their_conversations(db, tenant):
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM users WHERE id = :id"), {"id": tenant.user.id})
    async with db.session() as s:
        conv = (await s.execute(select(Conversation))).scalar_one()
    assert conv.assigned_to is None


async def test_deleting_a_whatsapp_number_keeps_its_department(db, tenant):
    async with db.transaction() as s:
        number = WhatsAppNumber(organization_id=tenant.organization.id,
                                phone_number="+5511999990000", phone_number_id="pn-42")
        s.add(number)
        await s.flush()
        dept = Department(organization_id=tenant.organization.id, name="Suporte",
                          whatsapp_number_id=number.id)
        s.add(dept)
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM whatsapp_numbers WHERE id = :id"), {"id": number.id})
    async with db.session() as s:
        kept = (await s.execute(select(Department))).scalar_one()
    assert kept.whatsapp_number_id is None


async def test_deleting_a_campaign_message_keeps_the_recipient_unlinked(db, tenant):
    msg = await _message(db, tenant)
    async with db.transaction() as s:
        campaign = Campaign(organization_id=tenant.organization.id, name="Promo",
                            message_content={"text": "promo"})
        s.add(campaign)
        await s.flush()
        s.add(CampaignRecipient(campaign_id=campaign.id, contact_id=tenant.contact.id,
                                status="delivered", whatsapp_message_id="wamid.FK1",
                                message_id=msg.id, message_created_at=msg.created_at))
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM conversations WHERE id = :id"),
                        {"id": tenant.conversation.id})
    async with db.session() as s:
        recipient = (await s.execute(select(CampaignRecipient))).scalar_one()
    assert (recipient.message_id, recipient.message_created_at) == (None, None)
    assert (recipient.status, recipient.whatsapp_message_id) == ("delivered", "wamid.FK1")


async def test_deleting_the_creator_of_a_flow_keeps_the_flow(db, tenant):
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM users WHERE id = :id"), {"id": tenant.user.id})
    async with db.session() as s:
        flow = (await s.execute(select(Flow))).scalar_one()
    assert flow.created_by is None


async def test_recipient_message_reference_needs_both_key_columns(db, tenant):
    async with db.transaction() as s:
        campaign = Campaign(organization_id=tenant.organization.id, name="Promo",
                            message_content={"text": "promo"})
        s.add(campaign)
    with pytest.raises(IntegrityError, match="campaign_recipients_message_ref_check"):
        async with db.transaction() as s:
            s.add(CampaignRecipient(campaign_id=campaign.id, contact_id=tenant.contact.id,
                                    message_created_at=datetime.now(timezone.utc)))


async def test_same_whatsapp_contact_twice_in_one_organization_is_refused(db, tenant):
    with pytest.raises(IntegrityError, match="contacts_organization_id_whatsapp_id_key"):
        async with db.transaction() as s:
            s.add(Contact(organization_id=tenant.organization.id, whatsapp_id="5511987654321"))
