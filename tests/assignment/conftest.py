"""A small world for assignment tests: an organization, departments, agents and
queued conversations, written straight to the test database."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

_n = itertools.count(1)


class World:
    def __init__(self, db: Any) -> None:
        self.db = db
        self.org: uuid.UUID | None = None

    async def organization(self) -> uuid.UUID:
        async with self.db.raw() as conn:
            self.org = await conn.fetchval(
                "INSERT INTO organizations (name, slug) VALUES ($1, $1) RETURNING id", f"org-{next(_n)}-{uuid.uuid4().hex[:6]}")
        return self.org

    async def department(self, strategy: str = "round_robin", **columns: Any) -> uuid.UUID:
        cols = {"organization_id": self.org, "name": f"Support {next(_n)}", "assignment_strategy": strategy,
                **columns}
        return await self._insert("departments", cols)

    async def agent(self, *departments: uuid.UUID, online: bool = True, max_open: int = 5, priority_level: int = 0,
                    can_pull: bool = True, role: str = "agent", name: str | None = None) -> uuid.UUID:
        n = next(_n)
        user = await self._insert("users", {
            "organization_id": self.org, "email": f"agent{n}-{uuid.uuid4().hex[:6]}@example.com",
            "password_hash": "x", "full_name": name or f"Agent {n}", "role": role, "is_online": online})
        for d in departments:
            await self._insert("user_departments", {
                "user_id": user, "department_id": d, "max_concurrent_conversations": max_open,
                "priority_level": priority_level, "can_pull_from_queue": can_pull}, returning=None)
        return user

    async def waiting(self, department: uuid.UUID | None, *, priority: str = "normal", ago: float = 0.0,
                      contact_name: str | None = None) -> uuid.UUID:
        """A conversation handed off to ``department`` ``ago`` seconds ago."""
        contact = await self._insert("contacts", {"organization_id": self.org, "whatsapp_id": f"55119{next(_n):07d}",
                                                  "name": contact_name})
        at = datetime.now(timezone.utc) - timedelta(seconds=ago)
        return await self._insert("conversations", {
            "organization_id": self.org, "contact_id": contact, "department_id": department,
            "status": "waiting_in_queue", "is_bot_active": False, "entered_queue_at": at, "handoff_at": at,
            "priority": priority})

    async def greeting(self, user: uuid.UUID, template: str, **columns: Any) -> None:
        await self._insert("agent_greetings", {"user_id": user, "message_template": template, **columns})

    async def conversation(self, conversation_id: uuid.UUID) -> Any:
        async with self.db.raw() as conn:
            return await conn.fetchrow("SELECT * FROM conversations WHERE id = $1", conversation_id)

    async def assignees(self, ids: list[uuid.UUID]) -> list[uuid.UUID | None]:
        async with self.db.raw() as conn:
            rows = {r["id"]: r["assigned_to"] for r in await conn.fetch(
                "SELECT id, assigned_to FROM conversations WHERE id = ANY($1::uuid[])", ids)}
        return [rows[i] for i in ids]

    async def execute(self, sql: str, *args: Any) -> Any:
        async with self.db.raw() as conn:
            return await conn.execute(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> Any:
        async with self.db.raw() as conn:
            return await conn.fetch(sql, *args)

    async def _insert(self, table: str, cols: dict[str, Any], returning: str | None = "id") -> Any:
        names = ", ".join(cols)
        marks = ", ".join(f"${i}" for i in range(1, len(cols) + 1))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})" + (f" RETURNING {returning}" if returning else "")
        async with self.db.raw() as conn:
            if returning:
                return await conn.fetchval(sql, *cols.values())
            await conn.execute(sql, *cols.values())


@pytest.fixture
async def world(db) -> World:  # noqa: ANN001
    w = World(db)
    await w.organization()
    return w
