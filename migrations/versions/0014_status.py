"""`messages_whatsapp_id_sync` fires on an update only when the WhatsApp id or
the partition key really changed.

Every status webhook updates its message with ``whatsapp_message_id =
COALESCE(whatsapp_message_id, <the status's wamid>)`` (a status can bring a
message's id before its sender wrote it back). An ``UPDATE OF`` trigger fires
for every row whose column is *named* in the SET list, changed or not: the
trigger then rewrote the message's claim in `message_whatsapp_ids` to the
values it already held: a dead row version, its WAL and a PL/pgSQL call per
status (most of the status statement's run time). The update trigger now has
a ``WHEN`` clause, so a row whose id and ``created_at`` are unchanged queues
no trigger at all; inserts and deletes keep the trigger as it was.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0014"
down_revision: Union[str, Sequence[str], None] = "0013"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_FUNCTION = "EXECUTE FUNCTION pytake_messages_whatsapp_id_sync()"


def upgrade() -> None:
    op.execute("DROP TRIGGER messages_whatsapp_id_sync ON messages")
    op.execute(f"CREATE TRIGGER messages_whatsapp_id_sync AFTER INSERT OR DELETE ON messages "
               f"FOR EACH ROW {_FUNCTION}")
    op.execute(f"""CREATE TRIGGER messages_whatsapp_id_sync_update
AFTER UPDATE OF whatsapp_message_id, created_at ON messages FOR EACH ROW
WHEN (OLD.whatsapp_message_id IS DISTINCT FROM NEW.whatsapp_message_id OR OLD.created_at IS DISTINCT FROM NEW.created_at)
{_FUNCTION}""")


def downgrade() -> None:
    op.execute("DROP TRIGGER messages_whatsapp_id_sync_update ON messages")
    op.execute("DROP TRIGGER messages_whatsapp_id_sync ON messages")
    op.execute(f"CREATE TRIGGER messages_whatsapp_id_sync AFTER INSERT OR UPDATE OF whatsapp_message_id, created_at "
               f"OR DELETE ON messages FOR EACH ROW {_FUNCTION}")
