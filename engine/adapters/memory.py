"""In-memory adapters: they record what the flow did (CLI dry-runs and tests).

``MemoryContact`` keeps the contact's tags/attributes/priority as a flow would
leave them; ``CannedHttpClient`` and ``CannedAIClient`` answer from data
instead of the network (transcripts).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from engine.adapters.clock import FixedClock
from engine.ports import AIError, HttpRequestError, HttpResponse, OutboundMessage, Ports, RequestTimeout


class MemoryMessenger:
    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> None:
        self.sent.append(message)


class MemoryHandoff:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def request(self, department: str | None, reason: str | None, priority: str | None) -> None:
        self.requests.append({"department": department, "reason": reason, "priority": priority})


class MemoryContact:
    def __init__(self, contact: Mapping[str, Any] | None = None) -> None:
        contact = dict(contact or {})
        self.tags: list[str] = list(contact.get("tags") or [])
        self.attributes: dict[str, Any] = dict(contact.get("attributes") or {})
        self.columns: dict[str, Any] = {k: contact.get(k) for k in ("name", "email") if k in contact}
        self.priority: str | None = None
        self.closed = False

    async def add_tag(self, tag: str) -> None:
        if tag not in self.tags:
            self.tags.append(tag)

    async def remove_tag(self, tag: str) -> None:
        if tag in self.tags:
            self.tags.remove(tag)

    async def set_attribute(self, attribute: str, value: Any) -> None:
        if attribute in ("name", "email"):
            self.columns[attribute] = value
        else:
            self.attributes[attribute] = value

    async def set_priority(self, priority: str) -> None:
        self.priority = priority

    async def close_conversation(self) -> None:
        self.closed = True

    def snapshot(self) -> dict[str, Any]:
        return {**self.columns, "tags": list(self.tags), "attributes": dict(self.attributes),
                "priority": self.priority, "closed": self.closed}


@dataclass
class CannedResponse:
    """Answers requests whose method matches and URL matches (``*`` wildcards allowed)."""

    url: str
    method: str = "GET"
    status: int = 200
    json: Any = None
    text: str = ""
    error: str | None = None  # "timeout" or "network": no response at all
    times: int | None = None  # answers this many requests, then the next match is used

    def matches(self, method: str, url: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method.upper() != method.upper():
            return False
        base = url.split("?", 1)[0]
        return self.url in (url, base) or fnmatch.fnmatchcase(url, self.url) or fnmatch.fnmatchcase(base, self.url)


@dataclass
class CannedHttpClient:
    responses: Sequence[CannedResponse] = ()
    requests: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    async def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                      params: Mapping[str, str] | None = None, json: Any = None,
                      timeout: float = 10.0) -> HttpResponse:
        self.requests.append({"method": method, "url": url, "headers": dict(headers or {}),
                              "params": dict(params or {}), "json": json})
        for canned in self.responses:
            if canned.matches(method, url):
                if canned.times is not None:
                    canned.times -= 1
                if canned.error == "timeout":
                    raise RequestTimeout(f"{method} {url}: timed out")
                if canned.error:
                    raise HttpRequestError(f"{method} {url}: {canned.error}")
                return HttpResponse(canned.status, canned.json, canned.text)
        self.unmatched.append(f"{method} {url}")
        raise HttpRequestError(f"{method} {url}: no canned response")


@dataclass
class CannedAIClient:
    """Answers in order; an answer ``{"error": "..."}`` makes that call fail."""

    answers: list[Any] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    exhausted: int = 0

    async def complete(self, provider: str, model: str, *, system: str | None,
                       messages: Sequence[Mapping[str, str]], temperature: float,
                       max_tokens: int, timeout: float) -> str:
        self.calls.append({"provider": provider, "model": model, "system": system,
                           "messages": [dict(m) for m in messages]})
        if not self.answers:
            self.exhausted += 1
            raise AIError("no canned AI answer left")
        answer = self.answers.pop(0)
        if isinstance(answer, Mapping):
            if answer.get("error"):
                raise AIError(str(answer["error"]))
            answer = answer.get("answer", "")
        return str(answer)


def memory_ports(
    *,
    contact: Mapping[str, Any] | None = None,
    http: Any = None,
    ai: Any = None,
    clock: Any = None,
) -> Ports:
    """Ports that only record: the default for tests and dry-runs."""
    return Ports(
        messenger=MemoryMessenger(),
        http=http if http is not None else CannedHttpClient(),
        ai=ai if ai is not None else CannedAIClient(),
        handoff=MemoryHandoff(),
        contact=MemoryContact(contact),
        clock=clock if clock is not None else FixedClock(),
    )
