"""In-memory adapters: ``CannedHttpClient`` and ``CannedAIClient`` answer from
data instead of the network and record what was asked (CLI dry-runs, tests,
transcripts). What a flow did is in its events (engine/effects.py).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from engine.adapters.clock import FixedClock
from engine.ports import AIAnswer, AIError, HttpRequestError, HttpResponse, Ports, RequestTimeout


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
    """Answers in order; an answer ``{"error": "..."}`` makes that call fail, and
    ``{"answer", "input_tokens"?, "output_tokens"?}`` reports that usage."""

    answers: list[Any] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    exhausted: int = 0

    async def complete(self, provider: str, model: str, *, system: str | None,
                       messages: Sequence[Mapping[str, str]], temperature: float,
                       max_tokens: int, timeout: float) -> AIAnswer:
        self.calls.append({"provider": provider, "model": model, "system": system,
                           "messages": [dict(m) for m in messages]})
        if not self.answers:
            self.exhausted += 1
            raise AIError("no canned AI answer left")
        answer = self.answers.pop(0)
        if isinstance(answer, Mapping):
            if answer.get("error"):
                raise AIError(str(answer["error"]))
            return AIAnswer(str(answer.get("answer", "")), model=model,
                            input_tokens=answer.get("input_tokens"), output_tokens=answer.get("output_tokens"))
        return AIAnswer(str(answer), model=model)


def memory_ports(*, http: Any = None, ai: Any = None, clock: Any = None) -> Ports:
    """Ports that answer from data and record: the default for tests and dry-runs."""
    return Ports(
        http=http if http is not None else CannedHttpClient(),
        ai=ai if ai is not None else CannedAIClient(),
        clock=clock if clock is not None else FixedClock(),
    )
