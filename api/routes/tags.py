"""/tags: an organization's tags (name unique per organization).

A tag's name is what contacts and conversations carry (their ``tags`` arrays), so
renaming a tag renames it on every contact and conversation of the organization that
has it, and deleting it takes it off them, in the same transaction: a search by the
new name finds them, none keeps a tag the catalogue no longer has. (No
``contact.updated`` event per contact: it is one administrative change, which the
audit log records.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.principal import Principal
from api.db.models import Tag
from api.resources import Custom, Resource, crud_blueprint
from api.schemas.tags import TagCreate, TagOut, TagUpdate

_TAGGED = ("contacts", "conversations")
# the old name out, the new one in (once: a row that had both keeps one)
_RENAME = ("UPDATE {table} SET tags = array_remove(tags, CAST(:old AS text)) || CASE WHEN CAST(:new AS text) = "
           "ANY(tags) THEN '{{}}'::text[] ELSE ARRAY[CAST(:new AS text)] END, updated_at = now() "
           "WHERE organization_id = :org AND tags @> ARRAY[CAST(:old AS text)]")
_REMOVE = ("UPDATE {table} SET tags = array_remove(tags, CAST(:old AS text)), updated_at = now() "
           "WHERE organization_id = :org AND tags @> ARRAY[CAST(:old AS text)]")


async def _before_update(session: AsyncSession, principal: Principal, row: Tag, values: dict[str, Any]) -> None:
    new = values.get("name")
    if new is not None and new != row.name:
        for table in _TAGGED:
            await session.execute(text(_RENAME.format(table=table)),
                                  {"old": row.name, "new": new, "org": row.organization_id})


async def _before_delete(session: AsyncSession, principal: Principal, row: Tag) -> None:
    for table in _TAGGED:
        await session.execute(text(_REMOVE.format(table=table)), {"old": row.name, "org": row.organization_id})


resource = Resource(
    name="tags",
    label="tag",
    model=Tag,
    out=TagOut,
    path="/tags",
    create=TagCreate,
    update=TagUpdate,
    filters=(Custom("name", lambda v: Tag.name.ilike(v.replace("%", r"\%").replace("_", r"\_") + "%"),
                    "name starts with (case-insensitive)"),),
    sorts=("name", "created_at"),
    default_sort="name",
    before_update=_before_update,
    before_delete=_before_delete,
)
blueprint = crud_blueprint(resource)
