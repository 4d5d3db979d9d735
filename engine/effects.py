"""Effects: what a run's events ask the caller to do, folded into plain data.

Nodes never act on the world: they log events (goflow's "actions log events,
the caller applies them"). `effects_of` reads a run's events (or several
runs' in order) and says what the caller must apply: the messages to send,
the contact as the flow left it and which of its fields changed, the
conversation's priority and closing, the handoff. The platform writes these
in one statement; the CLI, the simulator and the transcripts show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from engine import events as ev
from engine.events import Event
from engine.ports import OutboundMessage

CONTACT_COLUMNS = ("name", "email")


@dataclass(slots=True)
class Effects:
    messages: list[OutboundMessage] = field(default_factory=list)
    # the contact as the flow left it: tags, attributes and the columns it set (name, email)
    contact: dict[str, Any] = field(default_factory=dict)
    # the contact fields whose value the flow changed, with their new value
    changed: dict[str, Any] = field(default_factory=dict)
    priority: str | None = None
    closed: bool = False
    handoff: dict[str, Any] | None = None  # {department, reason, priority}: the last one asked for
    # indexes in `messages` of what the handoff's node said ("an agent will be with you"):
    # the caller leaves them out when the handoff cannot happen (a full queue)
    handoff_messages: list[int] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        """The contact plus the conversation changes, as one dict (tests, simulator)."""
        return {**self.contact, "priority": self.priority, "closed": self.closed}


def effects_of(events: Iterable[Event], contact: Mapping[str, Any] | None = None) -> Effects:
    """Fold events into effects, starting from ``contact`` (``tags``, ``attributes``,
    ``name``, ``email``; a previous `Effects.snapshot` also carries ``priority``/``closed``)."""
    start = dict(contact or {})
    tags = list(start.get("tags") or [])
    attributes = dict(start.get("attributes") or {})
    columns = {k: start[k] for k in CONTACT_COLUMNS if k in start}
    out = Effects(priority=start.get("priority"), closed=bool(start.get("closed")))
    senders: list[str | None] = []  # the node of each message
    for event in events:
        kind = event.type
        if kind == ev.MESSAGE_SENT:
            message = event.data["message"]  # type: ignore[index]
            out.messages.append(OutboundMessage(message["type"], message["content"]))
            senders.append(event.node)
        elif kind == ev.TAG_ADDED:
            if event.data["tag"] not in tags:  # type: ignore[index]
                tags.append(event.data["tag"])  # type: ignore[index]
        elif kind == ev.TAG_REMOVED:
            if event.data["tag"] in tags:  # type: ignore[index]
                tags.remove(event.data["tag"])  # type: ignore[index]
        elif kind == ev.ATTRIBUTE_SET:
            name, value = event.data["attribute"], event.data["value"]  # type: ignore[index]
            if name in CONTACT_COLUMNS:
                columns[name] = None if value is None else str(value)
            else:
                attributes[name] = value
        elif kind == ev.PRIORITY_SET:
            out.priority = event.data["priority"]  # type: ignore[index]
        elif kind == ev.CONVERSATION_CLOSED:
            out.closed = True
        elif kind == ev.HANDOFF:
            data = event.data or {}
            out.handoff = {"department": data.get("department"), "reason": data.get("reason"),
                           "priority": data.get("priority")}
            out.handoff_messages = [i for i, node in enumerate(senders) if node == event.node]
    out.contact = {**columns, "tags": tags, "attributes": attributes}
    if tags != list(start.get("tags") or []):
        out.changed["tags"] = tags
    if attributes != dict(start.get("attributes") or {}):
        out.changed["attributes"] = {k: v for k, v in attributes.items()
                                     if k not in (start.get("attributes") or {})
                                     or (start.get("attributes") or {})[k] != v}
    for name, value in columns.items():
        if name not in start or start[name] != value:
            out.changed[name] = value
    return out
