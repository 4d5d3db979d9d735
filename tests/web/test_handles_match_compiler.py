"""The editor draws the handles the compiler accepts: web/src/schemas/handles.ts
mirrors compiler/node_types.py's FIXED_HANDLES."""

from __future__ import annotations

import json
import re
from pathlib import Path

from compiler.node_types import FIXED_HANDLES, NODE_TYPES

HANDLES_TS = Path(__file__).resolve().parents[2] / "web" / "src" / "schemas" / "handles.ts"


def test_fixed_handles_are_the_compilers():
    table = re.search(r"FIXED_HANDLES: Record<string, string\[\]> = \{(.*?)\};", HANDLES_TS.read_text(), re.S)
    assert table, "FIXED_HANDLES table not found in handles.ts"
    drawn = {name: tuple(json.loads(handles)) for name, handles in
             re.findall(r"^\s*(\w+): (\[[^\]]*\]),", table.group(1), re.M)}
    assert drawn == {t: tuple(FIXED_HANDLES[t]) for t in NODE_TYPES}
