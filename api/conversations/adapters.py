"""Platform adapters for the engine's ports: they COLLECT effects.

Nothing is written or sent while the interpreter runs. After the run, the
processor writes everything collected here (outbound rows, contact changes,
handoff) together with the new state in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.ports import OutboundMessage


class CollectingMessenger:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def send(self, message: OutboundMessage) -> None:
        self.messages.append({"type": message.type, "content": dict(message.content)})


@dataclass
class HandoffRequest:
    department: str | None
    reason: str | None
    priority: str | None


class CollectingHandoff:
    def __init__(self) -> None:
        self.request_made: HandoffRequest | None = None

    async def request(self, department: str | None, reason: str | None, priority: str | None) -> None:
        self.request_made = HandoffRequest(department, reason, priority)


@dataclass
class CollectingContact:
    """Starts from the contact's current tags/attributes; ends as the flow left them."""

    tags: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, Any] = field(default_factory=dict)  # name / email
    priority: str | None = None
    closed: bool = False
    changed: bool = False

    async def add_tag(self, tag: str) -> None:
        if tag not in self.tags:
            self.tags.append(tag)
            self.changed = True

    async def remove_tag(self, tag: str) -> None:
        if tag in self.tags:
            self.tags.remove(tag)
            self.changed = True

    async def set_attribute(self, attribute: str, value: Any) -> None:
        if attribute in ("name", "email"):
            self.columns[attribute] = None if value is None else str(value)
        else:
            self.attributes[attribute] = value
        self.changed = True

    async def set_priority(self, priority: str) -> None:
        self.priority = priority

    async def close_conversation(self) -> None:
        self.closed = True
