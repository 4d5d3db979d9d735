"""An agent typing: other agents of the conversation see it, and so does the customer.

- ``typing:{conversation_id}:{user_id}`` (String ``"typing"``, 5 s TTL) says who
  types where; it is renewed at most every 2 s, and each renewal is published
  to the organization's channel (`api.live.publisher.channel`) as a ``typing``
  message for the conversation's audience, the typist excepted.
- The customer sees WhatsApp's typing indicator: Meta's read receipt with
  ``typing_indicator`` for the conversation's latest inbound message
  (`GraphClient.send_typing_indicator`), at most once per conversation every
  ``live_typing_indicator_seconds`` (``typing:wa:{conversation_id}``; WhatsApp
  shows it for up to 25 s, or until the reply arrives).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from api.live.audience import Audience, Viewer, audience
from api.live.protocol import TYPING_SECONDS, typing_message
from api.live.publisher import channel
from api.redis_scripts import memo_key, resend_safe

log = logging.getLogger("pytake.live")

RENEW_AFTER_MS = 2000  # a typing key with more left than TYPING_SECONDS - this is not renewed


def typing_key(conversation_id: Any, user_id: Any) -> str:
    return f"typing:{{{conversation_id}}}:{user_id}"  # the conversation is the hash tag


def indicator_key(conversation_id: Any) -> str:
    return f"typing:wa:{{{conversation_id}}}"


# KEYS: typing key ; ARGV: ttl ms, renew-below ms -> 1 set (publish), 0 still fresh.
# Sent twice, the second run answers the first's 1 (api.redis_scripts): the renewal is published.
_RENEW = resend_safe("""
if redis.call('PTTL', KEYS[1]) > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], 'typing', 'PX', ARGV[1])
return keep(1)
""")

_CONVERSATION = """
SELECT c.department_id, c.assigned_to, n.phone_number_id, n.access_token_encrypted,
       (SELECT m.whatsapp_message_id FROM messages m
         WHERE m.conversation_id = c.id AND m.direction = 'inbound' AND m.whatsapp_message_id IS NOT NULL
         ORDER BY m.created_at DESC LIMIT 1) AS last_inbound
  FROM conversations c LEFT JOIN whatsapp_numbers n ON n.id = c.whatsapp_number_id
 WHERE c.id = $1 AND c.organization_id = $2"""


class NotVisible(Exception):
    """The conversation does not exist in the user's organization, or is not theirs to see."""


async def conversation_for(db: Any, viewer: Viewer, conversation_id: uuid.UUID) -> Any:
    """The conversation's row for typing, if the viewer may see it (else `NotVisible`)."""
    async with db.raw() as conn:
        row = await conn.fetchrow(_CONVERSATION, conversation_id, viewer.organization_id)
    if row is None or not audience(None, row).visible_to(viewer):
        raise NotVisible(str(conversation_id))
    return row


async def typing(redis: Any, viewer: Viewer, conversation_id: uuid.UUID, row: Any) -> bool:
    """Record that ``viewer`` types in the conversation; whether it was published (renewed)."""
    key = typing_key(conversation_id, viewer.user_id)
    renewed = await redis.eval(_RENEW, 2, key, memo_key(key), TYPING_SECONDS * 1000,
                               TYPING_SECONDS * 1000 - RENEW_AFTER_MS)
    if not renewed:
        return False
    header = {**audience(None, row).header(), "t": str(viewer.user_id)}
    text = typing_message(str(conversation_id), str(viewer.user_id), viewer.name)
    await redis.publish(channel(viewer.organization_id),
                        (json.dumps(header, separators=(",", ":")) + "\n" + text).encode())
    return True


async def indicator_due(redis: Any, conversation_id: uuid.UUID, every_seconds: float) -> bool:
    """May the customer be shown the typing indicator now (at most once per ``every_seconds``)?"""
    return bool(await redis.set(indicator_key(conversation_id), "1", nx=True, px=max(1, int(every_seconds * 1000))))


async def send_indicator(graph: Any, settings: Any, row: Any) -> bool:
    """Meta's read receipt with the typing indicator, for the latest inbound message;
    best effort (False: nothing to send it for, or Meta refused)."""
    from api.crypto import decrypt_secret
    from api.whatsapp.graph_client import GraphError

    if not row["last_inbound"] or not row["phone_number_id"] or not row["access_token_encrypted"]:
        return False
    try:
        token = decrypt_secret(settings, row["access_token_encrypted"])
        await graph.send_typing_indicator(row["phone_number_id"], token, row["last_inbound"])
    except GraphError as exc:
        log.warning("typing indicator for %s not sent: %s", row["last_inbound"], exc)
        return False
    except Exception:  # noqa: BLE001 - cosmetic: never breaks the agent's socket
        log.exception("typing indicator for %s not sent", row["last_inbound"])
        return False
    return True


def audience_of_typing(header: dict[str, Any]) -> tuple[Audience, str | None]:
    return Audience.from_header(header), header.get("t")
