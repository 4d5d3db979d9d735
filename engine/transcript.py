"""Flow tests from transcripts: a scripted conversation and what the bot must answer.

The document format is described in ``docs/transcripts.md``. The runner is
compiler-free: it receives a program loader and the main flow's ref, plays
each step through the interpreter with in-memory ports (canned HTTP and AI
answers, a fixed clock; no network), and returns readable differences.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from engine import events as ev
from engine.adapters.clock import FixedClock
from engine.adapters.memory import CannedAIClient, CannedHttpClient, CannedResponse, memory_ports
from engine.effects import effects_of
from engine.events import Event
from engine.interpreter import Interpreter, RunResult
from engine.ports import InboundMessage, OutboundMessage, ProgramLoader

INPUT_KEYS = ("user", "reply", "timeout")
EXPECTATION_KEYS = ("bot", "vars", "status", "contact", "handoff")
DOCUMENT_KEYS = ("description", "now", "contact", "conversation", "http", "ai", "interpreter", "steps")
STATUSES = ("waiting", "ended", "handoff", "error")
_CANNED_KEYS = {"url", "method", "status", "json", "text", "error", "times"}
# what each canned response field and interpreter option must be: (check, how the error names it)
_CANNED_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "url": (lambda v: isinstance(v, str), "a string"),
    "method": (lambda v: isinstance(v, str), "a string"),
    "status": (lambda v: _is_int(v) and 100 <= v <= 599, "an HTTP status code (100-599)"),
    "text": (lambda v: isinstance(v, str), "a string"),
    "error": (lambda v: v is None or isinstance(v, str), "a string"),
    "times": (lambda v: _is_int(v) and v >= 0, "a whole number, 0 or more"),
}
_INTERPRETER_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "step_budget": (lambda v: _is_int(v) and v > 0, "a whole number above 0"),
    "max_call_depth": (lambda v: _is_int(v) and v >= 0, "a whole number, 0 or more"),
    "default_country": (lambda v: isinstance(v, str), "a string"),
}


class TranscriptError(ValueError):
    """The transcript document itself is malformed."""


@dataclass
class TranscriptReport:
    steps_run: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _unknown_keys(where: str, given: Mapping[str, Any], known: tuple[str, ...]) -> None:
    """A misspelt key would silently check nothing: refuse it."""
    unknown = [k for k in given if k not in known]
    if unknown:
        raise TranscriptError(f"{where}unknown key {unknown[0]!r} (known: {', '.join(known)})")


def check_document(doc: Any) -> None:
    """Raise `TranscriptError` naming the first thing in `doc` that docs/transcripts.md does not allow."""
    if not isinstance(doc, dict):
        raise TranscriptError("a transcript is a JSON object")
    _unknown_keys("", doc, DOCUMENT_KEYS)
    steps = doc.get("steps")
    if not isinstance(steps, list) or not steps:
        raise TranscriptError('"steps" must be a non-empty list')
    if "description" in doc and not isinstance(doc["description"], str):
        raise TranscriptError('"description" must be a string')
    if "now" in doc:
        if not isinstance(doc["now"], str) or not _is_datetime(doc["now"]):
            raise TranscriptError(f'"now" must be an ISO 8601 date and time, such as "2026-01-15T12:00:00+00:00" '
                                  f"(got {json.dumps(doc['now'], ensure_ascii=False)})")
    for key in ("contact", "conversation"):
        if doc.get(key) is not None and not isinstance(doc[key], dict):
            raise TranscriptError(f'"{key}" must be an object')
    _check_contact("", doc.get("contact") or {})
    http = doc.get("http", [])
    if not isinstance(http, list):
        raise TranscriptError('"http" must be a list of canned responses')
    for i, canned in enumerate(http, 1):
        if not isinstance(canned, dict) or "url" not in canned or set(canned) - _CANNED_KEYS:
            raise TranscriptError(f"http[{i}]: an object with \"url\" and only {sorted(_CANNED_KEYS)}")
        for key, (ok, what) in _CANNED_TYPES.items():
            if key in canned and not ok(canned[key]):
                raise TranscriptError(f"http[{i}]: \"{key}\" must be {what} "
                                      f"(got {json.dumps(canned[key], ensure_ascii=False)})")
    ai = doc.get("ai", [])
    if not isinstance(ai, list):
        raise TranscriptError('"ai" must be a list of answers')
    for i, answer in enumerate(ai, 1):
        if not isinstance(answer, (str, dict)):
            raise TranscriptError(f'ai[{i}]: an answer is a string or {{"error": "..."}}')
    interpreter = doc.get("interpreter", {})
    if not isinstance(interpreter, dict):
        raise TranscriptError('"interpreter" must be an object')
    _unknown_keys("interpreter: ", interpreter, tuple(_INTERPRETER_TYPES))
    for key, value in interpreter.items():
        ok, what = _INTERPRETER_TYPES[key]
        if not ok(value):
            raise TranscriptError(f"interpreter: \"{key}\" must be {what} (got {json.dumps(value, ensure_ascii=False)})")
    for i, step in enumerate(steps, 1):
        _check_step(i, step)


def _check_step(i: int, step: Any) -> None:
    if not isinstance(step, dict):
        raise TranscriptError(f"step {i}: must be an object")
    given = [k for k in INPUT_KEYS if k in step]
    if len(given) != 1:
        raise TranscriptError(f"step {i}: needs exactly one of {', '.join(INPUT_KEYS)} (got {given or 'none'})")
    _unknown_keys(f"step {i}: ", step, INPUT_KEYS + EXPECTATION_KEYS)
    for key in ("user", "reply"):
        if key in step and not isinstance(step[key], str):
            raise TranscriptError(f"step {i}: \"{key}\" must be a string")
    if "timeout" in step and step["timeout"] is not True:
        raise TranscriptError(f'step {i}: "timeout" must be true')
    if "bot" in step and not isinstance(step["bot"], list):
        raise TranscriptError(f"step {i}: \"bot\" must be a list of messages")
    for n, message in enumerate(step.get("bot") or [], 1):
        if not isinstance(message, (str, dict)):
            raise TranscriptError(f"step {i}: bot[{n}]: a message is a string (its text) or an object of its fields")
    if "vars" in step and not isinstance(step["vars"], dict):
        raise TranscriptError(f"step {i}: \"vars\" must be an object")
    if "status" in step and step["status"] not in STATUSES:
        raise TranscriptError(f"step {i}: \"status\" must be one of {', '.join(STATUSES)} "
                              f"(got {json.dumps(step['status'], ensure_ascii=False)})")
    if "contact" in step:
        contact = step["contact"]
        if not isinstance(contact, dict):
            raise TranscriptError(f"step {i}: \"contact\" must be an object")
        _check_contact(f"step {i}: ", contact)
    if "handoff" in step and step["handoff"] is not None and not isinstance(step["handoff"], dict):
        raise TranscriptError(f"step {i}: \"handoff\" must be an object or null")


def _check_contact(where: str, contact: Mapping[str, Any]) -> None:
    tags = contact.get("tags")
    if "tags" in contact and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise TranscriptError(f"{where}contact \"tags\" must be a list of strings")
    if "attributes" in contact and not isinstance(contact["attributes"], dict):
        raise TranscriptError(f"{where}contact \"attributes\" must be an object")


def _is_datetime(text: str) -> bool:
    try:
        FixedClock(text)
    except ValueError:
        return False
    return True


def describe_step(step: Mapping[str, Any]) -> str:
    if "user" in step:
        return f"user: {json.dumps(step['user'], ensure_ascii=False)}"
    if "reply" in step:
        return f"reply: {json.dumps(step['reply'], ensure_ascii=False)}"
    return "timeout"


def message_view(message: OutboundMessage) -> dict[str, Any]:
    """A message as transcripts write it: ``{"type", "text", "buttons": [titles], ...}``."""
    c = message.content
    out: dict[str, Any] = {"type": message.type}
    for key, value in c.items():
        if key == "buttons":
            out["buttons"] = [b.get("title") for b in value]
        elif key == "rows":
            out["rows"] = [r.get("title") for r in value]
        else:
            out[key] = value
    return out


def message_matches(expected: Any, message: OutboundMessage) -> bool:
    if isinstance(expected, str):
        return message.body == expected
    if not isinstance(expected, Mapping):
        return False
    view = message_view(message)
    for key, want in expected.items():
        if key in ("buttons", "rows") and isinstance(want, list):
            raw = message.content.get(key) or []
            got = [b if isinstance(w, Mapping) else b.get("title") for w, b in zip(want, raw)]
            if len(raw) != len(want) or any(
                (isinstance(w, Mapping) and any(g.get(k) != v for k, v in w.items())) or
                (not isinstance(w, Mapping) and g != w)
                for w, g in zip(want, got)
            ):
                return False
        elif view.get(key) != want:
            return False
    return True


def _short(message: OutboundMessage) -> str:
    return json.dumps(message_view(message), ensure_ascii=False)


def _values_equal(want: Any, got: Any) -> bool:
    """JSON equality: `true` is not `1`, at any depth (Python's ``==`` says it is); 1 equals 1.0."""
    pairs = [(want, got)]
    while pairs:
        a, b = pairs.pop()
        if isinstance(a, bool) or isinstance(b, bool):
            if not (isinstance(a, bool) and isinstance(b, bool) and a is b):
                return False
        elif isinstance(a, Mapping) and isinstance(b, Mapping):
            if a.keys() != b.keys():
                return False
            pairs.extend((a[k], b[k]) for k in a)
        elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            if len(a) != len(b):
                return False
            pairs.extend(zip(a, b))
        elif a != b:
            return False
    return True


class TranscriptRunner:
    """Plays one transcript against one flow."""

    def __init__(self, doc: Mapping[str, Any], programs: ProgramLoader, flow_ref: str,
                 trace: Callable[[Event], None] | None = None) -> None:
        check_document(doc)
        self.doc = doc
        self.programs = programs
        self.flow_ref = flow_ref
        self.trace = trace
        self.clock = FixedClock(doc.get("now", "2026-01-15T12:00:00+00:00"))
        self.http = CannedHttpClient([CannedResponse(**c) for c in doc.get("http", [])])
        self.ai = CannedAIClient(list(doc.get("ai", [])))
        base_contact = dict(doc.get("contact") or {})
        self.base_contact = base_contact
        self.ports = memory_ports(http=self.http, ai=self.ai, clock=self.clock)
        # the contact as the flow left it (and the conversation's priority/closed), step after step
        self.contact = effects_of((), base_contact).snapshot()
        self.handoff: dict[str, Any] | None = None
        self.interp = Interpreter(self.ports, **doc.get("interpreter", {}))
        self.history: list[dict[str, str]] = []

    def _scope(self, message: Mapping[str, Any] | None) -> dict[str, Any]:
        contact = {**self.base_contact, **self.contact}
        return {"contact": contact, "conversation": dict(self.doc.get("conversation") or {}),
                "message": dict(message or {}), "history": list(self.history)}

    async def run(self) -> TranscriptReport:
        report = TranscriptReport()
        result: RunResult | None = None
        variables: dict[str, Any] = {}
        program = None
        for number, step in enumerate(self.doc["steps"], 1):
            label = f"step {number} ({describe_step(step)})"
            if "timeout" in step:
                if result is None or result.state is None or result.wait_deadline is None:
                    report.failures.append(f"{label}: the conversation is not waiting with a timeout")
                    return report
                self.clock.set(max(self.clock.now(), result.wait_deadline))
                result = await self.interp.on_timeout(result.state, self.programs, self._scope(None))
            else:
                inbound = (InboundMessage("interactive", None, str(step["reply"]))
                           if "reply" in step else InboundMessage("text", str(step["user"])))
                scope = self._scope(inbound.to_scope())
                if inbound.text:
                    self.history.append({"role": "user", "content": inbound.text})
                if result is None or result.state is None:
                    if program is None:
                        try:
                            program = await self.programs(self.flow_ref, None)
                        except LookupError as exc:
                            raise TranscriptError(f"flow {self.flow_ref!r} not found: {exc}") from None
                    variables = {}
                    result = await self.interp.start(program, self.flow_ref, scope, self.programs)
                else:
                    result = await self.interp.resume(result.state, inbound, self.programs, scope)
            if self.trace:
                for event in result.events:
                    self.trace(event)
            if result.state is not None:
                variables = dict(result.state.vars)
            else:
                for event in result.events:
                    if event.type == ev.VARIABLE_SET:
                        variables[event.data["name"]] = event.data["value"]  # type: ignore[index]
            effects = effects_of(result.events, self.contact)
            self.contact = effects.snapshot()
            self.handoff = effects.handoff or self.handoff
            sent = effects.messages
            for message in sent:
                if message.body:
                    self.history.append({"role": "assistant", "content": message.body})
            report.steps_run = number
            failures = self._compare(label, step, result, sent, variables)
            if failures:
                report.failures.extend(failures)
                return report
        return report

    def _compare(self, label: str, step: Mapping[str, Any], result: RunResult,
                 sent: list[OutboundMessage], variables: Mapping[str, Any]) -> list[str]:
        out: list[str] = []
        if self.http.unmatched:
            out.append(f"{label}: no canned http response for: {', '.join(self.http.unmatched)}")
            self.http.unmatched.clear()
        if self.ai.exhausted:
            out.append(f"{label}: the flow asked the AI more often than the transcript answers")
            self.ai.exhausted = 0
        if "bot" in step:
            expected = step["bot"]
            mismatch = len(expected) != len(sent) or not all(
                message_matches(e, m) for e, m in zip(expected, sent))
            if mismatch:
                lines = [f"{label}: bot messages differ"]
                for i in range(max(len(expected), len(sent))):
                    want = json.dumps(expected[i], ensure_ascii=False) if i < len(expected) else "(nothing)"
                    got = _short(sent[i]) if i < len(sent) else "(nothing)"
                    ok = i < len(expected) and i < len(sent) and message_matches(expected[i], sent[i])
                    lines.append(f"  {'  ' if ok else '✗ '}#{i + 1} expected: {want}")
                    lines.append(f"  {'  ' if ok else '  '}   actual:   {got}")
                out.append("\n".join(lines))
        for name, want in (step.get("vars") or {}).items():
            if name not in variables:
                out.append(f"{label}: variable {name!r} expected {json.dumps(want, ensure_ascii=False)}, but it is not set")
            elif not _values_equal(want, variables[name]):
                out.append(f"{label}: variable {name!r} expected {json.dumps(want, ensure_ascii=False)}, "
                           f"actual {json.dumps(variables[name], ensure_ascii=False, default=str)}")
        errors = [e.get("message") for e in result.events if e.type == ev.ERROR]
        status_differs = "status" in step and step["status"] != result.status
        if status_differs:
            out.append(f"{label}: status expected {step['status']!r}, actual {result.status!r}"
                       + (f" ({'; '.join(map(str, errors))})" if errors else ""))
        if "contact" in step:
            snapshot = self.contact
            for key, want in step["contact"].items():
                got = snapshot.get(key)
                if key == "attributes" and isinstance(want, dict):
                    for attr, value in want.items():
                        if not _values_equal(value, (got or {}).get(attr)):
                            out.append(f"{label}: contact attribute {attr!r} expected {value!r}, actual {(got or {}).get(attr)!r}")
                elif key == "tags" and isinstance(want, list):
                    if sorted(want) != sorted(got or []):
                        out.append(f"{label}: contact tags expected {want!r}, actual {got!r}")
                elif not _values_equal(want, got):
                    out.append(f"{label}: contact {key!r} expected {want!r}, actual {got!r}")
        if "handoff" in step:
            last = self.handoff
            want = step["handoff"]
            if want is None and last is not None or want is not None and (
                    last is None or any(last.get(k) != v for k, v in want.items())):
                out.append(f"{label}: handoff expected {want!r}, actual {last!r}")
        if out and errors and not status_differs:  # why the bot fell silent, without --trace
            how = "stopped with" if result.status == "error" else "reported"
            out.append(f"{label}: the run {how} an error: {'; '.join(map(str, errors))}")
        return out


async def run_transcript(doc: Mapping[str, Any], programs: ProgramLoader, flow_ref: str,
                         trace: Callable[[Event], None] | None = None) -> TranscriptReport:
    return await TranscriptRunner(doc, programs, flow_ref, trace).run()
