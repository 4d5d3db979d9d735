"""Who is calling: the authenticated user of the current request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from quart import g

from api import log_context
from api.errors import Unauthorized

ROLES = ("super_admin", "org_admin", "agent", "viewer")


@dataclass(frozen=True)
class Principal:
    """The caller, set by `api.auth.permissions.require` after the token checks out.

    ``organization_id`` scopes every query the request makes; ``role`` is read
    from the database on each request, so a demotion takes effect at once.
    """

    user_id: uuid.UUID
    organization_id: uuid.UUID
    role: str
    token_jti: str | None = None
    token_expires_at: datetime | None = None


def current_principal() -> Principal:
    """The authenticated caller; 401 when the route did not authenticate one."""
    principal = g.get("principal")
    if principal is None:
        raise Unauthorized()
    return principal


def set_principal(principal: Principal) -> None:
    g.principal = principal
    # the request's log lines name its organization (reset with the request's ids: api.app)
    log_context.organization_id.set(str(principal.organization_id))
