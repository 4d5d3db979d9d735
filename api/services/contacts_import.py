"""CSV import of contacts: every valid row is inserted or updated, every bad row reported.

The file is UTF-8 (a BOM is fine; Latin-1 is accepted as a fallback),
comma- or semicolon-separated, with a header line. Columns:

- ``whatsapp_id`` (required): the number in international format; a +, spaces, dashes,
  dots and parentheses are dropped ("+55 (11) 98765-4321" is 5511987654321, as Meta's
  webhooks carry it), so two spellings of one number are one contact (the second row
  is reported as a duplicate);
- ``name``, ``email``, ``phone``, ``whatsapp_name``, ``notes``;
- ``tags``: separated by ``|`` or ``;`` (or ``,`` inside a quoted cell);
- ``opt_in``, ``is_blocked``: true/false, yes/no, sim/não, 1/0;
- ``attributes.<key>`` (or ``attr.<key>``): custom attributes.

A campaign's recipients import (``extra_columns``) also takes columns of its
own (letters, digits, ``_``, ``-``): they are not written to the contact but
returned per row (``ImportResult.variables``, by ``whatsapp_id``), the
recipient's ``{{recipient.<column>}}``; it never opts an opted-out contact back
in (``keep_opt_outs``: such a row is rejected, naming ``opt_in``).

An existing contact (same ``whatsapp_id``) is updated: non-empty cells
replace its values, tags and attributes are merged; a deleted one is
restored. New contacts count against ``max_contacts``: rows past the limit
are reported, not inserted. Row numbers are file lines (the header is line
1). All of it happens in one transaction, with one audit entry.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.models import Contact
from api.errors import ApiError, ValidationFailed
from api.schemas.contacts import ContactCreate
from api.services.plan_limits import room_left

MAX_ROWS = 10_000
MAX_BYTES = 5 * 1024 * 1024
PLAIN_COLUMNS = ("whatsapp_id", "name", "email", "phone", "whatsapp_name", "notes", "tags", "opt_in", "is_blocked")
ATTRIBUTE_PREFIXES = ("attributes.", "attr.")
_EXTRA = re.compile(r"[a-z_][a-z0-9_\-]{0,63}")
_TRUE = {"true", "1", "yes", "y", "sim", "s"}
_FALSE = {"false", "0", "no", "n", "nao", "não"}
OPTED_OUT = ("the contact opted out: a recipients import does not opt them back in (their opt-in word does, "
             "or PATCH /contacts/{id} opt_in)")


@dataclass
class RowError:
    row: int
    field: str
    message: str


@dataclass
class ImportResult:
    inserted: int = 0
    updated: int = 0
    # (event type, contact row) for each row written: the route emits the domain events
    written: list[tuple[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # whatsapp_id -> the row's own columns (``extra_columns`` imports only; empty cells left out)
    variables: dict[str, dict[str, str]] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len({e.row for e in self.errors})

    def to_json(self) -> dict[str, Any]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "rejected": self.rejected,
            "errors": [{"row": e.row, "field": e.field, "message": e.message} for e in self.errors],
        }


@dataclass
class ParsedRow:
    line: int
    values: dict[str, Any]  # validated, only the cells that were given
    variables: dict[str, str] = field(default_factory=dict)  # the extra columns' non-empty cells


def decode(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise ApiError(413, "payload_too_large", f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB",
                       field="file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    header = text.split("\n", 1)[0]
    return csv.excel if header.count(",") >= header.count(";") else _Semicolon


class _Semicolon(csv.excel):
    delimiter = ";"


def _header(names: list[str] | None, extra_columns: bool = False) -> list[str]:
    if not names:
        raise ValidationFailed("file", "the file is empty (a header line is required)")
    header = [n.strip().lower() for n in names]
    if "whatsapp_id" not in header:
        raise ValidationFailed("file", "the header has no whatsapp_id column")
    for name in header:
        if name in PLAIN_COLUMNS or name.startswith(ATTRIBUTE_PREFIXES):
            continue
        if extra_columns and _EXTRA.fullmatch(name):
            continue
        if extra_columns:
            raise ValidationFailed("file", f"column {name!r}: a recipient column's name is letters, digits, "
                                           "_ and - (it becomes {{recipient.<column>}})")
        raise ValidationFailed("file", f"unknown column {name!r}; known: {', '.join(PLAIN_COLUMNS)}, "
                                       f"attributes.<key>")
    if len(set(header)) != len(header):
        raise ValidationFailed("file", "the header repeats a column")
    return header


def _bool(cell: str, column: str) -> bool:
    lowered = cell.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{column} must be true or false")


def _split_tags(cell: str) -> list[str]:
    for separator in ("|", ";", ","):
        if separator in cell:
            return [t.strip() for t in cell.split(separator) if t.strip()]
    return [cell.strip()] if cell.strip() else []


def parse_rows(text: str, result: ImportResult, extra_columns: bool = False) -> list[ParsedRow]:
    """Validate every line; good ones are returned, bad ones go to ``result.errors``."""
    reader = csv.reader(io.StringIO(text), dialect=_dialect(text))
    try:
        header = _header(next(reader, None), extra_columns)
    except csv.Error as exc:
        raise ValidationFailed("file", f"not a CSV file: {exc}") from None
    extra = [n for n in header if n not in PLAIN_COLUMNS and not n.startswith(ATTRIBUTE_PREFIXES)]
    result.extra_columns = extra
    rows: list[ParsedRow] = []
    seen: dict[str, int] = {}
    line = 1
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(rows) + len(result.errors) >= MAX_ROWS:
                raise ValidationFailed("file", f"the file has more than {MAX_ROWS} rows")
            if len(cells) != len(header):
                result.errors.append(RowError(line, "row", f"expected {len(header)} cells, found {len(cells)}"))
                continue
            cells_by_column = dict(zip(header, cells))
            own = {c: cells_by_column.pop(c).strip() for c in extra}
            parsed = _parse_row(line, cells_by_column, result)
            if parsed is None:
                continue
            whatsapp_id = parsed.values["whatsapp_id"]
            if whatsapp_id in seen:
                result.errors.append(RowError(line, "whatsapp_id", f"duplicate of row {seen[whatsapp_id]}"))
                continue
            seen[whatsapp_id] = line
            bad = next((c for c, v in own.items() if "\x00" in v or len(v) > 1024), None)
            if bad is not None:
                result.errors.append(RowError(line, bad, "contains a NUL character or is over 1024 characters"))
                continue
            parsed.variables = {c: v for c, v in own.items() if v}
            rows.append(parsed)
    except csv.Error as exc:
        result.errors.append(RowError(line + 1, "row", f"malformed CSV: {exc}"))
    return rows


def _parse_row(line: int, cells: dict[str, str], result: ImportResult) -> ParsedRow | None:
    data: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    errors: list[RowError] = []
    for column, cell in cells.items():
        cell = cell.strip()
        if "\x00" in cell:
            errors.append(RowError(line, column, "contains a NUL character"))
            continue
        if column.startswith(ATTRIBUTE_PREFIXES):
            key = column.split(".", 1)[1]
            if cell:
                attributes[key] = cell
            continue
        if not cell:
            continue
        if column in ("opt_in", "is_blocked"):
            try:
                data[column] = _bool(cell, column)
            except ValueError as exc:
                errors.append(RowError(line, column, str(exc)))
        elif column == "tags":
            data["tags"] = _split_tags(cell)
        else:
            data[column] = cell
    if attributes:
        data["attributes"] = attributes
    if "whatsapp_id" not in data:
        errors.append(RowError(line, "whatsapp_id", "whatsapp_id is required"))
    try:
        model = ContactCreate.model_validate(data if "whatsapp_id" in data else {**data, "whatsapp_id": "000000"})
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = err.get("loc", ())
            column = str(loc[0]) if loc else "row"
            errors.append(RowError(line, column, err.get("msg", "invalid value")))
        model = None
    if errors:
        seen_fields: set[str] = set()
        for error in errors:
            if error.field not in seen_fields:
                seen_fields.add(error.field)
                result.errors.append(error)
        return None
    assert model is not None
    return ParsedRow(line, model.model_dump(exclude_unset=True))


async def import_contacts(session: AsyncSession, organization_id: uuid.UUID, text: str,
                          extra_columns: bool = False, keep_opt_outs: bool = False) -> ImportResult:
    """Upsert the file's valid rows in ``session`` (the caller's transaction). ``keep_opt_outs``
    (a campaign's recipients import): a row whose ``opt_in`` would opt an opted-out contact back
    in is rejected, so a CRM export saying "yes" for everyone does not undo a customer's opt-out."""
    result = ImportResult()
    rows = parse_rows(text, result, extra_columns)
    if not rows:
        result.errors.sort(key=lambda e: e.row)
        return result
    room = await room_left(session, organization_id, "max_contacts")  # locks the organization
    ids = [r.values["whatsapp_id"] for r in rows]
    existing_rows = (await session.execute(
        select(Contact).where(Contact.organization_id == organization_id, Contact.whatsapp_id.in_(ids))
        .with_for_update()
    )).scalars().all()
    existing = {c.whatsapp_id: c for c in existing_rows}
    for parsed in rows:
        contact = existing.get(parsed.values["whatsapp_id"])
        if keep_opt_outs and contact is not None and contact.opt_in is False and parsed.values.get("opt_in"):
            result.errors.append(RowError(parsed.line, "opt_in", OPTED_OUT))
            continue
        adds_one = contact is None or contact.deleted_at is not None
        if adds_one and room is not None:
            if room <= 0:
                result.errors.append(RowError(parsed.line, "max_contacts",
                                              "your plan's contact limit is reached; row not imported"))
                continue
            room -= 1
        if extra_columns:
            result.variables[parsed.values["whatsapp_id"]] = parsed.variables
        if contact is None:
            contact = Contact(organization_id=organization_id, **parsed.values)
            session.add(contact)
            result.inserted += 1
            result.written.append(("contact.created", contact))
        else:
            _merge(contact, parsed.values)
            result.updated += 1
            result.written.append(("contact.updated", contact))
    await session.flush()
    result.errors.sort(key=lambda e: e.row)
    return result


def _merge(contact: Contact, values: dict[str, Any]) -> None:
    from sqlalchemy import func

    for column, value in values.items():
        if column == "tags":
            contact.tags = list(dict.fromkeys([*(contact.tags or []), *value]))
        elif column == "attributes":
            contact.attributes = {**(contact.attributes or {}), **value}
        elif column != "whatsapp_id":
            setattr(contact, column, value)
    contact.deleted_at = None
    contact.updated_at = func.now()
