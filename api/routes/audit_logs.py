"""/audit-logs: the organization's audit trail, read-only."""

from __future__ import annotations

import uuid

from api.db.models import AuditLog
from api.resources import DateRange, Equals, Resource, crud_blueprint
from api.schemas.audit_logs import AuditLogOut

resource = Resource(
    name="audit_logs",
    label="audit_log",
    model=AuditLog,
    out=AuditLogOut,
    path="/audit-logs",
    deletable=False,
    filters=(
        Equals("action", AuditLog.action),
        Equals("resource_type", AuditLog.resource_type),
        Equals("resource_id", AuditLog.resource_id, uuid.UUID),
        Equals("user_id", AuditLog.user_id, uuid.UUID),
        DateRange("created_at", AuditLog.created_at),
    ),
    sorts=("created_at", "action"),
)
blueprint = crud_blueprint(resource)
