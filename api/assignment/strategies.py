"""Who takes which waiting conversation: the departments' three strategies, as plain data.

`plan` pairs a department's queue (already in the order it must be served)
with the agents who can take conversations right now, each with the room
left under their maximum. Nothing here reads a clock or a database: the
engine (`api.assignment.engine`) locks and reads, this decides, the engine
writes.

- ``round_robin``: the agent whose turn is oldest (``turn``: the rotation
  kept per department; an agent new to it goes first), so agents alternate;
- ``load_balance``: the agent with the fewest open conversations, ties by turn;
- ``priority``: the agent with the highest ``user_departments.priority_level``
  while they have room, then fewest open, then turn. (The queue itself is
  served by conversation priority, then waiting time: `queue_order`.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable, Iterable

STRATEGIES = ("round_robin", "load_balance", "priority")
PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


@dataclass(slots=True)
class Candidate:
    """An agent who may take conversations from the department now."""

    id: uuid.UUID
    free: int  # room left under max_concurrent_conversations
    load: int  # open conversations they hold (every department)
    priority_level: int = 0
    turn: float = 0.0  # last time (rotation counter) they were given one here


def _round_robin(a: Candidate) -> tuple:
    return (a.turn, a.id.int)


def _load_balance(a: Candidate) -> tuple:
    return (a.load, a.turn, a.id.int)


def _priority(a: Candidate) -> tuple:
    return (-a.priority_level, a.load, a.turn, a.id.int)


_KEYS: dict[str, Callable[[Candidate], tuple]] = {
    "round_robin": _round_robin, "load_balance": _load_balance, "priority": _priority}


def plan(strategy: str | None, queue: Iterable[uuid.UUID], agents: list[Candidate],
         first_turn: float) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``(conversation, agent)`` pairs for the head of ``queue``; stops when nobody
    has room. Turns given here are ``first_turn``, ``first_turn + 1``, ... (the
    candidates' ``turn``, ``load`` and ``free`` are updated in place)."""
    key = _KEYS.get(strategy or "round_robin", _round_robin)
    pairs: list[tuple[uuid.UUID, uuid.UUID]] = []
    turn = first_turn
    for conversation in queue:
        open_agents = [a for a in agents if a.free > 0]
        if not open_agents:
            break
        agent = min(open_agents, key=key)
        agent.free -= 1
        agent.load += 1
        agent.turn = turn
        turn += 1
        pairs.append((conversation, agent.id))
    return pairs


def queue_order(strategy: str | None) -> str:
    """SQL ORDER BY for a department's queue: priority first under ``priority``,
    else oldest first (ties: the conversation's id, so every pass agrees)."""
    rank = ("CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'low' THEN 3 ELSE 2 END, "
            if strategy == "priority" else "")
    return f"{rank}COALESCE(entered_queue_at, handoff_at, created_at), id"
