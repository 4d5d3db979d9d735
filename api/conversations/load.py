"""Load: every SQL read a conversation step needs, and nothing else.

`load_step` reads, in one round trip, the conversation, its contact, its
number and its oldest unprocessed inbound message (hot statements run on a
raw asyncpg connection: `Database.raw`), then the chatbot and its published
flows (cached per process for ``rt.cache_ttl``). The other reads are asked
for only when needed: the history (`history`, for flows with `ai_prompt`),
a canvas node's row id (`node_id`) and a department by id or name
(`department`).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import text

from api.conversations import flow_selection
from api.db.session import bind
from api.runtime_context import Runtime
from engine import State

log = logging.getLogger("pytake.conversations.load")

HISTORY_SIZE = 20


@dataclass
class Loaded:
    """What one step needs, read in one short transaction."""

    conversation: Any
    contact: Any
    chatbot: flow_selection.ChatbotInfo | None
    flows: list[flow_selection.FlowInfo]
    message: Any | None  # the inbound row, or None for a timeout step
    state: State | None
    rev: int


_NEXT_MESSAGE = """
SELECT id FROM messages
 WHERE conversation_id = :c AND direction = 'inbound' AND metadata->>'processed' = 'false'
 LIMIT 1
"""

# conversation + contact + its oldest unprocessed inbound message, one round trip;
# with what `decide` asks the campaigns (api/campaigns/replies.py): the organization's
# settings (its opt-out keywords) and whether the conversation's latest outbound message
# is a campaign's (``lo_campaign``: only then is there a reply to record). That message is
# looked for (a probe of every ``messages`` partition, merged) only for a contact some
# campaign has sent to (one probe of idx_campaign_recipients_contact): a campaign's message
# always has its recipient row, so the answer is the same and most steps skip the probe.
_LOAD = """
SELECT c.*, ct.whatsapp_id AS ct_whatsapp_id, ct.bsuid AS ct_bsuid, ct.whatsapp_name AS ct_whatsapp_name, ct.name AS ct_name,
       ct.email AS ct_email, ct.phone AS ct_phone, ct.tags AS ct_tags, ct.attributes AS ct_attributes,
       m.id AS m_id, m.created_at AS m_created_at, m.type AS m_type, m.content AS m_content,
       m.whatsapp_message_id AS m_wamid,
       n.phone_number_id AS n_phone_number_id, n.settings AS n_settings, n.access_token_encrypted AS n_token,
       (SELECT o.settings FROM organizations o WHERE o.id = c.organization_id) AS o_settings,
       CASE WHEN EXISTS (SELECT 1 FROM campaign_recipients r WHERE r.contact_id = c.contact_id
                                                              AND r.message_id IS NOT NULL)
            THEN COALESCE((SELECT (lo.metadata->>'campaign_id') IS NOT NULL FROM messages lo
                            WHERE lo.conversation_id = c.id AND lo.direction = 'outbound'
                            ORDER BY lo.created_at DESC LIMIT 1), false)
            ELSE false END AS lo_campaign
  FROM conversations c
  JOIN contacts ct ON ct.id = c.contact_id
  LEFT JOIN whatsapp_numbers n ON n.id = c.whatsapp_number_id
  LEFT JOIN LATERAL (
       SELECT id, created_at, type, content, whatsapp_message_id FROM messages
        WHERE conversation_id = c.id AND direction = 'inbound' AND metadata->>'processed' = 'false'
        ORDER BY created_at, id LIMIT 1) m ON true
 WHERE c.id = :c
"""


async def has_unprocessed(rt: Runtime, conversation_id: uuid.UUID) -> bool:
    async with rt.db.raw() as conn:
        return await conn.fetchrow(*bind(_NEXT_MESSAGE, {"c": conversation_id})) is not None


async def load_row(conn: Any, conversation_id: uuid.UUID) -> Any:
    """The step's one read on ``conn`` (asyncpg): the conversation's row with its contact's
    (``ct_*``), number's (``n_*``) and organization's (``o_settings``) columns, its oldest
    unprocessed inbound message (``m_*``) and ``lo_campaign``; None if it does not exist."""
    return await conn.fetchrow(*bind(_LOAD, {"c": conversation_id}))


async def load_step(rt: Runtime, conversation_id: uuid.UUID) -> Loaded | None:
    """The conversation's next step: an unprocessed message, else a due timeout, else None."""
    async with rt.db.raw() as conn:
        row = await load_row(conn, conversation_id)
    if row is None:
        return None
    message = None
    if row["m_id"] is not None:
        message = {"id": row["m_id"], "created_at": row["m_created_at"], "type": row["m_type"],
                   "content": row["m_content"], "wamid": row["m_wamid"]}
    fv = row["flow_variables"] or {}
    state = None
    if fv.get("state"):
        try:
            state = State.from_json(fv["state"])
        except Exception:  # noqa: BLE001 - a state we cannot read restarts the flow
            log.warning("conversation %s: unreadable state dropped", conversation_id)
    if message is None and (state is None or state.wait is None or state.wait.deadline is None
                            or state.wait.deadline_at > datetime.now(timezone.utc)):
        return None
    contact = {"id": row["contact_id"], "whatsapp_id": row["ct_whatsapp_id"], "bsuid": row["ct_bsuid"],
               "whatsapp_name": row["ct_whatsapp_name"], "name": row["ct_name"], "email": row["ct_email"],
               "phone": row["ct_phone"], "tags": row["ct_tags"], "attributes": row["ct_attributes"]}
    key = (row["organization_id"], row["whatsapp_number_id"], row["chatbot_id"])
    cached = rt.chatbots.get(key)
    if cached is not None and time.monotonic() - cached[0] < rt.cache_ttl:
        chatbot, flows = cached[1], cached[2]
    else:
        async with rt.db.reading() as s:
            chatbot, flows = await _chatbot_and_flows(s, row)
        rt.chatbots[key] = (time.monotonic(), chatbot, flows)
    return Loaded(row, contact, chatbot, flows, message, state, int(fv.get("rev") or 0))


async def _chatbot_and_flows(s: Any, conv: Any) -> tuple[flow_selection.ChatbotInfo | None, list]:
    chatbot_row = await _chatbot_for(s, conv)
    if chatbot_row is None:
        return None, []
    chatbot = flow_selection.ChatbotInfo(
        id=chatbot_row["id"], welcome_message=chatbot_row["welcome_message"],
        fallback_message=chatbot_row["fallback_message"], away_message=chatbot_row["away_message"],
        auto_handoff_enabled=chatbot_row["auto_handoff_enabled"] is not False,
        handoff_keywords=tuple(chatbot_row["handoff_keywords"] or ()),
        business_hours=chatbot_row["business_hours"] or {}, settings=chatbot_row["settings"] or {},
        ai_enabled=chatbot_row["ai_enabled"] is True, ai_provider=chatbot_row["ai_provider"],
        ai_model=chatbot_row["ai_model"], ai_api_key_encrypted=chatbot_row["ai_api_key_encrypted"],
        ai_system_prompt=chatbot_row["ai_system_prompt"],
        ai_temperature=float(chatbot_row["ai_temperature"]) if chatbot_row["ai_temperature"] is not None else None)
    rows = (await s.execute(text(
        "SELECT id, name, type, trigger_keywords, whatsapp_number_id, created_at FROM flows "
        "WHERE chatbot_id = :b AND is_active IS NOT FALSE AND EXISTS (SELECT 1 FROM flow_versions v "
        "WHERE v.flow_id = flows.id AND v.version = flows.version AND v.published_at IS NOT NULL)"),
        {"b": chatbot.id})).mappings().all()
    flows = [flow_selection.FlowInfo(r["id"], r["name"], r["type"] or "main",
                                     tuple(r["trigger_keywords"] or ()), r["whatsapp_number_id"],
                                     r["created_at"]) for r in rows]
    return chatbot, flows


async def _chatbot_for(s: Any, conv: Any) -> Any:
    """The conversation's chatbot; else the number's (``settings.chatbot_id``);
    else the organization's active chatbot, preferring one with a flow for this number."""
    cols = ("id, welcome_message, fallback_message, away_message, auto_handoff_enabled, "
            "handoff_keywords, business_hours, settings, ai_enabled, ai_provider, ai_model, "
            "ai_api_key_encrypted, ai_system_prompt, ai_temperature")
    if conv["chatbot_id"]:
        row = (await s.execute(text(
            f"SELECT {cols} FROM chatbots WHERE id = :id AND deleted_at IS NULL AND is_active IS NOT FALSE"),
            {"id": conv["chatbot_id"]})).mappings().first()
        if row is not None:
            return row
    number_settings = (await s.execute(text(
        "SELECT settings FROM whatsapp_numbers WHERE id = :id"), {"id": conv["whatsapp_number_id"]})).scalar()
    chosen = (number_settings or {}).get("chatbot_id")
    if chosen:
        row = (await s.execute(text(
            f"SELECT {cols} FROM chatbots WHERE id = CAST(:id AS uuid) AND organization_id = :org "
            "AND deleted_at IS NULL AND is_active IS NOT FALSE"),
            {"id": str(chosen), "org": conv["organization_id"]})).mappings().first()
        if row is not None:
            return row
    return (await s.execute(text(f"""
        SELECT {cols} FROM chatbots b
         WHERE b.organization_id = :org AND b.deleted_at IS NULL AND b.is_active IS NOT FALSE
         ORDER BY EXISTS (SELECT 1 FROM flows f WHERE f.chatbot_id = b.id AND f.is_active IS NOT FALSE
                           AND (f.whatsapp_number_id IS NULL OR f.whatsapp_number_id = :number)) DESC,
                  b.is_published DESC NULLS LAST, b.created_at, b.id
         LIMIT 1"""),
        {"org": conv["organization_id"], "number": conv["whatsapp_number_id"]})).mappings().first()


async def history(rt: Runtime, conversation_id: uuid.UUID) -> list[dict[str, str]]:
    """The last messages with a text, oldest first, as ``{"role", "content"}`` (for `ai_prompt`)."""
    async with rt.db.reading() as s:
        rows = (await s.execute(text(
            "SELECT direction, content FROM messages WHERE conversation_id = :c "
            "ORDER BY created_at DESC LIMIT :n"), {"c": conversation_id, "n": HISTORY_SIZE})).all()
    out = []
    for direction, content in reversed(rows):
        body = (content or {}).get("text") or (content or {}).get("caption")
        if body:
            out.append({"role": "user" if direction == "inbound" else "assistant", "content": body})
    return out


async def node_id(rt: Runtime, flow_id: uuid.UUID, canvas_id: str) -> uuid.UUID | None:
    """``nodes.id`` of a canvas node (stable across saves, so cached per process)."""
    key = (flow_id, canvas_id)
    if key not in rt.node_ids:
        async with rt.db.reading() as s:
            rt.node_ids[key] = (await s.execute(text(
                "SELECT id FROM nodes WHERE flow_id = :f AND settings->>'canvas_id' = :n LIMIT 1"),
                {"f": flow_id, "n": canvas_id})).scalar()
    return rt.node_ids[key]


async def department(rt: Runtime, organization_id: uuid.UUID, ref: str | None) -> uuid.UUID | None:
    """The organization's department a flow names, by id or (case-insensitive) name."""
    if not ref:
        return None
    async with rt.db.reading() as s:
        dept_id = as_uuid(ref)
        if dept_id is not None:
            found = (await s.execute(text(
                "SELECT id FROM departments WHERE id = :id AND organization_id = :org"),
                {"id": dept_id, "org": organization_id})).scalar()
            if found:
                return found
        return (await s.execute(text(
            "SELECT id FROM departments WHERE organization_id = :org AND lower(name) = lower(:name) LIMIT 1"),
            {"org": organization_id, "name": str(ref)})).scalar()


async def queue_is_full(rt: Runtime, department_id: uuid.UUID, conversation_id: uuid.UUID) -> int | None:
    """The department's ``max_queue_size`` when its queue (``waiting_in_queue``, this
    conversation left out) already holds that many; None when there is room or no limit."""
    async with rt.db.reading() as s:
        row = (await s.execute(text(
            "SELECT d.max_queue_size AS limit, (SELECT count(*) FROM conversations c WHERE c.department_id = d.id "
            "AND c.status = 'waiting_in_queue' AND c.id <> :c) AS waiting FROM departments d WHERE d.id = :d"),
            {"d": department_id, "c": conversation_id})).mappings().first()
    if row is None or row["limit"] is None or row["waiting"] < row["limit"]:
        return None
    return int(row["limit"])


def as_uuid(ref: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(ref))
    except (TypeError, ValueError):
        return None
