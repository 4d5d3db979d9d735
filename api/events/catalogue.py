"""The catalogue of domain events: every type PyTake emits and its payload version.

docs/events.md documents each payload. A payload changes shape only with a
new version; consumers see ``type`` and ``version`` on every event.

Payload builders live here so every room that emits an event of a type
builds the same shape (a message, a conversation and a contact are each
described one way).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Mapping

# type -> current payload version
EVENT_TYPES: dict[str, int] = {
    "message.received": 1,
    "message.sent": 1,
    "message.status": 1,
    "conversation.created": 1,
    "conversation.assigned": 1,
    "conversation.transferred": 1,
    "conversation.closed": 1,
    "conversation.returned_to_bot": 1,
    "conversation.handoff": 1,
    "flow.started": 1,
    "flow.step": 1,  # the nodes one step of a run went through and its AI calls
    "flow.completed": 1,
    "flow.error": 1,
    "contact.created": 1,
    "contact.updated": 1,
    "campaign.started": 1,
    "campaign.paused": 1,
    "campaign.resumed": 1,
    "campaign.completed": 1,
    "campaign.cancelled": 1,
    # sent by POST /webhooks/{id}/test to that webhook only, never stored (its id is 0)
    "webhook.test": 1,
}


def _s(value: Any) -> Any:
    """JSON-ready: ids and timestamps as strings, None kept."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def message_payload(row: Mapping[str, Any], *, organization_id: Any = None, contact_id: Any = None) -> dict[str, Any]:
    """A `messages` row (or a dict with its columns) as events carry it."""
    return {
        "message": {
            "id": _s(row.get("id")),
            "conversation_id": _s(row.get("conversation_id")),
            "contact_id": _s(contact_id if contact_id is not None else row.get("contact_id")),
            "direction": row.get("direction"),
            "sender_type": row.get("sender_type"),
            "type": row.get("type"),
            "content": row.get("content"),
            "status": row.get("status"),
            "whatsapp_message_id": row.get("whatsapp_message_id"),
            "created_at": _s(row.get("created_at")),
        }
    }


def failed_before_sent_payload(row: Mapping[str, Any], *, error: Any, failed_at: Any,
                               meta_errors: Any = None) -> dict[str, Any]:
    """``message.status`` (``failed``) of an outbound message that failed before it was sent:
    refused by Meta's answer to the send, by PyTake's own checks before it, or never answered.
    Such a message has no ``message.sent``, so the event carries the whole message too
    (``message``, as `message_payload` describes it, status ``failed``): what the log store,
    the live channel and webhook receivers know of it. ``row``: its `messages` columns with
    the conversation's ``contact_id`` and ``organization_id``."""
    row = dict(row)
    message = message_payload({**row, "direction": "outbound", "status": "failed", "whatsapp_message_id": None})
    return {"message_id": _s(row.get("id")), "conversation_id": _s(row.get("conversation_id")),
            "whatsapp_message_id": None, "status": "failed", "previous_status": "pending",
            "timestamp": _s(failed_at), "error": error, "meta_errors": meta_errors or None, **message}


def conversation_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """A `conversations` row as events carry it."""
    return {
        "conversation": {
            "id": _s(row.get("id")),
            "contact_id": _s(row.get("contact_id")),
            "whatsapp_number_id": _s(row.get("whatsapp_number_id")),
            "status": row.get("status"),
            "department_id": _s(row.get("department_id")),
            # the agent: `conversations.assigned_to`
            "assigned_agent_id": _s(row.get("assigned_to", row.get("assigned_agent_id"))),
            "priority": row.get("priority"),
            "is_bot_active": row.get("is_bot_active"),
        }
    }


def contact_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """A `contacts` row as events carry it."""
    return {
        "contact": {
            "id": _s(row.get("id")),
            "whatsapp_id": row.get("whatsapp_id"),
            "bsuid": row.get("bsuid"),  # added in version 1 (a new field: no new version)
            "whatsapp_name": row.get("whatsapp_name"),
            "name": row.get("name"),
            "email": row.get("email"),
            "phone": row.get("phone"),
            "tags": list(row.get("tags") or []),
            "attributes": dict(row.get("attributes") or {}),
        }
    }


CAMPAIGN_FIELDS = ("id", "name", "status", "template_id", "whatsapp_number_id", "flow_id", "scheduled_at",
                   "started_at", "completed_at", "total_recipients", "sent_count", "delivered_count",
                   "read_count", "failed_count", "skipped_count", "replied_count")


def campaign_payload(row: Mapping[str, Any], reason: str | None = None) -> dict[str, Any]:
    """campaign.started / .paused / .resumed / .completed / .cancelled: the campaign as the
    transition left it, and why PyTake made it (``reason``: a campaign paused because its
    number was deactivated, its template went away, the plan no longer allows it; null when
    a user did it, or for ``completed``)."""
    return {"campaign": {f: _s(row.get(f)) for f in CAMPAIGN_FIELDS}, "reason": reason}


def flow_payload(flow: Mapping[str, Any], *, conversation_id: Any, contact_id: Any,
                 **details: Any) -> dict[str, Any]:
    """A flow run's event (flow.started / flow.completed / flow.error): the flow
    (id, name), the conversation and contact, and the type's own details."""
    return {"flow": {"id": _s(flow.get("id")), "name": flow.get("name")},
            "conversation_id": _s(conversation_id), "contact_id": _s(contact_id), **details}


def handoff_payload(conversation: Mapping[str, Any], *, department: Any, department_id: Any,
                    reason: Any, priority: Any) -> dict[str, Any]:
    """conversation.handoff: what was asked (the department as named, and the one found) and the
    conversation as the handoff left it."""
    return {"handoff": {"department": department, "department_id": _s(department_id), "reason": reason,
                        "priority": priority}, **conversation_payload(conversation)}


def contact_updated_payload(contact: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """contact.updated: the contact as it is now and the fields that changed (their new values)."""
    return {**contact_payload(contact), "changes": dict(changes)}
