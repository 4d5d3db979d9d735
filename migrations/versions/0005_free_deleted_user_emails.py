"""Free the e-mails of users deleted before deleting started doing it.

Deleting a user now rewrites its e-mail to ``deleted+<user id>@invalid``
(`api.routes.users`; ``users.email`` is UNIQUE across all rows, deleted ones
included, so a kept address could never be given to a new user). This applies
the same rewrite to the users soft-deleted before; their audit entries keep
the original addresses. The downgrade leaves them freed (the old addresses
are not kept anywhere it could read them back from).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("""
        UPDATE users SET email = 'deleted+' || id::text || '@invalid'
         WHERE deleted_at IS NOT NULL AND email <> 'deleted+' || id::text || '@invalid'
    """)


def downgrade() -> None:
    pass
