"""Storing and finding messages by WhatsApp id, exactly once.

`messages` is partitioned by month, so the uniqueness of
``whatsapp_message_id`` lives in `message_whatsapp_ids` (see
docs/data-layer.md). `add_message_once` claims the id there first: a webhook
delivered twice stores one row, the second call returns False and adds
nothing, and two concurrent deliveries serialise on the claim's primary key.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.models import Message, MessageWhatsAppId


async def add_message_once(session: AsyncSession, message: Message) -> bool:
    """Add ``message`` unless a message with its ``whatsapp_message_id`` exists.

    Returns True when added (flushed, in the session's transaction), False when
    it was a duplicate. A message without a WhatsApp id is always added. Fills
    ``id`` and ``created_at`` if unset (they form the message's key).
    """
    if message.id is None:
        message.id = uuid.uuid4()
    if message.created_at is None:
        message.created_at = datetime.now(timezone.utc)
    if message.whatsapp_message_id is not None:
        claimed = await session.execute(
            insert(MessageWhatsAppId)
            .values(whatsapp_message_id=message.whatsapp_message_id,
                    message_id=message.id, message_created_at=message.created_at)
            .on_conflict_do_nothing(index_elements=["whatsapp_message_id"])
            .returning(MessageWhatsAppId.whatsapp_message_id))
        if claimed.first() is None:
            return False
    session.add(message)
    await session.flush()
    return True


async def message_by_whatsapp_id(session: AsyncSession, whatsapp_message_id: str) -> Message | None:
    """The message with this WhatsApp id (one index lookup plus one partition)."""
    ref = (await session.execute(
        select(MessageWhatsAppId.message_id, MessageWhatsAppId.message_created_at)
        .where(MessageWhatsAppId.whatsapp_message_id == whatsapp_message_id))).first()
    if ref is None:
        return None
    return (await session.execute(
        select(Message).where(Message.id == ref.message_id,
                              Message.created_at == ref.message_created_at))).scalar_one_or_none()
