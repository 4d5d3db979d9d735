"""The catalogue of diagnostic codes and the Diagnostic value."""

from __future__ import annotations

import re

from compiler import CODES, Diagnostic
from compiler.diagnostics import make, pointer


def test_codes_are_kebab_case_with_a_severity_and_a_description() -> None:
    for code, info in CODES.items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", code)
        assert info.severity in ("error", "warning")
        assert info.description.endswith(".")


def test_make_takes_the_severity_from_the_catalogue() -> None:
    assert make("unreachable-node", "n", "/nodes/0", "x").severity == "warning"
    assert make("no-start", None, "/nodes", "x").severity == "error"


def test_diagnostics_serialise_to_json_fields() -> None:
    d = Diagnostic("no-start", "error", None, "/nodes", "the flow has no start node", "add one")
    assert d.to_json() == {"code": "no-start", "severity": "error", "node_id": None, "path": "/nodes",
                           "message": "the flow has no start node", "hint": "add one"}


def test_json_pointers_escape_slash_and_tilde() -> None:
    assert pointer("nodes", 0, "data", "headers", "a/b~c") == "/nodes/0/data/headers/a~1b~0c"
