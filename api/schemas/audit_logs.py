"""The audit trail (read-only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from api.schemas.common import Output


class AuditLogOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    action: str
    resource_type: str | None = None
    resource_id: uuid.UUID | None = None
    description: str | None = None
    changes: Any = None
    metadata: dict[str, Any] | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    created_at: datetime | None = None
