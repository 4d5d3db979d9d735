"""``/admin/organizations``: the platform operator's routes (role ``super_admin`` only).

The one place where a request reaches across organizations (the ``platform``
resource of `api.auth.permissions.MATRIX`, listed in ``CROSS_ORGANIZATION``):
list every organization, read one with its usage, change its plan, limits
and activity — the fields an organization's own admins may not change
(`api.routes.organization`). Every other role answers 403 whatever the id.
A change is recorded in the *target* organization's audit trail, with the
operator as its user.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from quart import Blueprint
from quart_schema import document_querystring, document_request, document_response, operation_id, tag_blueprint
from sqlalchemy import Select, or_, select

from api.audit import record_audit
from api.auth.permissions import require
from api.auth.principal import current_principal
from api.context import get_db
from api.db.models import PLAN_TYPES, Organization
from api.errors import Conflict, NotFound
from api.resources import Custom, Equals, Filter, Page, Resource, flush, list_items, writing
from api.resources.body import read_body
from api.resources.crud import list_query_model
from api.resources.filters import parse_bool
from api.schemas.admin import AdminOrganizationDetail, AdminOrganizationOut, AdminOrganizationUpdate
from api.services.organization_usage import usage_of

blueprint = Blueprint("admin", __name__)
tag_blueprint(blueprint, ["admin"])

PATH = "/admin/organizations"
ITEM_PATH = f"{PATH}/<uuid:organization_id>"
EDITABLE = tuple(AdminOrganizationUpdate.model_fields)  # plan fields and is_active


def _name_or_slug_contains(raw: str) -> Any:
    text = raw.strip().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    pattern = f"%{text}%"
    return or_(Organization.name.ilike(pattern), Organization.slug.ilike(pattern))


@dataclass(frozen=True)
class IncludeDeleted(Filter):
    """``?include_deleted=true``: soft-deleted organizations too; without it, only the others."""

    def params(self) -> dict[str, str]:
        return {"include_deleted": "true to list soft-deleted organizations too (default false)"}

    kind = bool

    def apply(self, stmt: Select, args: Mapping[str, str]) -> Select:
        raw = args.get("include_deleted")
        if raw is not None and parse_bool("include_deleted", raw):
            return stmt
        return stmt.where(Organization.deleted_at.is_(None))


resource = Resource(
    name="platform",
    label="organization",
    model=Organization,
    out=AdminOrganizationOut,
    path=PATH,
    filters=(
        Custom("q", _name_or_slug_contains, "name or slug contains this (case-insensitive)"),
        Equals("plan_type", Organization.plan_type, choices=PLAN_TYPES),
        Equals("is_active", Organization.is_active, kind=bool, description="true or false"),
        IncludeDeleted(),
    ),
    sorts=("created_at", "name", "slug", "plan_type"),
    default_sort="-created_at",
)


def _plan(org: Organization) -> dict[str, Any]:
    return {name: getattr(org, name) for name in EDITABLE}


@blueprint.get(PATH, endpoint="list_organizations")
@operation_id("admin_list_organizations")
@document_querystring(list_query_model("AdminOrganizationsListQuery", resource.filters, resource.sorts,
                                       resource.default_sort))
@document_response(Page[AdminOrganizationOut])
@require("platform:read")
async def list_organizations() -> Any:
    """Every organization (soft-deleted ones with ``include_deleted=true``), newest first by default."""
    return await list_items(resource, select(Organization))


@blueprint.get(ITEM_PATH, endpoint="get_organization")
@operation_id("admin_get_organization")
@document_response(AdminOrganizationDetail)
@require("platform:read")
async def get_organization(organization_id: uuid.UUID) -> Any:
    """One organization (deleted or not), its plan and limits, and what it uses now."""
    async with get_db().session() as session:
        org = await session.get(Organization, organization_id)
        if org is None:
            raise NotFound("organization")
        usage = await usage_of(session, organization_id)
        out = AdminOrganizationOut.model_validate(org, from_attributes=True)
    return AdminOrganizationDetail(**out.model_dump(), usage=usage).model_dump(mode="json")


@blueprint.patch(ITEM_PATH, endpoint="update_organization")
@operation_id("admin_update_organization")
@document_request(AdminOrganizationUpdate)
@document_response(AdminOrganizationOut)
@require("platform:write")
async def update_organization(organization_id: uuid.UUID) -> Any:
    """Change an organization's plan, limits or activity.

    A limit may be set below what the organization already uses: existing rows
    stay, and creating more is refused by the plan-limit checks
    (`api.services.plan_limits`, 403 ``plan_limit_exceeded``) until usage is
    back under it. ``is_active: false`` signs the organization's users out at
    once (like ``DELETE /organization``, `api.auth.user_cache`); ``true`` lets
    them sign in again. The operator may not deactivate their own organization.
    """
    data = await read_body(AdminOrganizationUpdate)
    values = data.model_dump(exclude_unset=True)
    principal = current_principal()
    async with writing("organization") as session:
        stmt = select(Organization).where(Organization.id == organization_id).with_for_update()
        org = (await session.execute(stmt)).scalar_one_or_none()
        if org is None:
            raise NotFound("organization")
        if org.deleted_at is not None:
            raise Conflict("the organization is deleted")
        if values.get("is_active") is False and organization_id == principal.organization_id:
            raise Conflict("you cannot deactivate your own organization", field="is_active")
        before = _plan(org)
        for name, value in values.items():
            setattr(org, name, value)
        after = _plan(org)
        if after != before:
            await flush(session, org)
            after = _plan(org)
            await record_audit(session, "organization.updated_by_platform", "organization", org.id,
                               before=before, after=after, organization_id=org.id,
                               description="changed by the platform operator")
        out = AdminOrganizationOut.model_validate(org, from_attributes=True)
    return out.model_dump(mode="json")
