"""The resource kit: org scoping, pagination, filters, sorting, secrets, audit, CRUD routes.

A resource module declares a `Resource` and calls `crud_blueprint(resource)`;
see `api.resources.crud` for what the generic routes guarantee.
"""

from api.resources.crud import (
    Resource,
    create_item,
    crud_blueprint,
    delete_item,
    flush,
    get_item,
    list_items,
    org_id,
    to_out,
    update_item,
    writing,
)
from api.resources.filters import Custom, DateRange, Equals, Filter, TagContains
from api.resources.pagination import MAX_PER_PAGE, Page
from api.resources.rows import check_references, load_in_scope
from api.resources.scoping import scope_condition, scoped_select
from api.resources.secrets import SecretField

__all__ = [
    "Resource", "crud_blueprint", "list_items", "get_item", "create_item", "update_item",
    "delete_item", "writing", "flush", "to_out", "org_id",
    "Filter", "Equals", "TagContains", "DateRange", "Custom",
    "Page", "MAX_PER_PAGE", "SecretField", "scoped_select", "scope_condition",
    "load_in_scope", "check_references",
]
