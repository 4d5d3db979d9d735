"""`pytake` command line: a thin dispatcher.

Each subcommand lives in `pytake/commands/<name>.py` and exposes
``add_arguments(parser)`` and ``run(args) -> int`` (the exit code). Only the
chosen subcommand is imported, so `pytake lint` and `pytake run` start without
the web stack or a database driver.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, str] = {
    "lint": "check flow canvases and print diagnostics",
    "compile": "compile a flow canvas to a program (or disassemble it)",
    "run": "chat with a flow in the terminal, or check it against a transcript",
    "db": "database migrations (upgrade, downgrade, current)",
    "serve": "run the API (and, in embedded mode, a worker)",
    "worker": "run Taskiq workers",
    "sandbox": "run the local WhatsApp Graph API stand-in",
    "chat": "talk to a running PyTake as a WhatsApp user",
    "analytics": "analytics snapshots: backfill past periods",
    "demo": "the quickstart: embedded servers, demo data, API, worker and sandbox",
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: pytake COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, text in COMMANDS.items()]
    lines += ["", "`pytake COMMAND --help` for a command's options."]
    return "\n".join(lines)


def _escape_unencodable() -> None:
    """Print what the terminal cannot encode as backslash escapes instead of dying mid-report.

    A canvas's JSON may hold a lone surrogate (``"\\ud800"``) in a node id or a text; `pytake lint`
    and `run` print those back, and a UTF-8 stream refuses them (UnicodeEncodeError, a traceback
    after part of the output)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _escape_unencodable()
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage(), file=sys.stdout if argv else sys.stderr)  # asked for: stdout; bad usage: stderr
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"pytake: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"pytake.commands.{name}")
    parser = argparse.ArgumentParser(prog=f"pytake {name}", description=COMMANDS[name])
    module.add_arguments(parser)
    try:
        args = parser.parse_args(rest)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
