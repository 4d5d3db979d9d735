"""Ports: what the interpreter must ask the world and wait for (HTTP, AI, clock, programs).

The interpreter only talks to these protocols; the platform, the CLI and the
tests plug different adapters in (see ``engine/adapters/``). Everything a run
DOES (send a message, tag the contact, hand off) is an event, applied by the
caller (engine/effects.py). Outbound message content uses the shape of
SCHEMA.md ``messages.content`` (``message_sent`` events carry it):

- text: ``{"text"}``
- image / video / audio / document: ``{"media_url", "caption", "filename"}``
- button: ``{"text", "buttons": [{"id", "title"}], "header"?, "footer"?}``
- list: ``{"text", "button", "rows": [{"id", "title", "description"?}], "header"?, "footer"?}``
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, Protocol, Sequence

from engine.program import Program


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    type: str
    content: dict[str, Any]

    @property
    def body(self) -> str | None:
        """The human-visible text: body of text/interactive messages, caption of media."""
        c = self.content
        return c.get("text") if "text" in c else c.get("caption")

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "content": self.content}


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """The customer's message a waiting conversation is resumed with.

    ``reply_id`` is the id of a tapped reply button or list row; ``text`` what
    was typed (or the tapped title); ``payload`` anything else the channel gave.
    """

    type: str = "text"
    text: str | None = None
    reply_id: str | None = None
    payload: Mapping[str, Any] | None = None

    def to_scope(self) -> dict[str, Any]:
        return {"type": self.type, "text": self.text, "reply_id": self.reply_id,
                "payload": dict(self.payload) if self.payload else {}}


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    json: Any = None
    text: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


class HttpRequestError(Exception):
    """The request failed: network error, timeout, refused address, oversize body.

    ``status`` is the HTTP status when a response arrived, else 0.
    """

    code = "network_error"

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class RequestRefused(HttpRequestError):
    """The URL resolves to an address flows may not reach (SSRF guard)."""

    code = "address_refused"


class RequestTimeout(HttpRequestError):
    code = "timeout"


class ResponseTooLarge(HttpRequestError):
    code = "response_too_large"


@dataclass(frozen=True, slots=True)
class AIAnswer:
    """What an AI provider answered: the text plus the usage it reported.

    ``model`` is the model the provider says answered (it may name a dated
    version of the one asked for); ``input_tokens`` / ``output_tokens`` are
    OpenAI's ``usage.prompt_tokens`` / ``usage.completion_tokens`` or
    Anthropic's ``usage.input_tokens`` / ``usage.output_tokens`` (None when the
    provider sent no usage).
    """

    text: str
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)


class AIError(Exception):
    """The AI provider failed (HTTP error status, timeout, no credentials...)."""


class HttpClient(Protocol):
    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        timeout: float = 10.0,
    ) -> HttpResponse: ...


class AIClient(Protocol):
    async def complete(
        self,
        provider: str,
        model: str,
        *,
        system: str | None,
        messages: Sequence[Mapping[str, str]],
        temperature: float,
        max_tokens: int,
        timeout: float,
    ) -> AIAnswer | str:
        """The answer with its usage (`AIAnswer`); a plain ``str`` is an answer without usage."""
        ...


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """An aware datetime."""
        ...


class FlowUnavailable(LookupError):
    """The flow exists but cannot run; ``code`` is the run's error code, so that a designer reading
    the log fixes the flow instead of looking for a missing one (``flow_not_found``)."""

    code = "flow_unavailable"
    reason = "cannot run"


class FlowNotCompiled(FlowUnavailable):
    """The flow exists but does not compile (a loader that compiles canvases: `pytake run`, the
    editor's simulator); the message holds the diagnostics."""

    code = "flow_not_compiled"
    reason = "does not compile"

    def __init__(self, flow_ref: str, problems: Sequence[str]) -> None:
        self.flow_ref = flow_ref
        self.problems = list(problems)
        super().__init__("; ".join(self.problems) or f"flow {flow_ref!r} does not compile")


class FlowNotPublished(FlowUnavailable):
    """The flow exists but no version of it is published (the platform runs published versions only)."""

    code = "flow_not_published"
    reason = "has no published version"

    def __init__(self, flow_ref: str) -> None:
        self.flow_ref = flow_ref
        super().__init__("publish it in the editor (a draft never runs)")


ProgramLoader = Callable[[str, "str | None"], Awaitable[Program]]
"""``await load(flow_ref, program_hash)``: the program of a flow. ``program_hash``
is None for "the current version" (a new sub-flow call) and a hash when a
conversation continues on the version it started with. Raise ``LookupError``
when there is no such flow/version (a `FlowUnavailable` when the flow exists but cannot run)."""


@dataclass(slots=True)
class Ports:
    """What the engine must ASK and wait for. Effects (messages, contact changes,
    handoff) are not ports: nodes log them as events (engine/effects.py)."""

    http: HttpClient
    ai: AIClient
    clock: Clock
