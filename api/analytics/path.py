"""A step's path through its flow, from the interpreter's events, counted in Redis.

`path_of` reads a run's events (``node_entered`` in order, ``flow_entered`` /
``flow_returned`` around sub-flows) against the flow's `Program`:

- **node**: each ``node_entered`` of the flow the step started in;
- **edge** ``(node, exit handle, destination)``: two nodes entered one after
  the other, and, for a step that resumes a waiting question (an answer or a
  timeout), the question to the first node entered. The handle is the one of
  the source's exits that leads to the destination (the first by name when two
  lead to the same node);
- **drop** ``(node, reason)``: ``timeout`` at a question whose wait ran out,
  ``error`` at the last node of a run that ended in an error. (Runs that went
  idle, waiting with nobody answering, are counted when read:
  api/analytics/report.py.)

Nodes of a called sub-flow are not counted in the caller (the call node's edge
goes to the node after the return); a ``jump`` to another flow without return
ends the counting of the step.

`PathCounter` gathers the counts in the process and adds them to one Redis hash
(``analytics:path:live``) every `PUSH_AFTER` seconds; api/analytics/flush.py moves them into
``flow_path_counts``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from api.redis_buffered_counts import BufferedCounts
from engine import events as ev
from engine.program import Program

LIVE_KEY = "analytics:{path}:live"  # {path}: the hash tag of the path counts (one slot: flush renames live to pending)

_EXITS: dict[str, dict[str, dict[str, str]]] = {}  # program hash -> node -> destination node -> handle
_EXITS_LIMIT = 1024


@dataclass(slots=True)
class Path:
    """One step's counts on one flow version (``program_hash``)."""

    flow_id: str
    program_hash: str
    nodes: dict[str, int] = field(default_factory=dict)
    edges: dict[tuple[str, str, str], int] = field(default_factory=dict)
    drops: dict[tuple[str, str], int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.nodes or self.edges or self.drops)


def _exits(program: Program) -> dict[str, dict[str, str]]:
    found = _EXITS.get(program.hash)
    if found is None:
        code = program.code
        found = {}
        for ins in code:
            targets: dict[str, str] = {}
            for handle, pc in ins.exits:  # sorted by handle: the first name wins
                if 0 <= pc < len(code):
                    targets.setdefault(code[pc].node, handle)
            found[ins.node] = targets
        if len(_EXITS) >= _EXITS_LIMIT:
            _EXITS.pop(next(iter(_EXITS)))
        _EXITS[program.hash] = found
    return found


def path_of(flow_id: str, program: Program, events: Iterable[Any], *, waiting_at: str | None = None,
            timed_out: bool = False, status: str = "waiting") -> Path:
    """The counts of one run: ``waiting_at`` the question a resumed run started from
    (None for a run that started the flow), ``timed_out`` when it resumed on the wait's
    deadline, ``status`` the run's (``error``: a drop-off at its last node)."""
    path = Path(flow_id, program.hash)
    exits = _exits(program)
    nodes, edges = path.nodes, path.edges
    prev = waiting_at
    if timed_out and waiting_at is not None:
        path.drops[(waiting_at, "timeout")] = 1
    depth = 0
    entered = ev.NODE_ENTERED
    for event in events:
        kind = event.type
        if kind is entered or kind == entered:
            if depth:
                continue
            node = event.node
            nodes[node] = nodes.get(node, 0) + 1
            if prev is not None:
                handle = exits.get(prev, {}).get(node, "")
                key = (prev, handle, node)
                edges[key] = edges.get(key, 0) + 1
            prev = node
        elif kind == ev.FLOW_ENTERED:
            if event.node is None:  # the start of the run itself
                continue
            if not event.get("returns", True):
                if not depth:
                    break  # the run went on in another flow
                continue
            depth += 1
        elif kind == ev.FLOW_RETURNED:
            if not depth:
                break  # back in a caller: the rest is another flow's
            depth -= 1
    if status == "error" and prev is not None and not depth:
        path.drops[(prev, "error")] = path.drops.get((prev, "error"), 0) + 1
    return path


_hour_text: tuple[int, str] = (-1, "")  # (hours since the epoch, its text): one strftime an hour, not one a step


def _hour(now: datetime) -> str:
    global _hour_text
    number = int(now.timestamp()) // 3600
    if _hour_text[0] != number:
        _hour_text = (number, now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:00:00+00:00"))
    return _hour_text[1]


def counts_of(organization_id: Any, path: Path, now: datetime) -> dict[tuple[str, ...], int]:
    """A step's path as ``(org, flow, program hash, hour, kind, node, exit, dest) -> n``."""
    head = (str(organization_id), path.flow_id, path.program_hash, _hour(now))
    out: dict[tuple[str, ...], int] = {}
    for node, n in path.nodes.items():
        out[(*head, "node", node, "", "")] = n
    for (node, handle, dest), n in path.edges.items():
        out[(*head, "edge", node, handle, dest)] = n
    for (node, reason), n in path.drops.items():
        out[(*head, "drop", node, reason, "")] = n
    return out


def fields_of(organization_id: Any, path: Path, now: datetime) -> dict[str, int]:
    """The Redis hash fields (a JSON array each) and increments of a step's path."""
    return {json.dumps(key): n for key, n in counts_of(organization_id, path, now).items()}


PUSH_AFTER = 0.5  # seconds a process keeps counts before sending them to Redis


class PathCounter:
    """A process's path counts: steps add to a dict (no I/O on the step), sent to the
    live hash `PUSH_AFTER` seconds later (`api.redis_buffered_counts`). A process that
    dies loses at most that much; `aclose` pushes what is left. bench/path_counts.py
    measures the cost."""

    def __init__(self, redis_url: str, push_after: float = PUSH_AFTER) -> None:
        self._counts = BufferedCounts(redis_url, LIVE_KEY, push_after=push_after)

    def add(self, organization_id: Any, path: Path, now: datetime | None = None) -> None:
        if path:
            self._counts.add_many(counts_of(organization_id, path, now or datetime.now(timezone.utc)))

    async def push(self) -> None:
        await self._counts.push()

    async def aclose(self) -> None:
        await self._counts.aclose()


async def record_path(redis: Any, organization_id: Any, path: Path, now: datetime | None = None) -> None:
    """Add a step's counts to the live hash through a redis-py client (one round trip)."""
    if not path:
        return
    pipe = redis.pipeline(transaction=False)
    for name, n in fields_of(organization_id, path, now or datetime.now(timezone.utc)).items():
        pipe.hincrby(LIVE_KEY, name, n)
    await pipe.execute()
