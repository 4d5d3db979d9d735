"""Writing domain events into the transactional outbox (`events`).

An event is written in the SAME transaction as the change it describes, so
a change and its events commit (or roll back) together. Three ways in, one
row shape:

- `emit(session, *events)`: inside an SQLAlchemy `AsyncSession` transaction
  (the API's routes and services);
- `emit_conn(conn, *events)`: on a raw asyncpg connection inside a
  transaction (`Database.raw()` + ``conn.transaction()``);
- `EVENTS_CTE` + `cte_params(events)`: as one more CTE of a single-statement
  write (the conversation step's guarded write), no extra round trip.

``ordering_key`` is the conversation the event belongs to (else the contact):
consumers deliver one key's events in the order they were written. Write
the event AFTER the statement that locks that conversation (or contact) in
the same transaction, so ``id`` order is that key's commit order.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

import orjson

from api.events.catalogue import EVENT_TYPES


@dataclass(frozen=True, slots=True)
class NewEvent:
    organization_id: uuid.UUID
    type: str
    payload: dict[str, Any]
    ordering_key: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}: add it to api/events/catalogue.py")

    @property
    def version(self) -> int:
        return EVENT_TYPES[self.type]


def event(organization_id: Any, type: str, payload: dict[str, Any], ordering_key: Any = None) -> NewEvent:
    return NewEvent(_uuid(organization_id), type, payload, _uuid(ordering_key) if ordering_key else None)


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def dumps(value: Any) -> str:
    """A payload as JSON text: orjson (ids and times as strings, several times faster than
    the stdlib on the message path); the stdlib for what orjson refuses (huge integers)."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


# Payloads travel as text[] and become jsonb row by row: a jsonb[] parameter costs
# this process a Python codec call per element (the jsonb codec), text[] none;
# PostgreSQL parses each payload once either way (bench/event_cost.py).
_INSERT = ("INSERT INTO events (organization_id, type, version, ordering_key, payload) "
           "SELECT e.org, e.type, e.version, e.key, CAST(e.payload AS jsonb) "
           "FROM unnest(CAST(:ev_orgs AS uuid[]), CAST(:ev_types AS text[]), "
           "CAST(:ev_versions AS int2[]), CAST(:ev_keys AS uuid[]), CAST(:ev_payloads AS text[])) "
           "AS e(org, type, version, key, payload)")

EVENTS_CTE = f"events_written AS ({_INSERT})"
"""A data-modifying CTE for a ``WITH ... `` statement; its parameters come from
`cte_params`. (A data-modifying CTE runs even when nothing selects from it.)"""


# The same write from ONE parameter: the events as a JSON array of ``[org, type, version,
# key, payload]``, built by one orjson call. Five array parameters cost asyncpg an encoder
# pass (with its container checks) per element and this process a list and a payload
# text per event; the conversation step writes its events this way. PostgreSQL parses the
# document once, as it parsed each payload text before; ``WITH ORDINALITY`` keeps the
# list's order as the ids' order.
_INSERT_JSON = ("INSERT INTO events (organization_id, type, version, ordering_key, payload) "
                "SELECT CAST(x.e->>0 AS uuid), x.e->>1, CAST(x.e->>2 AS int2), CAST(x.e->>3 AS uuid), x.e->4 "
                "FROM jsonb_array_elements(CAST(:ev_json AS jsonb)) WITH ORDINALITY AS x(e, n) ORDER BY x.n")

EVENTS_JSON_CTE = f"events_written AS ({_INSERT_JSON})"
"""`EVENTS_CTE` with its parameter from `cte_json_params` (one JSON text)."""


def cte_json_params(events: Iterable[NewEvent]) -> dict[str, Any]:
    rows = [[e.organization_id, e.type, e.version, e.ordering_key, e.payload] for e in events]
    try:
        doc = orjson.dumps(rows, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # a payload orjson refuses (an integer beyond 64 bits): each event as `dumps` writes it
        doc = "[" + ",".join(f"[{dumps(row[:4])[1:-1]},{dumps(row[4])}]" for row in rows) + "]"
    return {"ev_json": doc}


def cte_params(events: Iterable[NewEvent]) -> dict[str, Any]:
    events = list(events)
    return {
        "ev_orgs": [e.organization_id for e in events],
        "ev_types": [e.type for e in events],
        "ev_versions": [e.version for e in events],
        "ev_keys": [e.ordering_key for e in events],
        "ev_payloads": [dumps(e.payload) for e in events],
    }


async def emit(session: Any, *events: NewEvent) -> None:
    """Write events in the session's current transaction (the caller commits)."""
    if not events:
        return
    from sqlalchemy import text

    await session.execute(text(_INSERT), cte_params(events))


async def emit_conn(conn: Any, *events: NewEvent) -> None:
    """Write events on a raw asyncpg connection, inside the caller's transaction."""
    if not events:
        return
    from api.db.session import bind

    await conn.execute(*bind(_INSERT, cte_params(events)))
