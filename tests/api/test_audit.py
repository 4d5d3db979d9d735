"""record_audit: who, what, from where, before/after — secrets masked."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from api.audit import record_audit
from api.auth.principal import Principal, set_principal
from api.db.models import AuditLog


async def _record(app, db, actor, **kwargs) -> AuditLog:
    async with app.test_request_context("/x", method="PATCH",
                                        headers={"User-Agent": "pytest-agent",
                                                 "Remote-Addr": "192.0.2.10"}):
        set_principal(Principal(actor.user_id, actor.org_id, actor.role))
        async with db.transaction() as session:
            await record_audit(session, "contact.updated", "contact", uuid.uuid4(), **kwargs)
    async with db.session() as session:
        return (await session.execute(select(AuditLog))).scalar_one()


async def test_audit_records_who_and_from_where(app, db, agent):
    entry = await _record(app, db, agent, description="renamed")
    assert (entry.user_id, entry.organization_id) == (agent.user_id, agent.org_id)
    assert str(entry.ip_address) == "192.0.2.10"
    assert entry.user_agent == "pytest-agent"
    assert entry.description == "renamed"


async def test_audit_keeps_before_and_after(app, db, agent):
    entry = await _record(app, db, agent, before={"name": "Ana"}, after={"name": "Ana Paula"})
    assert entry.changes == {"before": {"name": "Ana"}, "after": {"name": "Ana Paula"}}


async def test_audit_masks_secret_looking_fields(app, db, agent):
    entry = await _record(app, db, agent, after={"access_token": "EAAG-live", "api_key": "sk-1",
                                                 "name": "Main number"})
    assert entry.changes["after"] == {"access_token": "***", "api_key": "***",
                                      "name": "Main number"}


async def test_audit_values_are_made_json_safe(app, db, agent):
    some_id = uuid.uuid4()
    entry = await _record(app, db, agent, after={"department_id": some_id})
    assert entry.changes["after"]["department_id"] == str(some_id)
