"""A resource table, and the generic list/get/create/update/delete built from it.

A resource module declares one `Resource` (model, pydantic models, filters,
sortable fields, secret fields, referenced tables, plan limit, hooks) and
calls `crud_blueprint`; custom actions are added to the same blueprint with
the helpers below (`list_items`, `writing`, `to_out`, ...). Every path goes
through `api.resources.scoping` for the organization, writes in one
transaction with its audit entry, and turns database constraint errors into
409/422 so nothing is half-written and nothing is a 500.
"""

from __future__ import annotations

import functools
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, AsyncIterator, Awaitable, Callable, Literal, Mapping, Sequence

from pydantic import BaseModel, Field, TypeAdapter, create_model
from pydantic.json_schema import SkipJsonSchema
from quart import Blueprint, Response, jsonify, request
from quart_schema import document_querystring, document_request, document_response, operation_id, tag
from sqlalchemy import Select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import record_audit
from api.auth.permissions import require
from api.auth.principal import Principal, current_principal
from api.context import get_db, get_totals, on_read_db
from api.db.session import Database
from api.errors import ValidationFailed
from api.resources import list_sql
from api.resources.body import read_body
from api.resources.filters import Filter, apply_filters
from api.resources.integrity import data_error, integrity_error
from api.resources.page_json import encoder_for
from api.resources.pagination import (
    DEFAULT_PER_PAGE,
    MAX_PAGE,
    MAX_PER_PAGE,
    Page,
    PageRequest,
    fetch_page,
    fetch_rows,
    parse_page,
)
from api.resources.rows import (
    assign,
    check_not_null,
    check_references,
    has_special_columns,
    load_in_scope,
    mapping_values,
    new_row,
    not_null_columns,
    remove,
    row_values,
    touch,
)
from api.resources.scoping import has_soft_delete, scoped_select
from api.resources.secrets import (
    SecretField,
    encrypt_inputs,
    hide_credentials,
    reveals_credentials,
    secret_flags,
)
from api.resources.sorting import apply_sort, parse_sort

PAGING_PARAMS = ("page", "per_page", "sort")

CreateHook = Callable[[AsyncSession, Principal, dict[str, Any]], Awaitable[None]]
UpdateHook = Callable[[AsyncSession, Principal, Any, dict[str, Any]], Awaitable[None]]
DeleteHook = Callable[[AsyncSession, Principal, Any], Awaitable[None]]
AfterHook = Callable[[AsyncSession, Any], Awaitable[None]]  # the written row, flushed, same transaction
CommittedHook = Callable[[], Awaitable[None]]  # after a create, update or delete committed
RowFilter = Callable[[Principal], Any]  # a WHERE clause, or None: no limit for this caller


@dataclass
class Resource:
    """Everything the generic routes need to know about one resource."""

    name: str  # permission resource (`tags` -> tags:read/write/delete)
    label: str  # singular, for messages and audit (`tag` -> tag.created)
    model: type
    out: type[BaseModel]
    path: str  # URL path of the collection, e.g. /tags
    create: type[BaseModel] | None = None
    update: type[BaseModel] | None = None
    deletable: bool = True
    filters: Sequence[Filter] = ()
    sorts: Sequence[str] = ("created_at",)
    default_sort: str = "-created_at"
    secrets: Sequence[SecretField] = ()
    # JSON columns holding credentials among other keys: only writers see those keys
    credential_columns: Sequence[str] = ()
    references: Mapping[str, type] = field(default_factory=dict)
    plan_limit: str | None = None  # checked (and locked) on create
    conflict_fields: Mapping[tuple[str, ...], str] = field(default_factory=dict)  # unique key -> field
    # natural key: creating a row whose key matches a soft-deleted row restores that row
    restore_on: tuple[str, ...] = ()
    before_create: CreateHook | None = None
    before_update: UpdateHook | None = None
    before_delete: DeleteHook | None = None
    after_create: AfterHook | None = None  # e.g. a domain event written with the row
    after_update: AfterHook | None = None
    # e.g. telling other processes' caches of the table (runs only once the change is visible)
    after_commit: CommittedHook | None = None
    # which of the organization's rows this caller may see and change (None: every one); a row
    # outside it is a 404 like another organization's, and lists leave it out
    row_filter: RowFilter | None = None


# --- pieces shared by generic and custom routes ---------------------------------


@asynccontextmanager
async def writing(
    label: str, conflict_fields: Mapping[tuple[str, ...], str] | None = None,
) -> AsyncIterator[AsyncSession]:
    """One transaction for a change and its audit entry; constraint errors become 409/422."""
    try:
        async with get_db().transaction() as session:
            yield session
    except IntegrityError as exc:
        raise integrity_error(exc, label, conflict_fields) from None
    except DBAPIError as exc:
        if str(getattr(exc.orig, "sqlstate", "") or getattr(exc.orig, "pgcode", "") or "").startswith("22"):
            raise data_error(exc) from None
        raise


async def flush(session: AsyncSession, row: Any | None = None) -> None:
    """Flush now (so constraint errors surface inside the transaction) and reload defaults."""
    await session.flush()
    if row is not None:
        await session.refresh(row)


def to_out(resource: Resource, row: Any) -> dict[str, Any]:
    """The response body of one row: its public fields, secrets reduced to ``has_*`` flags."""
    values = secret_flags(row_values(row), resource.secrets)
    return resource.out.model_validate(values).model_dump(mode="json")


def for_caller(resource: Resource, out: dict[str, Any]) -> dict[str, Any]:
    """``out`` as the caller may see it: credentials hidden unless it may write the resource."""
    if resource.credential_columns and not reveals_credentials(resource.name):
        return hide_credentials(out, resource.credential_columns)
    return out


@functools.cache
def _list_adapter(out: type[BaseModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[out])  # type: ignore[valid-type]


def org_id() -> uuid.UUID:
    return current_principal().organization_id


def _row_filter(resource: Resource) -> Any:
    """`Resource.row_filter` for the caller (None: every row of the organization)."""
    return resource.row_filter(current_principal()) if resource.row_filter is not None else None


def check_query_params(allowed: Sequence[str]) -> None:
    """An unknown or repeated query parameter is a 422 naming it (a typo must not silently
    list everything; several values of one filter are comma-separated, never repeated)."""
    seen: set[str] = set()
    for name, value in request.args.items(multi=True):
        if name not in allowed:
            raise ValidationFailed(name, f"unknown query parameter {name!r}")
        if name in seen:
            raise ValidationFailed(name, f"{name} is given more than once (separate values with commas)")
        seen.add(name)
        if "\x00" in value:
            raise ValidationFailed(name, f"{name} contains a NUL character")


def query_params(resource: Resource) -> list[str]:
    names = list(PAGING_PARAMS)
    for declared in resource.filters:
        names.extend(declared.params())
    return names


async def _read_page(resource: Resource, base: Select | None) -> tuple[list[dict[str, Any]], PageRequest, int, bool]:
    """The caller's page of rows (public values by column name), its total, and
    whether that total was reused (`api.resources.totals`; generic lists only)."""
    params = query_params(resource)
    check_query_params(params)
    limit = _row_filter(resource)
    if limit is not None:  # a list of the caller's own: neither the shared totals nor the prepared path
        base = (base if base is not None else scoped_select(resource.model, org_id())).where(limit)
    # a plain dict of first values: werkzeug's MultiDict answers each absent key
    # (every unused filter, ~30 per list) by raising and catching an exception
    args = request.args.to_dict()
    page = parse_page(args)
    order = parse_sort(args.get("sort"), resource.sorts, resource.default_sort)
    organization = org_id()
    hidden = (resource.credential_columns
              if resource.credential_columns and not reveals_credentials(resource.name) else ())
    totals = get_totals()
    key = totals.key(resource.name, args, params[len(PAGING_PARAMS):]) if base is None else None
    known = totals.get(organization, key) if key is not None else None
    bindings = None
    # the prepared path keeps JSON columns as raw text: hiding credentials needs the values
    if base is None and not hidden and encoder_for(resource.out, resource.model) is not None:
        bindings = list_sql.plan_bindings(resource.filters, resource.model, args)

    async def read(db: Database) -> tuple[Any, Any]:  # on the replica when there is one
        rows, total = None, known
        if bindings is not None:  # the prepared-statement path
            compiled = list_sql.compile_list(db, resource.model, _shown_columns(resource), bindings, order,
                                             with_total=known is None)
            rows, counted = await list_sql.fetch_list(db, compiled, organization, bindings, page)
            if known is None:
                total = counted if counted is not None else (0 if page.offset == 0 else None)
            if total is None:  # a page past the end: count the SQLAlchemy way below
                rows = None
        if rows is None:
            stmt = base if base is not None else scoped_select(resource.model, organization)
            stmt = apply_filters(stmt, resource.filters, args)
            stmt = apply_sort(stmt, resource.model, order)
            async with db.reading() as conn:
                if known is None:
                    rows, total = await fetch_page(conn, stmt, resource.model, page)
                else:
                    rows = await fetch_rows(conn, stmt, resource.model, page)
        return rows, total

    rows, total = await on_read_db(read)
    if key is not None and known is None:
        totals.put(organization, key, total)
    model, secrets = resource.model, resource.secrets
    if secrets or has_special_columns(model):
        rows = [secret_flags(mapping_values(model, row), secrets) for row in rows]
    if hidden:
        rows = [hide_credentials(dict(row), hidden) for row in rows]
    return rows, page, total, known is not None


def _shown_columns(resource: Resource) -> frozenset[str]:
    """The columns a list reads: those the output model shows, and the secret
    columns its ``has_*`` flags come from."""
    return _columns_for(resource.out, resource.model, tuple(s.column for s in resource.secrets))


@functools.cache
def _columns_for(out: type[BaseModel], model: type, secret_columns: tuple[str, ...]) -> frozenset[str]:
    names = set(out.model_fields) | set(secret_columns)
    return frozenset(c.name for c in model.__table__.columns if c.name in names)


async def list_items(resource: Resource, base: Select | None = None) -> dict[str, Any]:
    """One page of the resource's rows visible to the caller, filtered and sorted,
    as a JSON-ready dict (for custom list routes)."""
    rows, page, total, cached = await _read_page(resource, base)
    encoder = encoder_for(resource.out, resource.model)
    if encoder is None:
        adapter = _list_adapter(resource.out)
        items = adapter.dump_python(adapter.validate_python(rows), mode="json")
    else:
        items = encoder.json_ready(rows)
    return {"items": items, "page": page.page, "per_page": page.per_page, "total": total,
            "total_cached": cached}


async def list_response(resource: Resource) -> Response:
    """`list_items` of the generic list route, encoded straight to the response body."""
    encoder = encoder_for(resource.out, resource.model)
    if encoder is None:
        return jsonify(await list_items(resource))
    rows, page, total, cached = await _read_page(resource, None)
    body = encoder.page(rows, page=page.page, per_page=page.per_page, total=total,
                        extra={"total_cached": cached})
    return Response(body, mimetype="application/json")


async def get_item(resource: Resource, item_id: uuid.UUID) -> dict[str, Any]:
    async with get_db().session() as session:
        row = await load_in_scope(session, resource.model, item_id, org_id(), label=resource.label,
                                  where=_row_filter(resource))
        return for_caller(resource, to_out(resource, row))


async def create_item(resource: Resource, data: BaseModel) -> dict[str, Any]:
    principal = current_principal()
    values = data.model_dump(exclude_unset=True)
    check_not_null(resource.model, values)
    columns = resource.model.__table__.columns
    async with writing(resource.label, resource.conflict_fields) as session:
        if resource.plan_limit is not None:
            from api.services.plan_limits import ensure_room

            await ensure_room(session, principal.organization_id, resource.plan_limit)
        values = encrypt_inputs(values, resource.secrets)
        if "organization_id" in columns:
            values["organization_id"] = principal.organization_id
        if "created_by" in columns:
            values["created_by"] = principal.user_id
        if resource.before_create is not None:
            await resource.before_create(session, principal, values)
        await check_references(session, resource.references, values, principal.organization_id)
        row = await _deleted_twin(session, resource, values, principal.organization_id)
        if row is not None:
            assign(row, {**values, "deleted_at": None})
            touch(row)
        else:
            row = new_row(resource.model, values)
            session.add(row)
        await flush(session, row)
        out = to_out(resource, row)
        await record_audit(session, f"{resource.label}.created", resource.label, row.id, after=out)
        if resource.after_create is not None:
            await resource.after_create(session, row)
    if resource.after_commit is not None:
        await resource.after_commit()
    return for_caller(resource, out)


async def _deleted_twin(session: AsyncSession, resource: Resource, values: dict[str, Any],
                        organization_id: uuid.UUID) -> Any | None:
    """A soft-deleted row with the same natural key (`Resource.restore_on`), locked, or None."""
    if not resource.restore_on or not has_soft_delete(resource.model):
        return None
    model = resource.model
    stmt = scoped_select(model, organization_id, include_deleted=True).where(model.deleted_at.is_not(None))
    for column in resource.restore_on:
        stmt = stmt.where(getattr(model, column) == values.get(column))
    return (await session.execute(stmt.with_for_update(of=model))).scalar_one_or_none()


async def update_item(resource: Resource, item_id: uuid.UUID, data: BaseModel) -> dict[str, Any]:
    principal = current_principal()
    values = data.model_dump(exclude_unset=True)
    check_not_null(resource.model, values)
    async with writing(resource.label, resource.conflict_fields) as session:
        row = await load_in_scope(session, resource.model, item_id, principal.organization_id,
                                  label=resource.label, for_update=True, where=_row_filter(resource))
        before = to_out(resource, row)
        values = encrypt_inputs(values, resource.secrets)
        if resource.before_update is not None:
            await resource.before_update(session, principal, row, values)
        await check_references(session, resource.references, values, principal.organization_id)
        assign(row, values)
        touch(row)
        await flush(session, row)
        after = to_out(resource, row)
        await record_audit(session, f"{resource.label}.updated", resource.label, row.id,
                           before=before, after=after)
        if resource.after_update is not None:
            await resource.after_update(session, row)
    if resource.after_commit is not None:
        await resource.after_commit()
    return for_caller(resource, after)


async def delete_item(resource: Resource, item_id: uuid.UUID) -> None:
    principal = current_principal()
    async with writing(resource.label, resource.conflict_fields) as session:
        row = await load_in_scope(session, resource.model, item_id, principal.organization_id,
                                  label=resource.label, for_update=True, where=_row_filter(resource))
        before = to_out(resource, row)
        if resource.before_delete is not None:
            await resource.before_delete(session, principal, row)
        await remove(session, row)
        await record_audit(session, f"{resource.label}.deleted", resource.label, item_id, before=before)
    if resource.after_commit is not None:
        await resource.after_commit()


# --- OpenAPI helpers -------------------------------------------------------------


def list_query_model(name: str, filters: Sequence[Filter], sorts: Sequence[str], default_sort: str) -> type[BaseModel]:
    """A pydantic model documenting the list's query string as the kit parses it
    (`parse_page`, `parse_sort`, each filter's `annotation`); none of them takes ``null``."""
    sort_values = tuple(prefix + field for field in sorts for prefix in ("", "-"))
    fields: dict[str, Any] = {
        "page": _optional_param(Annotated[int, Field(ge=1, le=MAX_PAGE)], "page number, from 1"),
        "per_page": _optional_param(Annotated[int, Field(ge=1, le=MAX_PER_PAGE)],
                                    f"items per page (default {DEFAULT_PER_PAGE}, max {MAX_PER_PAGE})"),
        "sort": _optional_param(Literal[sort_values],  # type: ignore[valid-type]
                                f"a sortable field, '-' for descending; several comma-separated (e.g. "
                                f"{sort_values[-1]},{sort_values[0]}) sort by each in turn; default {default_sort}"),
    }
    for declared in filters:
        for param, description in declared.params().items():
            fields[param] = _optional_param(declared.annotation(), description)
    return create_model(name, **fields)


def documented_body(body: type[BaseModel], model: type) -> type[BaseModel]:
    """``body`` as /openapi.json shows it: fields of NOT NULL columns without ``null``
    (left out, they keep their value or default; sent as ``null``, `check_not_null` refuses them)."""
    names = not_null_columns(model, body.model_fields)
    if not names:
        return body

    own = body.model_config.get("json_schema_extra")  # the body's own additions (cross-field rules)

    def without_null(schema: dict[str, Any]) -> None:
        if callable(own):
            own(schema)
        elif own:
            schema.update(own)
        for name in names:
            schema["properties"][name] = _not_null(schema["properties"][name])

    config = {**body.model_config, "json_schema_extra": without_null}
    return type(body.__name__, (body,), {"model_config": config, "__module__": body.__module__,
                                         "__doc__": body.__doc__})


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    choices = [choice for choice in prop.get("anyOf", ()) if choice != {"type": "null"}]
    if "anyOf" not in prop or len(choices) == len(prop["anyOf"]):
        return prop
    rest = {key: value for key, value in prop.items() if key not in ("anyOf", "default")}
    return {**rest, **choices[0]} if len(choices) == 1 and "$ref" not in choices[0] else {**rest, "anyOf": choices}


def _optional_param(annotation: Any, description: str) -> tuple[Any, Any]:
    """A query parameter that may be left out, documented as its type alone (no ``null``, no default)."""
    return (annotation | SkipJsonSchema[None],
            Field(None, description=description, json_schema_extra=lambda schema: schema.pop("default", None)))


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


class NoContent(BaseModel):
    """Empty body (204)."""


# --- the generic blueprint -------------------------------------------------------


def crud_blueprint(resource: Resource, blueprint: Blueprint | None = None) -> Blueprint:
    """list/get/create/update/delete routes for ``resource`` (on ``blueprint`` or a new one)."""
    bp = blueprint or Blueprint(resource.name, __name__)
    name = resource.name
    item_path = f"{resource.path}/<uuid:item_id>"
    page_model = Page[resource.out]  # type: ignore[name-defined]
    query_model = list_query_model(f"{_camel(name)}ListQuery", resource.filters, resource.sorts, resource.default_sort)

    @bp.get(resource.path, endpoint=f"list_{name}")
    @tag([name])
    @operation_id(f"list_{name}")
    @document_querystring(query_model)
    @document_response(page_model)
    @require(f"{name}:read")
    async def list_view() -> Any:
        # a Response, not a dict: quart-schema would otherwise re-dump the whole
        # (already JSON-able) page through a fresh pydantic TypeAdapter
        return await list_response(resource)

    @bp.get(item_path, endpoint=f"get_{resource.label}")
    @tag([name])
    @operation_id(f"get_{resource.label}")
    @document_response(resource.out)
    @require(f"{name}:read")
    async def get_view(item_id: uuid.UUID) -> Any:
        return jsonify(await get_item(resource, item_id))


    if resource.create is not None:
        create_model_ = resource.create

        @bp.post(resource.path, endpoint=f"create_{resource.label}")
        @tag([name])
        @operation_id(f"create_{resource.label}")
        @document_request(documented_body(create_model_, resource.model))
        @document_response(resource.out, 201)
        @require(f"{name}:write")
        async def create_view() -> Any:
            data = await read_body(create_model_)
            return await create_item(resource, data), 201

    if resource.update is not None:
        update_model = resource.update

        @bp.patch(item_path, endpoint=f"update_{resource.label}")
        @tag([name])
        @operation_id(f"update_{resource.label}")
        @document_request(documented_body(update_model, resource.model))
        @document_response(resource.out)
        @require(f"{name}:write")
        async def update_view(item_id: uuid.UUID) -> Any:
            data = await read_body(update_model)
            return await update_item(resource, item_id, data)

    if resource.deletable:

        @bp.delete(item_path, endpoint=f"delete_{resource.label}")
        @tag([name])
        @operation_id(f"delete_{resource.label}")
        @document_response(NoContent, 204)
        @require(f"{name}:delete")
        async def delete_view(item_id: uuid.UUID) -> Any:
            await delete_item(resource, item_id)
            return "", 204

    return bp

