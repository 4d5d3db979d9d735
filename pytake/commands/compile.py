"""`pytake compile FILE`: compile a flow canvas to a program file (or show it).

Writes the program bytes to ``-o OUT`` (default: FILE with the ``.pytk``
suffix) and prints its size and sha256. ``--disassemble`` prints the listing
and ``--json`` the JSON form instead of writing (unless ``-o`` is given);
both also accept a ``.pytk`` file, which alone is read, checked and described
(size, instructions, sha256). Diagnostics go to stderr; any error means
nothing is written and the exit status is 1 (2: unreadable file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from compiler import compile_canvas
from engine.program import Program, ProgramFormatError
from pytake.commands.lint import FlowFolder, format_diagnostic, read_canvas

PROGRAM_SUFFIX = ".pytk"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="flow canvas (.json) or compiled program (.pytk)")
    parser.add_argument("-o", "--output", metavar="OUT", help="where to write the program (default FILE.pytk)")
    parser.add_argument("--disassemble", action="store_true", help="print the instruction listing")
    parser.add_argument("--json", action="store_true", help="print the program's JSON form")
    parser.add_argument("--flows", type=Path, metavar="DIR",
                        help="folder of the flows a jump may name, by file stem (default: FILE's folder)")


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if args.flows is not None and not args.flows.is_dir():
        print(f"pytake compile: --flows {args.flows}: no such folder", file=sys.stderr)
        return 2
    try:
        if path.suffix == PROGRAM_SUFFIX:
            program = Program.from_bytes(path.read_bytes())
        else:
            program = _compile(path, args.flows or path.parent)
    except OSError as exc:
        print(f"pytake compile: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except ProgramFormatError as exc:
        print(f"pytake compile: {path}: {exc}", file=sys.stderr)
        return 1
    if program is None:
        return 1
    if args.disassemble:
        print(program.disassemble())
    if args.json:
        print(json.dumps(program.to_json(), ensure_ascii=False, indent=2))
    if args.output or not (args.disassemble or args.json):
        out = Path(args.output) if args.output else path.with_suffix(PROGRAM_SUFFIX)
        data = program.to_bytes()
        if out != path:  # a .pytk alone is checked and described, not written over itself
            try:
                out.write_bytes(data)
            except OSError as exc:
                print(f"pytake compile: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
                return 2
        print(f"{out}: {len(data)} bytes, {len(program.code)} instructions, sha256 {program.hash}")
    return 0


def _compile(path: Path, folder: Path) -> Program | None:
    canvas, problem = read_canvas(path)
    if problem is not None:
        print(format_diagnostic(path, problem), file=sys.stderr)
        return None
    result = compile_canvas(canvas, **FlowFolder(folder).around(path).compiler_arguments(path))
    for d in result.diagnostics:
        print(format_diagnostic(path, d), file=sys.stderr)
    return result.program
