"""Apply status webhooks (sent / delivered / read / failed) to outbound messages.

Meta does not promise order: ``read`` may arrive before ``delivered``. A
status never moves backwards. Rank: pending < sent < delivered < read.
``failed`` replaces pending or sent; it is terminal, except that a later
``delivered`` or ``read`` proves the message did arrive (multi-device
customers can produce both) and wins; for a row we failed ourselves as
``delivery_unknown`` (its sender died mid-request), ``sent`` wins too. Each status's timestamp column
(``sent_at``, ``delivered_at``, ``read_at``, ``failed_at``) is filled the first
time that status is seen, even when it no longer changes the status.

The row is found by WhatsApp message id, or by ``biz_opaque_callback_data``
(our message id, sent with every message): a status can arrive before the
sender has written the wamid back, or for a row whose sender died after the
request (see sender.py), and it then also records the wamid.
Campaign recipients with the same wamid get the same rules.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text

from api.whatsapp.payloads import StatusUpdate

# SQL CASE deciding the new status from the current one (`cur`) and the incoming (`:st`).
_NEXT_STATUS = """
CASE
  WHEN {cur} = 'failed' THEN (CASE WHEN :st IN ('delivered', 'read') OR ({unknown} AND :st = 'sent')
                                   THEN :st ELSE 'failed' END)
  WHEN :st = 'failed' THEN (CASE WHEN {cur} IN ('pending', 'sent') OR {cur} IS NULL THEN 'failed' ELSE {cur} END)
  WHEN array_position(ARRAY['pending','sent','delivered','read'], :st)
       > COALESCE(array_position(ARRAY['pending','sent','delivered','read'], {cur}::text), 0) THEN :st
  ELSE {cur}
END
"""

_UPDATE_MESSAGE = f"""
UPDATE messages SET
  status = {_NEXT_STATUS.format(cur="status", unknown="metadata ? 'delivery_unknown'")},
  whatsapp_message_id = COALESCE(whatsapp_message_id, :wamid),
  sent_at = CASE WHEN :st IN ('sent', 'delivered', 'read') THEN COALESCE(sent_at, :at) ELSE sent_at END,
  delivered_at = CASE WHEN :st IN ('delivered', 'read') THEN COALESCE(delivered_at, :at) ELSE delivered_at END,
  read_at = CASE WHEN :st = 'read' THEN COALESCE(read_at, :at) ELSE read_at END,
  failed_at = CASE WHEN :st = 'failed' THEN COALESCE(failed_at, :at) ELSE failed_at END,
  error_message = CASE WHEN :st = 'failed' AND status IN ('pending', 'sent') THEN :error ELSE error_message END,
  metadata = metadata || CAST(:meta AS jsonb)
WHERE direction = 'outbound' AND ({{where}})
RETURNING id, status
"""

_WAMID = "whatsapp_message_id = :wamid"
_ID = "id = :id AND (whatsapp_message_id IS NULL OR whatsapp_message_id = :wamid)"
_IN_ORG = " AND conversation_id IN (SELECT id FROM conversations WHERE organization_id = :org)"
_BY_WAMID = text(_UPDATE_MESSAGE.format(where=_WAMID))
_BY_ID = text(_UPDATE_MESSAGE.format(where=_ID))
# An organization's own Meta app only reaches that organization's messages (api.whatsapp.apps).
_BY_WAMID_IN_ORG = text(_UPDATE_MESSAGE.format(where=_WAMID + _IN_ORG))
_BY_ID_IN_ORG = text(_UPDATE_MESSAGE.format(where=_ID + _IN_ORG))

_UPDATE_RECIPIENT_SQL = f"""
UPDATE campaign_recipients SET
  status = {_NEXT_STATUS.format(cur="status", unknown="false")},
  sent_at = CASE WHEN :st IN ('sent', 'delivered', 'read') THEN COALESCE(sent_at, :at) ELSE sent_at END,
  delivered_at = CASE WHEN :st IN ('delivered', 'read') THEN COALESCE(delivered_at, :at) ELSE delivered_at END,
  read_at = CASE WHEN :st = 'read' THEN COALESCE(read_at, :at) ELSE read_at END,
  failed_at = CASE WHEN :st = 'failed' THEN COALESCE(failed_at, :at) ELSE failed_at END,
  error_message = CASE WHEN :st = 'failed' AND status IN ('pending', 'sent') THEN :error ELSE error_message END
WHERE whatsapp_message_id = :wamid
"""
_UPDATE_RECIPIENT = text(_UPDATE_RECIPIENT_SQL)
_UPDATE_RECIPIENT_IN_ORG = text(_UPDATE_RECIPIENT_SQL
                                + " AND campaign_id IN (SELECT id FROM campaigns WHERE organization_id = :org)")


def _callback_id(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def apply_statuses(session: Any, statuses: list[StatusUpdate], organization_id: uuid.UUID | None = None) -> int:
    """Apply statuses in ``session``'s transaction; the number of messages matched.
    With ``organization_id``, only that organization's messages and campaign recipients are touched."""
    matched = 0
    by_wamid, by_id, recipient = ((_BY_WAMID, _BY_ID, _UPDATE_RECIPIENT) if organization_id is None
                                  else (_BY_WAMID_IN_ORG, _BY_ID_IN_ORG, _UPDATE_RECIPIENT_IN_ORG))
    for st in statuses:
        error = "; ".join(e.describe() for e in st.errors) or ("failed" if st.status == "failed" else None)
        meta: dict[str, Any] = {}
        if st.errors:
            meta["meta_errors"] = [e.to_json() for e in st.errors]
        params = {"st": st.status, "wamid": st.wamid, "at": st.timestamp, "error": error,
                  "meta": json.dumps(meta)}
        if organization_id is not None:
            params["org"] = organization_id
        rows = (await session.execute(by_wamid, params)).all()
        if not rows:
            message_id = _callback_id(st.biz_opaque_callback_data)
            if message_id is not None:
                rows = (await session.execute(by_id, {**params, "id": message_id})).all()
        matched += len(rows)
        await session.execute(recipient, params)
    return matched
