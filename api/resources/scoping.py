"""Organization scoping and soft delete, in one place.

Every read and every write of a resource row goes through `scoped_select` (or
`scope_condition`), which adds ``organization_id = <caller's org>``. Tables
without an ``organization_id`` column are scoped through their parent
(`PARENTS`): a flow belongs to the org of its chatbot, a message to the org of
its conversation, and so on. A model with neither is refused (fail closed).
Rows with ``deleted_at`` set are invisible here.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.sql.elements import ColumnElement

from api.db import models as m

# model -> (foreign key column on the model, parent model)
PARENTS: dict[type, tuple[Any, type]] = {
    m.Flow: (m.Flow.chatbot_id, m.Chatbot),
    m.Node: (m.Node.flow_id, m.Flow),
    m.FlowVersion: (m.FlowVersion.flow_id, m.Flow),
    m.Message: (m.Message.conversation_id, m.Conversation),
    m.UserDepartment: (m.UserDepartment.department_id, m.Department),
    m.AgentGreeting: (m.AgentGreeting.user_id, m.User),
    m.WebhookDelivery: (m.WebhookDelivery.webhook_id, m.Webhook),
    m.CampaignRecipient: (m.CampaignRecipient.campaign_id, m.Campaign),
}


def has_soft_delete(model: type) -> bool:
    return "deleted_at" in model.__table__.columns


def scope_condition(model: type, organization_id: uuid.UUID, *, include_deleted: bool = False) -> ColumnElement[bool]:
    """The WHERE clause restricting ``model`` rows to one organization (and not deleted)."""
    clauses: list[ColumnElement[bool]] = []
    if "organization_id" in model.__table__.columns:
        clauses.append(model.organization_id == organization_id)
    elif model in PARENTS:
        fk, parent = PARENTS[model]
        parent_ids = select(parent.id).where(scope_condition(parent, organization_id))
        clauses.append(fk.in_(parent_ids))
    else:  # a programming error: never return unscoped rows
        raise LookupError(f"{model.__name__} has no organization scope")
    if not include_deleted and has_soft_delete(model):
        clauses.append(model.deleted_at.is_(None))
    if len(clauses) == 1:
        return clauses[0]
    from sqlalchemy import and_

    return and_(*clauses)


def scoped_select(model: type, organization_id: uuid.UUID, *, include_deleted: bool = False) -> Select:
    """``SELECT model`` restricted to the organization; start every query here."""
    return select(model).where(scope_condition(model, organization_id, include_deleted=include_deleted))
