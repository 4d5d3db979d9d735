"""Who may see what on the live channel.

- ``super_admin`` and ``org_admin``: every conversation of their organization;
- ``agent`` and ``viewer``: the conversations assigned to them and those in the
  queue of a department they belong to (``user_departments``).

An event's **audience** is the departments and users it concerns: the
conversation as it is now (``conversations``), as the event left it, and, for
an assignment or transfer, as it was before (``previous``), so an agent whose
conversation was taken away hears of it. Live events and replays use the same
rule (`Audience.visible_to`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Mapping

WHOLE_ORGANIZATION_ROLES = frozenset({"super_admin", "org_admin"})


@dataclass(frozen=True)
class Viewer:
    user_id: uuid.UUID
    organization_id: uuid.UUID
    role: str
    departments: frozenset[str]
    name: str | None = None

    @property
    def whole_organization(self) -> bool:
        return self.role in WHOLE_ORGANIZATION_ROLES

    @property
    def scope(self) -> str:
        return "organization" if self.whole_organization else "departments"

    @property
    def may_type(self) -> bool:
        return self.role != "viewer"

    @property
    def may_set_status(self) -> bool:
        """Going online or away: what ``POST /agents/me/status`` lets them do (conversations:write,
        every role but viewer: docs/permissions.md)."""
        return self.role != "viewer"


@dataclass(frozen=True, slots=True)
class Audience:
    departments: tuple[str, ...]
    users: tuple[str, ...]

    def visible_to(self, viewer: Viewer) -> bool:
        if viewer.whole_organization:
            return True
        return str(viewer.user_id) in self.users or any(d in viewer.departments for d in self.departments)

    def header(self) -> dict[str, Any]:
        return {"d": list(self.departments), "u": list(self.users)}

    @classmethod
    def from_header(cls, header: Mapping[str, Any]) -> "Audience":
        return cls(tuple(header.get("d") or ()), tuple(header.get("u") or ()))


def audience(payload: Any, conversation: Mapping[str, Any] | None) -> Audience:
    """The audience of an event (its payload) about a conversation (its row now, if any)."""
    departments: list[Any] = []
    users: list[Any] = []
    if conversation is not None:
        departments.append(conversation.get("department_id"))
        users.append(conversation.get("assigned_to"))
    if isinstance(payload, dict):
        for part in (payload.get("conversation"), payload.get("previous")):
            if isinstance(part, dict):
                departments.append(part.get("department_id"))
                users.append(part.get("assigned_agent_id"))
    return Audience(_ids(departments), _ids(users))


def _ids(values: list[Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(v) for v in values if v))


_VIEWER = """
SELECT u.role, u.full_name, u.is_active, u.is_online,
       COALESCE(array_agg(ud.department_id) FILTER (WHERE ud.department_id IS NOT NULL), '{}') AS departments
  FROM users u LEFT JOIN user_departments ud ON ud.user_id = u.id
 WHERE u.id = $1 AND u.organization_id = $2 AND u.deleted_at IS NULL
 GROUP BY u.id"""


async def load_viewer(db: Any, user_id: uuid.UUID, organization_id: uuid.UUID) -> Viewer | None:
    """The user as the live channel scopes them (None: gone or inactive)."""
    async with db.raw() as conn:
        row = await conn.fetchrow(_VIEWER, user_id, organization_id)
    if row is None or row["is_active"] is False:
        return None
    return Viewer(user_id, organization_id, row["role"], frozenset(str(d) for d in row["departments"]),
                  row["full_name"])
