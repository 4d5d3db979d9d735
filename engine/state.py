"""Conversation state: small, JSON-able, lossless.

A state exists only while a conversation waits (a question); it says which
program (flow_ref + hash: a conversation stays on the version it started),
where (pc), the flow variables, the call stack of sub-flows and what it waits
for. ``to_json`` uses short keys so the stored value stays well under 1 KB::

    {"f": flow_ref, "h": hash, "p": pc, "v": {vars},
     "s": [[flow_ref, hash, return_pc|null], ...],      # callers, outermost first
     "w": [node, kind, retries_left, deadline_iso|null]}
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping


class StateFormatError(ValueError):
    """A stored state is not one this engine can resume."""


@dataclass(slots=True)
class Frame:
    """A caller waiting for a sub-flow: where to continue when it ends."""

    flow_ref: str
    program_hash: str
    return_pc: int | None  # None: the caller's `next` is not connected, so it ends too


@dataclass(slots=True)
class Wait:
    node: str
    kind: str = "question"
    retries_left: int = 0
    deadline: str | None = None  # ISO 8601, aware

    @property
    def deadline_at(self) -> dt.datetime | None:
        return dt.datetime.fromisoformat(self.deadline) if self.deadline else None


@dataclass(slots=True)
class State:
    flow_ref: str
    program_hash: str
    pc: int
    vars: dict[str, Any] = field(default_factory=dict)
    stack: list[Frame] = field(default_factory=list)
    wait: Wait | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"f": self.flow_ref, "h": self.program_hash, "p": self.pc, "v": self.vars}
        if self.stack:
            out["s"] = [[f.flow_ref, f.program_hash, f.return_pc] for f in self.stack]
        w = self.wait
        if w is not None:
            out["w"] = [w.node, w.kind, w.retries_left, w.deadline]
        return out

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "State":
        try:
            flow_ref, program_hash, pc, variables = doc["f"], doc["h"], doc["p"], doc.get("v", {})
            if not (isinstance(flow_ref, str) and isinstance(program_hash, str)
                    and type(pc) is int and pc >= 0 and isinstance(variables, dict)):
                raise TypeError("bad field types")
            stack = []
            for f_ref, f_hash, rpc in doc.get("s", ()):
                if not (isinstance(f_ref, str) and isinstance(f_hash, str)
                        and (rpc is None or (type(rpc) is int and rpc >= 0))):
                    raise TypeError("bad frame")
                stack.append(Frame(f_ref, f_hash, rpc))
            wait = None
            if doc.get("w") is not None:
                node, kind, retries, deadline = doc["w"]
                if not (isinstance(node, str) and isinstance(kind, str) and type(retries) is int
                        and (deadline is None or isinstance(deadline, str))):
                    raise TypeError("bad wait")
                wait = Wait(node, kind, retries, deadline)
        except (KeyError, TypeError, ValueError) as exc:
            raise StateFormatError(f"not a flow state: {exc}") from exc
        return cls(flow_ref, program_hash, pc, dict(variables), stack, wait)
