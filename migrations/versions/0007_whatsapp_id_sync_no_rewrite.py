"""`messages_whatsapp_id_sync` stops rewriting a claim that is already right.

The webhook claims a message's WhatsApp id (`message_whatsapp_ids`) in the
statement that stores the message; the trigger then found the claim and
updated it to the very values it held: one dead row version (and its WAL) in
`message_whatsapp_ids` per inbound message. It now checks first and writes
only when the claim's timestamp differs (a message moved between partitions)
or the id is new.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Sequence, Union

from alembic import op

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _original() -> str:
    spec = importlib.util.spec_from_file_location(
        "pytake_migration_0002", Path(__file__).with_name("0002_message_partitions.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.WHATSAPP_ID_SYNC.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


_CLAIMED_BEFOREHAND = """        -- Either claimed beforehand for this very message, or a duplicate.
        UPDATE message_whatsapp_ids"""
_CHECKED_FIRST = """        -- Either claimed beforehand for this very message (the webhook claims it in
        -- the statement that stores the message: nothing to write), or a duplicate.
        PERFORM 1 FROM message_whatsapp_ids
         WHERE whatsapp_message_id = NEW.whatsapp_message_id AND message_id = NEW.id
           AND message_created_at = NEW.created_at;
        IF FOUND THEN
            RETURN NEW;
        END IF;
        UPDATE message_whatsapp_ids"""


def upgrade() -> None:
    original = _original()
    assert _CLAIMED_BEFOREHAND in original
    op.execute(original.replace(_CLAIMED_BEFOREHAND, _CHECKED_FIRST, 1))


def downgrade() -> None:
    op.execute(_original())
