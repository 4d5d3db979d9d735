"""Helpers to walk the app's real routes: list them, fill their ids, build bodies.

Used by the tenant walk, the role matrix walk and the OpenAPI checks, so that a
route added tomorrow is covered by all three without editing a test.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import CheckConstraint, inspect as sa_inspect
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB
from sqlalchemy.types import (
    Boolean, Date, DateTime, Integer, LargeBinary, Numeric, String, Text, Uuid,
)

from api.app import create_app
from api.auth.permissions import REQUIRED_PERMISSION_ATTR
from api.db import models
from api.settings import Settings
from api.web_app import WEB_APP_RULES

# Routes anyone may call without a token.
PUBLIC_PATHS = {"/health", "/ready", "/metrics", "/openapi.json", "/docs", "/auth/signup", "/auth/login",
                "/auth/refresh"}
PUBLIC_PREFIXES = ("/webhooks/whatsapp",)
PUBLIC_PATHS |= set(WEB_APP_RULES)  # the web app's pages and files (api/web_app.py)
BODY_METHODS = {"POST", "PUT", "PATCH"}

# URL segment (hyphens → underscores) → table, where the names differ.
SEGMENT_TABLES = {"templates": "whatsapp_templates", "agents": "users", "members": "users",
                  "deliveries": "webhook_deliveries", "recipients": "campaign_recipients",
                  "versions": "flow_versions", "greetings": "agent_greetings", "hooks": "webhooks"}


@dataclass(frozen=True)
class Route:
    rule: str
    method: str
    endpoint: str
    params: tuple[str, ...]
    permission: str | None
    authenticated: bool

    @property
    def id(self) -> str:
        return f"{self.method} {self.rule}"

    @property
    def public(self) -> bool:
        return self.rule in PUBLIC_PATHS or self.rule.startswith(PUBLIC_PREFIXES)


def offline_app():
    """The app, built without connecting to anything (for listing its routes)."""
    return create_app(Settings(secret_key="listing-only",
                               encryption_key=Fernet.generate_key().decode("ascii")))


def all_routes(app=None) -> list[Route]:
    app = app or offline_app()
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.websocket:
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append(Route(
                rule=rule.rule, method=method, endpoint=rule.endpoint,
                params=tuple(_ordered_args(rule.rule)),
                permission=getattr(view, REQUIRED_PERMISSION_ATTR, None),
                authenticated=hasattr(view, REQUIRED_PERMISSION_ATTR),
            ))
    return sorted(routes, key=lambda r: (r.rule, r.method))


def _ordered_args(rule: str) -> list[str]:
    return re.findall(r"<(?:[^:>]+:)?([^>]+)>", rule)


def table_for_param(rule: str, param: str) -> str | None:
    """Which table an id parameter points into, from its name or the segment before it."""
    tables = set(models.Base.metadata.tables)
    if param.endswith("_id") and param != "item_id":
        stem = param[:-3]
        for candidate in (stem + "s", stem, SEGMENT_TABLES.get(stem + "s", "")):
            if candidate in tables:
                return candidate
    segments = rule.split("/")
    for index, segment in enumerate(segments):
        if re.fullmatch(r"<(?:[^:>]+:)?" + re.escape(param) + ">", segment) and index > 0:
            name = segments[index - 1].replace("-", "_")
            name = SEGMENT_TABLES.get(name, name)
            return name if name in tables else None
    return None


def fill_path(rule: str, values: dict[str, Any]) -> str:
    """The rule with its parameters filled; an ``int`` parameter given no int gets 1."""
    def sub(match: re.Match) -> str:
        value = values[match.group(2)]
        if match.group(1) == "int" and not isinstance(value, int):
            value = 1
        return str(value)

    return re.sub(r"<(?:([^:>]+):)?([^>]+)>", sub, rule)


# --- rows for any table, owned by one organization ------------------------------

_IN_RE = re.compile(r"^\s*(\w+)\s+IN\s*\((.*)\)\s*$", re.S)


def _allowed_values(table) -> dict[str, list[str]]:
    allowed: dict[str, list[str]] = {}
    for constraint in table.constraints:
        if isinstance(constraint, CheckConstraint):
            match = _IN_RE.match(str(constraint.sqltext))
            if match:
                allowed[match.group(1)] = re.findall(r"'([^']*)'", match.group(2))
    return allowed


# a value other than the first allowed one, where the first cannot stand alone
# (a zapier integration needs no config; a webhook one needs its url)
PREFERRED = {("integrations", "type"): "zapier"}


def _value_for(column, allowed: dict[str, list[str]]) -> Any:
    if (column.table.name, column.name) in PREFERRED:
        return PREFERRED[(column.table.name, column.name)]
    if column.name in allowed:
        return allowed[column.name][0]
    kind = column.type
    if isinstance(kind, (String, Text)):
        length = getattr(kind, "length", None) or 64
        return ("t" + uuid.uuid4().hex)[: min(length, 32)]
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer):
        return 1
    if isinstance(kind, Numeric):
        return 0
    if isinstance(kind, JSONB):
        return {}
    if isinstance(kind, ARRAY):
        return []
    if isinstance(kind, LargeBinary):
        return b"\x00"
    if isinstance(kind, DateTime):
        return datetime.now(timezone.utc)
    if isinstance(kind, Date):
        return datetime.now(timezone.utc).date()
    if isinstance(kind, INET):
        return "10.0.0.1"
    if isinstance(kind, Uuid):
        return uuid.uuid4()
    raise TypeError(f"no sample value for {column.table.name}.{column.name} ({kind!r})")


def _model_for_table(name: str):
    for mapper in models.Base.registry.mappers:
        if mapper.local_table.name == name:
            return mapper.class_
    raise KeyError(name)


async def seed_row(session, table_name: str, org_id: uuid.UUID, made: dict[str, Any]) -> Any:
    """One row of ``table_name`` belonging to ``org_id`` (parents created as needed).

    Fills only NOT NULL columns without defaults, organization_id, and
    foreign keys to parents; memoised per table in ``made``.
    """
    if table_name in made:
        return made[table_name]
    if table_name == "organizations":
        made[table_name] = await session.get(models.Organization, org_id)
        return made[table_name]
    model = _model_for_table(table_name)
    table = model.__table__
    allowed = _allowed_values(table)
    values: dict[str, Any] = {}
    mapper = sa_inspect(model)
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        if column.name == "organization_id":
            values[attr.key] = org_id
            continue
        foreign = next(iter(column.foreign_keys), None)
        if foreign is not None:
            if column.nullable:
                continue
            parent_table = foreign.column.table.name
            parent = await seed_row(session, parent_table, org_id, made)
            values[attr.key] = getattr(parent, foreign.column.key)
            continue
        if column.nullable or column.server_default is not None or column.default is not None:
            continue
        if column.primary_key and column.server_default is not None:
            continue
        values[attr.key] = _value_for(column, allowed)
    row = model(**values)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    made[table_name] = row
    return row


# --- a minimal valid instance of a JSON schema (request bodies) --------------------

PATTERN_GUESSES = ("#3B82F6", "+5511999990000", "5511999990000", "a@example.com", "abc",
                   "example_name", "2030-01-01", "https://example.com/hook", "a")
NAME_HINTS = (("url", "https://example.com/file.jpg"), ("email", "someone@example.com"),
              ("phone", "+5511999990000"), ("color", "#3B82F6"), ("whatsapp_id", "5511999990000"))
FORMAT_SAMPLES = {"uuid": None, "email": "someone@example.com", "date-time": "2030-01-01T00:00:00Z",
                  "date": "2030-01-01", "uri": "https://example.com/hook", "url": "https://example.com/hook"}


def sample_instance(schema: dict, components: dict, ids: dict[str, Any] | None = None,
                    name: str = "", full: bool = False) -> Any:
    """A small instance satisfying ``schema``: required properties only (all of
    them when ``full``), first enum values, in-range numbers. ``ids`` supplies
    values for uuid fields by name."""
    ids = ids or {}
    if "$ref" in schema:
        ref = schema["$ref"].rsplit("/", 1)[-1]
        return sample_instance(components[ref], components, ids, name, full)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            options = [s for s in schema[combinator] if s.get("type") != "null"] or schema[combinator]
            if "properties" in schema:  # an object with a cross-field rule: its first way of meeting it
                base = {k: v for k, v in schema.items() if k != combinator}
                base["required"] = [*base.get("required", []), *options[0].get("required", [])]
                return sample_instance(base, components, ids, name, full)
            return sample_instance(options[0], components, ids, name, full)
    if "allOf" in schema:
        merged: dict = {}
        for part in schema["allOf"]:
            merged.update(part)
        return sample_instance(merged, components, ids, name, full)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema.get("default") is not None:
        return schema["default"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        keys = list(props) if full else [k for k in schema.get("required", []) if k in props]
        return {key: sample_instance(props[key], components, ids, key, full) for key in keys}
    if kind == "array":
        count = schema.get("minItems", 0)
        return [sample_instance(schema.get("items", {}), components, ids, name, full)
                for _ in range(count)]
    if kind == "integer":
        return int(max(schema.get("minimum", 1), schema.get("exclusiveMinimum", 0) + 1))
    if kind == "number":
        return float(max(schema.get("minimum", 1), schema.get("exclusiveMinimum", 0) + 1))
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "uuid":
            return str(ids.get(name) or uuid.uuid4())
        if fmt in FORMAT_SAMPLES:
            return FORMAT_SAMPLES[fmt]
        if "pattern" in schema:
            for guess in PATTERN_GUESSES:
                if re.search(schema["pattern"], guess):
                    return guess
        for hint, value in NAME_HINTS:
            if hint in name:
                return value
        text = "sample"
        minimum, maximum = schema.get("minLength", 1), schema.get("maxLength", 64)
        return (text * (minimum // len(text) + 1))[: max(minimum, min(len(text), maximum))]
    return None


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def request_body_schema(spec: dict, route: Route) -> dict | None:
    operation = spec["paths"].get(openapi_path(route.rule), {}).get(route.method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    return (content.get("application/json") or {}).get("schema")


def candidate_bodies(schema: dict | None, components: dict,
                     ids: dict[str, Any] | None = None) -> list[Any]:
    """Bodies to try, simplest first: the schema's example, the required fields,
    the required fields plus one optional field (for each), every field."""
    if not schema:
        return [{}]
    resolved = schema
    while "$ref" in resolved:
        resolved = components[resolved["$ref"].rsplit("/", 1)[-1]]
    bodies: list[Any] = list(resolved.get("examples", []))
    minimal = sample_instance(schema, components, ids)
    bodies.append(minimal)
    full = sample_instance(schema, components, ids, full=True)
    if isinstance(minimal, dict) and isinstance(full, dict):
        bodies += [minimal | {key: value} for key, value in full.items() if key not in minimal]
    bodies.append(full)
    return bodies
