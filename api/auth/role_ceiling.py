"""The role ceiling: nobody acts on a user above them, nor grants a role above their own.

Roles are ordered as `api.auth.principal.ROLES` lists them, highest first:
super_admin > org_admin > agent > viewer. Holding ``users:write`` or
``users:delete`` is not enough to create, change (password, role, activity,
profile), deactivate or delete a user whose role is higher than the caller's,
nor to give anyone a role higher than the caller's: every route that writes a
``users`` row calls `check_role_ceiling` (today `api.routes.users`' hooks; the
signup's first user is the org_admin of a new organization, nobody else's).
A refusal is ``403 role_ceiling`` naming the role at fault.
"""

from __future__ import annotations

from api.auth.principal import ROLES, Principal
from api.errors import ApiError

# higher number = more power; an unknown role ranks above every known one (refused)
ROLE_RANK = {role: len(ROLES) - index for index, role in enumerate(ROLES)}
_UNKNOWN_RANK = len(ROLES) + 1


class RoleCeilingExceeded(ApiError):
    """The caller acted on, or granted, a role above their own (403)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(403, "role_ceiling", message, field=field)


def rank(role: str | None) -> int:
    return ROLE_RANK.get(role or "agent", _UNKNOWN_RANK)


def outranks(role: str | None, other: str | None) -> bool:
    """Is ``role`` strictly higher than ``other``?"""
    return rank(role) > rank(other)


def check_role_ceiling(actor: Principal, *, target_role: str | None = None,
                       granted_role: str | None = None, has_target: bool = False) -> None:
    """Refuse (403 ``role_ceiling``) when the target user or the granted role is above ``actor``.

    ``target_role``: the current role of the user being changed or deleted
    (``has_target=True`` says there is one even when its role column is null,
    which means agent). ``granted_role``: the role being given, on create or update.
    """
    if (has_target or target_role is not None) and outranks(target_role, actor.role):
        raise RoleCeilingExceeded(
            f"you cannot change or delete a user whose role ({target_role or 'agent'}) "
            f"is higher than yours ({actor.role})")
    if granted_role is not None and outranks(granted_role, actor.role):
        raise RoleCeilingExceeded(
            f"you cannot grant the role {granted_role}: it is higher than yours ({actor.role})",
            field="role")
