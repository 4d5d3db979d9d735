"""Fixtures and helpers for the engine tests: programs from JSON, memory ports, loaders, sent messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import pytest

from engine import InboundMessage, Interpreter, OutboundMessage, Program, effects_of
from engine.adapters.clock import FixedClock
from engine.adapters.memory import CannedAIClient, CannedHttpClient, CannedResponse, memory_ports

CASES = Path(__file__).parent / "cases"


def program(code: list[dict[str, Any]], entry: int = 0) -> Program:
    """A program from the readable JSON form (``Program.to_json``'s ``code``)."""
    return Program.from_json({"format": 1, "entry": entry, "code": code})


def loader(flows: Mapping[str, Program]):
    """A program loader over a dict: ``flow_ref -> Program`` (any hash of it)."""

    async def load(flow_ref: str, program_hash: str | None) -> Program:
        try:
            found = flows[flow_ref]
        except KeyError:
            raise LookupError(flow_ref) from None
        if program_hash is not None and found.hash != program_hash:
            raise LookupError(f"{flow_ref}@{program_hash}")
        return found

    return load


def inbound(step: Mapping[str, Any]) -> InboundMessage:
    return InboundMessage(
        type="interactive" if "reply_id" in step else "text",
        text=step.get("text"),
        reply_id=step.get("reply_id"),
    )


def make_ports(case: Mapping[str, Any] | None = None, clock: FixedClock | None = None):
    case = case or {}
    http = CannedHttpClient([CannedResponse(**r) for r in case.get("http", [])])
    ai = CannedAIClient(list(case.get("ai", [])))
    return memory_ports(http=http, ai=ai, clock=clock or FixedClock(case.get("now", "2026-01-15T12:00:00+00:00")))


@pytest.fixture
def ports():
    return make_ports()


@pytest.fixture
def interp(ports):
    return Interpreter(ports)


def sent(*results: Any) -> list[OutboundMessage]:
    """The messages the runs asked to send, in order (their ``message_sent`` events)."""
    return effects_of([e for r in results for e in r.events]).messages


def subset(expected: Any, actual: Any) -> bool:
    """``expected`` is contained in ``actual``: dict keys recursively, lists item by item.

    The string ``"*"`` matches any value.
    """
    if expected == "*":
        return True
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and subset(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            subset(e, a) for e, a in zip(expected, actual)
        )
    return expected == actual and type(expected) is type(actual) or (
        isinstance(expected, (int, float)) and not isinstance(expected, bool)
        and isinstance(actual, (int, float)) and not isinstance(actual, bool) and expected == actual
    )


def subsequence(expected: list[dict[str, Any]], events: list[dict[str, Any]]) -> bool:
    """Each expected event appears, in order, among ``events`` (as a subset)."""
    it = iter(events)
    return all(any(subset(e, ev) for ev in it) for e in expected)


@pytest.fixture
def kit():
    """The helpers above, for test modules (importlib mode cannot import conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(program=program, loader=loader, inbound=inbound, make_ports=make_ports, sent=sent,
                           subset=subset, subsequence=subsequence)


class LocalServer:
    """A real HTTP server on 127.0.0.1 in a thread, answering from ``routes``.

    ``routes[(method, path)] = (status, headers, body)`` where body is bytes, a
    str or a JSON value; ``delays[path]`` seconds to sleep before answering.
    Every request is recorded in ``requests`` (method, path, headers, json).
    """

    def __init__(self) -> None:
        import http.server
        import threading

        self.routes: dict[tuple[str, str], tuple[int, dict[str, str], Any]] = {}
        self.delays: dict[str, float] = {}
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                import time

                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("latin-1")
                path = self.path.split("?", 1)[0]
                server.requests.append({"method": self.command, "path": self.path,
                                        "headers": {k.lower(): v for k, v in self.headers.items()},
                                        "json": body})
                if path in server.delays:
                    time.sleep(server.delays[path])
                status, headers, payload = server.routes.get(
                    (self.command, path), (404, {}, {"error": "not found"}))
                if isinstance(payload, bytes):
                    data = payload
                elif isinstance(payload, str):
                    data = payload.encode()
                else:
                    data = json.dumps(payload).encode()
                    headers = {"Content-Type": "application/json", **headers}
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def local_server():
    server = LocalServer()
    yield server
    server.close()
