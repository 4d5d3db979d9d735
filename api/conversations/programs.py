"""Compiled programs for the runtime, cached per process by (flow id, program hash).

A `Program` is immutable, so every conversation on one flow version shares
one object. ``flow_ref`` is a flow id (top-level flows) or, for a sub-flow
``jump``, a flow id or name of the same chatbot. ``program_hash`` None means
the flow's live version (``flows.version``, published; drafts never run); a hash pins the version a conversation started on.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import text

from engine.ports import FlowNotPublished
from engine.program import Op, Program

_CACHE_LIMIT = 512


def has_ai(program: Program) -> bool:
    return any(ins.op is Op.AI_PROMPT for ins in program.code)


class ProgramStore:
    """The programs one conversation may run: flows of its organization only (a flow id in a
    program is checked again here, not only when the canvas was saved)."""

    def __init__(self, rt: Any, chatbot_id: uuid.UUID | None, organization_id: uuid.UUID) -> None:
        self.rt = rt
        self.chatbot_id = chatbot_id
        self.organization_id = organization_id

    async def load(self, flow_ref: str, program_hash: str | None) -> Program:
        cache: dict = self.rt.programs
        # a name means a flow of this chatbot: another chatbot's (another organization's)
        # flow of the same name has its own entry; an id, a flow of this organization
        key = (self.organization_id, self.chatbot_id, flow_ref)
        if program_hash is None:  # "current version": remembered for a moment
            current = self.rt.current_versions.get(key)
            if current is not None and time.monotonic() - current[0] < self.rt.cache_ttl:
                program_hash = current[1]
        if program_hash is not None:
            hit = cache.get(program_hash)
            if hit is not None:
                return hit
        requested = program_hash
        async with self.rt.db.session() as s:
            flow_id = await self._resolve(s, flow_ref)
            if program_hash is None:
                row = (await s.execute(text(
                    "SELECT v.program, v.program_hash FROM flow_versions v JOIN flows f ON f.id = v.flow_id "
                    "AND v.version = f.version JOIN chatbots b ON b.id = f.chatbot_id AND b.organization_id = :o "
                    "WHERE v.flow_id = :f AND v.published_at IS NOT NULL"),
                    {"f": flow_id, "o": self.organization_id})).first()
            else:
                row = (await s.execute(text(
                    "SELECT v.program, v.program_hash FROM flow_versions v JOIN flows f ON f.id = v.flow_id "
                    "JOIN chatbots b ON b.id = f.chatbot_id AND b.organization_id = :o "
                    "WHERE v.flow_id = :f AND v.program_hash = :h ORDER BY v.version DESC LIMIT 1"),
                    {"f": flow_id, "h": program_hash, "o": self.organization_id})).first()
            if row is None and program_hash is None and await self._exists(s, flow_id):
                raise FlowNotPublished(flow_ref)  # there, but a draft: not "not found"
        if row is None:
            raise LookupError(f"flow {flow_ref!r} has no published version"
                              + (f" {program_hash[:12]}" if program_hash else ""))
        if requested is None:
            self.rt.current_versions[key] = (time.monotonic(), row.program_hash)
        hit = cache.get(row.program_hash)
        if hit is None:
            hit = Program.from_bytes(bytes(row.program))
            if len(cache) >= _CACHE_LIMIT:
                cache.pop(next(iter(cache)))
            cache[row.program_hash] = hit
        return hit

    async def _exists(self, s: Any, flow_id: uuid.UUID) -> bool:
        """Whether ``flow_id`` is a flow of this organization."""
        return (await s.execute(text(
            "SELECT 1 FROM flows f JOIN chatbots b ON b.id = f.chatbot_id AND b.organization_id = :o "
            "WHERE f.id = :f"), {"f": flow_id, "o": self.organization_id})).first() is not None

    async def _resolve(self, s: Any, flow_ref: str) -> uuid.UUID:
        try:
            return uuid.UUID(str(flow_ref))
        except ValueError:
            pass
        if self.chatbot_id is None:
            raise LookupError(f"flow {flow_ref!r} not found")
        found = (await s.execute(text(
            "SELECT id FROM flows WHERE chatbot_id = :b AND name = :n ORDER BY created_at, id LIMIT 1"),
            {"b": self.chatbot_id, "n": flow_ref})).scalar()
        if found is None:
            raise LookupError(f"flow {flow_ref!r} not found in this chatbot")
        return found
