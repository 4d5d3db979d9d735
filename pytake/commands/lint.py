"""`pytake lint PATH...`: check flow canvases and print their diagnostics.

Files or folders (folders are searched recursively for ``*.json``).
``*.transcript.json`` files are transcripts, not flows, and are always skipped.
A jump names a flow by its **file stem** (``{"flow": "nps_followup"}`` runs
``nps_followup.json``) in the same folder, or in ``--flows DIR``: the one rule
`pytake run` and `pytake compile` use too, as the platform names a flow by its
name (a file's top-level ``"id"`` or ``"name"`` is not a name a jump may use).
A jump cycle across those flows that never waits for the customer is an
``infinite-loop`` error. Exit status: 0 no errors (warnings are fine), 1 some
error, 2 an unreadable file or bad usage. Imports only the compiler: no web
stack, no database.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from compiler import CODES, Diagnostic, KnownTemplate, lint_canvas
from compiler.load import parse_json_text

TRANSCRIPT_SUFFIX = ".transcript.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="flow files or folders")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--list-codes", action="store_true", help="print every diagnostic code and exit")
    parser.add_argument("--flows", type=Path, metavar="DIR",
                        help="folder of the flows a jump may name, by file stem (default: each file's own folder)")
    parser.add_argument("--departments", metavar="NAMES",
                        help="comma-separated department names a handoff may name (else not checked)")
    parser.add_argument("--templates", metavar="FILE",
                        help="JSON list of the organization's templates a message may send, each "
                             '{"name", "language", "status", "parameters", "header"?, "header_parameters"?} '
                             "(else not checked)")


def run(args: argparse.Namespace) -> int:
    if args.list_codes:
        if args.format == "json":
            print(json.dumps([{"code": code, "severity": info.severity, "description": info.description}
                              for code, info in CODES.items()], ensure_ascii=False, indent=2))
            return 0
        width = max(map(len, CODES))
        for code, info in CODES.items():
            print(f"{code:<{width}}  {info.severity:<7}  {info.description}")
        return 0
    if not args.paths:
        print("pytake lint: give at least one file or folder", file=sys.stderr)
        return 2
    if args.flows is not None and not args.flows.is_dir():
        print(f"pytake lint: --flows {args.flows}: no such folder", file=sys.stderr)
        return 2
    files, unreadable = collect_files(args.paths)
    departments = ({d.strip() for d in args.departments.split(",") if d.strip()}
                   if args.departments is not None else None)
    try:
        templates = read_templates(Path(args.templates)) if args.templates is not None else None
    except OSError as exc:
        print(f"pytake lint: --templates {args.templates}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"pytake lint: --templates {args.templates}: {exc}", file=sys.stderr)
        return 2
    results: list[tuple[Path, list[Diagnostic]]] = []
    folders: dict[Path, FlowFolder] = {}
    for path in files:
        folder = args.flows or path.parent
        if folder not in folders:
            folders[folder] = FlowFolder(folder)
        try:
            results.append((path, lint_file(path, folders[folder].around(path), departments, templates)))
        except OSError as exc:
            print(f"pytake lint: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
            unreadable = True
    if args.format == "json":
        print(json.dumps([dict(file=str(path), **_fields(d)) for path, diags in results for d in diags],
                         ensure_ascii=False, indent=2))
    else:
        for path, diags in results:
            for d in diags:
                print(format_diagnostic(path, d))
        errors = sum(d.severity == "error" for _, diags in results for d in diags)
        warnings = sum(d.severity == "warning" for _, diags in results for d in diags)
        print(f"{len(results)} file{'s' if len(results) != 1 else ''} checked: "
              f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}")
    if unreadable:
        return 2
    return 1 if any(d.severity == "error" for _, diags in results for d in diags) else 0


def _fields(d: Diagnostic) -> dict[str, Any]:
    return {"code": d.code, "severity": d.severity, "node_id": d.node_id, "path": d.path,
            "message": d.message, "hint": d.hint}


def _shown_id(node_id: str) -> str:
    """A node id as the ``file:node_id:`` prefix shows it: quoted (JSON) when it is empty or holds
    a space, a colon or a control character, so that a canvas cannot fake a line or a field."""
    plain = node_id and node_id.isprintable() and not any(c.isspace() or c == ":" for c in node_id)
    return node_id if plain else json.dumps(node_id, ensure_ascii=False)


def format_diagnostic(path: Path | str, d: Diagnostic) -> str:
    """``file:node_id: CODE severity message``, then indented ``at POINTER`` and ``hint:`` lines."""
    where = f"{path}:{_shown_id(d.node_id)}:" if d.node_id is not None else f"{path}:"
    lines = [f"{where} {d.code} {d.severity} {d.message}"]
    if d.path:
        lines.append(f"    at {d.path}")
    if d.hint:
        lines.append(f"    hint: {d.hint}")
    return "\n".join(lines)


def collect_files(paths: Iterable[str]) -> tuple[list[Path], bool]:
    """The flow files named by `paths` (folders searched recursively) and whether one is missing
    (or is a folder without any)."""
    files: list[Path] = []
    missing = False
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.json") if p.is_file() and not is_transcript(p))
            if not found:  # a mistyped or emptied folder would pass with nothing checked
                print(f"pytake lint: {name}: no flow files (*.json) in this folder", file=sys.stderr)
                missing = True
            files += found
        elif path.is_file():
            if not is_transcript(path):
                files.append(path)
        else:
            print(f"pytake lint: {name}: no such file or folder", file=sys.stderr)
            missing = True
    return files, missing


def is_transcript(path: Path) -> bool:
    return path.name.endswith(TRANSCRIPT_SUFFIX)


def read_canvas(path: Path) -> tuple[Any, Diagnostic | None]:
    """The parsed JSON of a file, or an ``invalid-json`` diagnostic. Raises OSError if unreadable."""
    return parse_json_text(path.read_bytes())


def lint_file(path: Path, flows: "FlowFolder | set[str] | None" = None,
              known_departments: set[str] | None = None,
              known_templates: list[KnownTemplate] | None = None) -> list[Diagnostic]:
    """`path`'s diagnostics; `flows`: the flows its jumps may name (a `FlowFolder`, which also finds
    jump cycles across them, or just their names)."""
    canvas, problem = read_canvas(path)
    if problem is not None:
        return [problem]
    jumps = flows.compiler_arguments(path) if isinstance(flows, FlowFolder) else {"known_flows": flows}
    return lint_canvas(canvas, known_departments=known_departments, known_templates=known_templates, **jumps)


# ``--templates`` fields: (required, check, what the value must be)
_TEMPLATE_FIELDS: dict[str, tuple[bool, Callable[[Any], bool], str]] = {
    "name": (True, lambda v: isinstance(v, str), "a string"),
    "language": (True, lambda v: isinstance(v, str), "a string"),
    "status": (True, lambda v: isinstance(v, str), "a string such as \"APPROVED\""),
    "parameters": (True, lambda v: _count(v), "the number of the body's {{n}}, 0 or more"),
    "header": (False, lambda v: v is None or isinstance(v, str), "TEXT, IMAGE, VIDEO, DOCUMENT or null"),
    "header_parameters": (False, lambda v: _count(v), "the number of the header's {{n}}, 0 or 1"),
}


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_templates(path: Path) -> list[KnownTemplate]:
    """``--templates``: a JSON list of `KnownTemplate` fields. Raises ValueError naming what is wrong."""
    doc, problem = parse_json_text(path.read_bytes())
    if problem is not None:
        raise ValueError(problem.message)
    if not isinstance(doc, list) or not all(isinstance(t, dict) for t in doc):
        raise ValueError("expected a JSON list of template objects")
    for number, template in enumerate(doc, 1):
        for key, value in template.items():
            if key not in _TEMPLATE_FIELDS:
                raise ValueError(f"template #{number}: unknown field {key!r} (known: {', '.join(_TEMPLATE_FIELDS)})")
            _, ok, what = _TEMPLATE_FIELDS[key]
            if not ok(value):
                raise ValueError(f"template #{number}: {key!r} must be {what} "
                                 f"(got {json.dumps(value, ensure_ascii=False)})")
        missing = [k for k, (required, _, _) in _TEMPLATE_FIELDS.items() if required and k not in template]
        if missing:
            raise ValueError(f"template #{number}: missing {', '.join(map(repr, missing))}")
    return [KnownTemplate(**t) for t in doc]


def flow_name(path: Path) -> str:
    """The name a jump gives the flow of `path`: its file stem (``nps_followup.json``: ``nps_followup``)."""
    return path.name[: -len(".json")] if path.name.endswith(".json") else path.stem


class FlowFolder(Mapping):
    """The flows a jump may name, by file stem: a folder's ``*.json`` files (not transcripts), read
    and parsed when the compiler first asks for one (None: not JSON). `pytake lint`, `compile` and
    `run` resolve jumps through it, so they agree with each other and with the platform, which
    names a flow by its name."""

    def __init__(self, folder: Path, extra: Mapping[str, Path] | None = None) -> None:
        self.folder = folder
        self.paths: dict[str, Path] = {flow_name(p): p for p in sorted(folder.glob("*.json"))
                                       if p.is_file() and not is_transcript(p)}
        self.paths.update(extra or {})
        self._canvases: dict[str, Any] = {}

    def around(self, path: Path) -> "FlowFolder":
        """This folder as `path` sees it: `path` is a flow of it by its own stem, even when it lives
        elsewhere (``--flows DIR``)."""
        name = flow_name(path)
        if self.paths.get(name) == path:
            return self
        return FlowFolder(self.folder, {name: path})

    def compiler_arguments(self, path: Path) -> dict[str, Any]:
        """`compile_canvas`'s `flows` and `names` for the flow file `path` of this folder."""
        return {"flows": self, "names": {flow_name(path)}}

    def __getitem__(self, name: str) -> Any:
        if name not in self._canvases:
            try:
                canvas, _ = read_canvas(self.paths[name])
            except OSError:
                canvas = None
            self._canvases[name] = canvas
        return self._canvases[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __contains__(self, name: object) -> bool:
        return name in self.paths
