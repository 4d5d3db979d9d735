"""Audit trail: one `audit_logs` row per change, written in the change's transaction.

    async with get_db().transaction() as session:
        ...change rows...
        await record_audit(session, "contact.updated", "contact", contact.id,
                           before=old, after=new)

Who and from where come from the request: the current principal, the client
IP and user agent. Values are made JSON-safe (UUIDs, datetimes, decimals →
strings); keys named like secrets are masked.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import ipaddress
import uuid
from typing import Any

from quart import g, has_request_context, request

from api.auth.principal import Principal
from api.secret_keys import is_secret_key

MASK = "***"


def jsonable(value: Any) -> Any:
    """A JSON-serialisable copy of ``value`` with secret-looking keys masked."""
    if isinstance(value, dict):
        return {
            str(k): (MASK if is_secret_key(str(k)) and v is not None else jsonable(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    return str(value)


def _request_ip() -> str | None:
    if not has_request_context():
        return None
    raw = request.remote_addr
    if not raw:
        return None
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


async def record_audit(
    session: Any,
    action: str,
    resource_type: str | None,
    resource_id: uuid.UUID | str | None,
    before: Any = None,
    after: Any = None,
    description: str | None = None,
    *,
    principal: Principal | None = None,
    metadata: dict[str, Any] | None = None,
    organization_id: uuid.UUID | None = None,
) -> Any:
    """Add an `AuditLog` row to ``session`` (flushed with the caller's commit).

    ``principal`` defaults to the request's; pass it explicitly where there
    is none yet (signup, login). The entry goes to the principal's
    organization unless ``organization_id`` names another: the platform
    operator's change of an organization (`api.routes.admin`) is recorded in
    that organization's trail.
    """
    from api.db.models import AuditLog

    if principal is None and has_request_context():
        principal = g.get("principal")
    changes = None
    if before is not None or after is not None:
        changes = {"before": jsonable(before), "after": jsonable(after)}
    if isinstance(resource_id, str):
        resource_id = uuid.UUID(resource_id)
    row = AuditLog(
        organization_id=organization_id or (principal.organization_id if principal else None),
        user_id=principal.user_id if principal else None,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        description=description,
        changes=changes,
        metadata_=jsonable(metadata or {}),
        ip_address=_request_ip(),
        user_agent=request.headers.get("User-Agent") if has_request_context() else None,
    )
    session.add(row)
    return row
