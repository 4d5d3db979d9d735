"""What Alembic autogenerate compares: the models, not the objects PostgreSQL
or `pytake_create_message_partition` create at runtime (monthly partitions of
`messages`, and the foreign keys PostgreSQL clones onto each of them), nor the
log store's tables (migration 0017: SCHEMA.md's MongoDB collections, written
and read by `api/logstore/postgres.py` in SQL, with no ORM model) and their
partitions."""

from __future__ import annotations

import re
from typing import Any

PARTITION_TABLE = re.compile(r"^messages_(\d{4}_\d{2}|default)$")
LOG_TABLE = re.compile(r"^(message_logs|conversation_logs|webhook_logs|api_request_logs)(_\d{4}_\d{2}(_\d{2})?)?$")


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    if type_ == "table":
        return not (name and (PARTITION_TABLE.match(name) or LOG_TABLE.match(name)))
    return True


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if type_ == "foreign_key_constraint" and reflected:
        referred = getattr(obj, "referred_table", None)
        if referred is not None and PARTITION_TABLE.match(referred.name):
            return False
    return True


AUTOGENERATE_OPTIONS: dict[str, Any] = {
    "compare_type": True,
    "compare_server_default": True,
    "include_name": include_name,
    "include_object": include_object,
}
