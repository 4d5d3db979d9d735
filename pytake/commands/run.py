"""`pytake run FLOW.json`: chat with a flow in the terminal, or check it against a transcript.

    pytake run examples/pizza_order.json                 # interactive dry-run
    pytake run examples/pizza_order.json --trace         # ... printing nodes and variables
    pytake run examples/pizza_order.json --script examples/pizza_order.transcript.json

Sub-flows (`jump` to another flow) are looked up by file stem in ``--flows``
(default: the flow's own folder). In script mode nothing touches the network:
`api_call` and `ai_prompt` are answered from the transcript.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, Callable, TextIO

from api.settings import Settings
from engine import Event, FlowNotCompiled, InboundMessage, Interpreter, OutboundMessage, Program, effects_of
from engine.adapters.ai import ProviderAIClient
from engine.adapters.clock import SystemClock
from engine.adapters.http import GuardedHttpClient
from engine.ports import Ports
from engine.transcript import TranscriptError, run_transcript


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("flow", type=Path, help="the flow canvas (JSON)")
    parser.add_argument("--flows", type=Path, help="folder of sub-flows, by file stem (default: the flow's folder)")
    parser.add_argument("--script", type=Path, metavar="TRANSCRIPT",
                        help="check the flow against a transcript instead of chatting")
    parser.add_argument("--trace", action="store_true", help="print each node visited and variable changes")
    parser.add_argument("--contact-name", default=None, help="the contact's name (interactive mode)")
    parser.add_argument("--allow-private-networks", action="store_true",
                        help="let api_call reach private/loopback addresses (interactive mode)")


class FlowLibrary:
    """Compiles flows of a folder on demand: the program loader for the interpreter."""

    def __init__(self, main: Path, folder: Path) -> None:
        from pytake.commands.lint import FlowFolder, flow_name

        self.main = main
        self.folder = folder
        self.main_ref = flow_name(main)
        self.flows = FlowFolder(folder).around(main)  # by file stem, as `pytake lint` resolves them
        self.paths: dict[str, Path] = self.flows.paths
        self.cache: dict[str, Program] = {}

    def compile(self, ref: str) -> tuple[Program | None, list[str]]:
        from compiler import compile_canvas  # the compiler is only needed here, not by the engine
        from compiler.load import parse_json_text

        path = self.paths.get(ref)
        if path is None:
            return None, [f"{ref}: no such flow in {self.folder}"]
        try:
            canvas, problem = parse_json_text(path.read_bytes())
        except OSError as exc:
            return None, [f"{path}: cannot read: {exc.strerror or exc}"]
        if problem is not None:  # not JSON (or nested too deeply): a diagnostic, as `pytake lint` says it
            return None, [_diagnostic_line(path, problem)]
        result = compile_canvas(canvas, flows=self.flows, names={ref})
        lines = [_diagnostic_line(path, d) for d in result.diagnostics]
        if result.program is None:
            return None, lines
        self.cache[ref] = result.program
        return result.program, lines

    async def load(self, ref: str, program_hash: str | None) -> Program:
        program = self.cache.get(ref)
        if program is None:
            if ref not in self.paths:
                raise LookupError(f"no such flow in {self.folder} (flows are named by file stem)")
            program, problems = self.compile(ref)
            if program is None:  # the file is there: say it does not compile, with why
                raise FlowNotCompiled(ref, [line for line in problems if " error " in line] or problems)
        if program_hash is not None and program.hash != program_hash:
            raise LookupError(f"{ref}: version {program_hash[:12]} is gone")
        return program


def _diagnostic_line(path: Path, d: Any) -> str:
    return (f"{path}:{d.node_id or '-'}:{d.path or ''}: {d.severity} {d.code}: {d.message}"
            + (f" (hint: {d.hint})" if d.hint else ""))


def run(args: argparse.Namespace) -> int:
    flow: Path = args.flow
    if not flow.is_file():
        print(f"pytake run: {flow}: {'a folder, not a flow file' if flow.is_dir() else 'no such file'}",
              file=sys.stderr)
        return 2
    if args.flows is not None and not args.flows.is_dir():
        print(f"pytake run: --flows {args.flows}: no such folder", file=sys.stderr)
        return 2
    library = FlowLibrary(flow, args.flows or flow.parent)
    program, problems = library.compile(library.main_ref)
    for line in problems:
        print(line, file=sys.stderr)
    if program is None:
        print(f"pytake run: {flow} does not compile", file=sys.stderr)
        return 1
    trace = _tracer(sys.stdout) if args.trace else None
    if args.script:
        return asyncio.run(_script(library, args.script, trace))
    return asyncio.run(_chat(library, program, args, trace))


# -- transcripts ---------------------------------------------------------------
async def _script(library: FlowLibrary, path: Path, trace: Callable[[Event], None] | None) -> int:
    from compiler.load import parse_json_text

    try:
        doc, problem = parse_json_text(path.read_bytes())
    except OSError as exc:
        print(f"pytake run: {path}: cannot read the transcript: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if problem is not None:
        print(f"pytake run: {path}: cannot read the transcript: {problem.message}", file=sys.stderr)
        return 2
    try:
        report = await run_transcript(doc, library.load, library.main_ref, trace)
    except TranscriptError as exc:
        print(f"pytake run: {path}: {exc}", file=sys.stderr)
        return 2
    if report.ok:
        print(f"ok: {path} ({report.steps_run} steps)")
        return 0
    print(f"FAIL: {path}")
    for failure in report.failures:
        print(failure)
    return 1


# -- interactive chat ------------------------------------------------------------
def _tracer(out: TextIO) -> Callable[[Event], None]:
    def trace(event: Event) -> None:
        if event.type == "node_entered":
            print(f"  · {event.node} ({event.get('op')})", file=out)
        elif event.type == "variable_set":
            print(f"  · {event.get('name')} = {json.dumps(event.get('value'), ensure_ascii=False, default=str)}", file=out)
        elif event.type in ("flow_entered", "flow_returned"):
            print(f"  · {event.type.replace('_', ' ')}: {event.get('flow')}", file=out)
        elif event.type in ("error", "exit_unconnected", "api_called", "ai_called", "tag_added", "tag_removed",
                            "attribute_set", "priority_set", "conversation_closed", "answer_invalid",
                            "message_adjusted"):
            detail = {k: v for k, v in (event.data or {}).items()}
            print(f"  · {event.type} {json.dumps(detail, ensure_ascii=False, default=str)}", file=out)
    return trace


def _show(message: OutboundMessage, out: TextIO) -> list[tuple[str, str]]:
    """Print a bot message; returns the numbered choices it offers (id, title)."""
    c = message.content
    choices: list[tuple[str, str]] = []
    if message.type == "template":  # it printed an empty "bot>": the template and what fills it
        t = c.get("template") or {}
        print(f"bot> [template {t.get('name')} ({t.get('language')})]", file=out)
        if t.get("header"):
            print(f"     header: {t['header']}", file=out)
        if t.get("header_media_url"):
            print(f"     header media: {t['header_media_url']}", file=out)
        if place := t.get("header_location"):
            where = ", ".join(str(place[k]) for k in ("name", "address") if place.get(k))
            print(f"     header place: {place.get('latitude')}, {place.get('longitude')}"
                  + (f" ({where})" if where else ""), file=out)
        for n, value in enumerate(t.get("parameters") or [], 1):
            print(f"     {{{{{n}}}}} = {value}", file=out)
        for button in t.get("buttons") or []:
            print(f"     button {button.get('index')}: {button.get('text')}", file=out)
        return choices
    if message.type in ("image", "video", "audio", "document"):
        name = f" {c['filename']}" if c.get("filename") else ""
        print(f"bot> [{message.type}{name}] {c.get('media_url')}", file=out)
        if c.get("caption"):
            print(f"     {c['caption']}", file=out)
        return choices
    if c.get("header"):
        print(f"bot> *{c['header']}*", file=out)
    for i, line in enumerate(str(c.get("text", "")).splitlines() or [""]):
        print(("bot> " if i == 0 and not c.get("header") else "     ") + line, file=out)
    items = c.get("buttons") or c.get("rows") or []
    if message.type == "list":
        print(f"     [{c.get('button', 'Opções')}]", file=out)
    for n, item in enumerate(items, 1):
        desc = f" — {item['description']}" if item.get("description") else ""
        print(f"     {n}) {item.get('title')}{desc}", file=out)
        choices.append((item.get("id"), item.get("title")))
    if c.get("footer"):
        print(f"     _{c['footer']}_", file=out)
    return choices


async def _chat(library: FlowLibrary, program: Program, args: argparse.Namespace,
                trace: Callable[[Event], None] | None) -> int:
    out = sys.stdout
    http = GuardedHttpClient(allow_private_networks=args.allow_private_networks)
    settings = Settings.from_env(keys=False)
    ai = ProviderAIClient(
        openai_api_key=settings.openai_api_key, openai_base_url=settings.openai_base_url,
        anthropic_api_key=settings.anthropic_api_key, anthropic_base_url=settings.anthropic_base_url,
    )
    contact_data: dict[str, Any] = {"name": args.contact_name} if args.contact_name else {}
    contact = effects_of((), contact_data).snapshot()  # as the flow leaves it, run after run
    ports = Ports(http=http, ai=ai, clock=SystemClock())
    interp = Interpreter(ports)
    print(f"Chatting with {library.main_ref}. Type your messages; /timeout fires a question's timeout, "
          f"/vars shows variables, /quit (or Ctrl-D) leaves.", file=out)
    history: list[dict[str, str]] = []
    state = None
    choices: list[tuple[str, str]] = []
    try:
        while True:
            try:
                line = input("you> ")
            except EOFError:
                print(file=out)
                return 0
            text = line.strip()
            if text in ("/quit", "/exit"):
                return 0
            if text == "/vars":
                print(json.dumps(state.vars if state else {}, ensure_ascii=False, indent=2, default=str), file=out)
                continue
            scope = {"contact": {**contact_data, **contact}, "history": list(history)}
            if text == "/timeout":
                if state is None or state.wait is None or state.wait.deadline is None:
                    print("(the bot is not waiting with a timeout)", file=out)
                    continue
                ports.clock = _At(state.wait.deadline_at)  # type: ignore[arg-type]
                interp.ports = ports
                result = await interp.on_timeout(state, library.load, scope)
                ports.clock = SystemClock()
            else:
                if text.isdecimal() and choices and 1 <= int(text) <= len(choices):  # "²" is a digit, not a number
                    reply_id, title = choices[int(text) - 1]
                    inbound = InboundMessage("interactive", title, reply_id)
                else:
                    inbound = InboundMessage("text", line)
                scope["message"] = inbound.to_scope()
                if inbound.text:
                    history.append({"role": "user", "content": inbound.text})
                if state is None:
                    result = await interp.start(program, library.main_ref, scope, library.load)
                else:
                    result = await interp.resume(state, inbound, library.load, scope)
            if trace:
                for event in result.events:
                    trace(event)
            effects = effects_of(result.events, contact)
            contact = effects.snapshot()
            choices = []
            for message in effects.messages:
                offered = _show(message, out)
                choices = offered or choices
                if message.body:
                    history.append({"role": "assistant", "content": message.body})
            state = result.state
            if result.status == "handoff":
                print("(handed off to a human; the bot stops here)", file=out)
                return 0
            if result.status == "error":
                for event in result.events:
                    if event.type == "error":
                        print(f"(error {event.get('code')}: {event.get('message')})", file=out)
                print("(the run stopped; your next message starts the flow again)", file=out)
            elif result.status == "ended":
                print("(the flow ended; your next message starts it again)", file=out)
    finally:
        await http.aclose()
        await ai.aclose()


class _At:
    def __init__(self, when: Any) -> None:
        self.when = when

    def now(self) -> Any:
        return self.when
