"""/tags: an organization's tags (name unique per organization)."""

from __future__ import annotations

from api.db.models import Tag
from api.resources import Custom, Resource, crud_blueprint
from api.schemas.tags import TagCreate, TagOut, TagUpdate

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
)
blueprint = crud_blueprint(resource)
