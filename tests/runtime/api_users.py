"""A user of a test's organization and the bearer header of their token (the runtime
fixtures' API signs with ``secret_key = "k" * 48``, tests/runtime/conftest.py)."""

from __future__ import annotations

import uuid
from typing import Any

from api.auth.tokens import create_access_token
from api.db.models import User

SECRET = "k" * 48


async def user_headers(db: Any, org_id: uuid.UUID, role: str = "org_admin") -> dict[str, str]:
    async with db.transaction() as s:
        user = User(organization_id=org_id, email=f"{uuid.uuid4().hex[:8]}@example.com", full_name="T",
                    password_hash="x", role=role)
        s.add(user)
        await s.flush()
        user_id = user.id
    token, _ = create_access_token(SECRET, user_id=user_id, organization_id=org_id, role=role, ttl_seconds=3600)
    return {"Authorization": f"Bearer {token}"}
