"""`condition`: takes the handle of the first true case, else the default handle.

Every form is compiled to::

    {"cases": [{"id": "true", "when": {"$expr": ["cmp", ">", ["path", "vars", "age"], ["lit", 18]]}}],
     "default": "false"}
"""

from __future__ import annotations

from engine.context import Run
from engine.program import Instruction, Op


def execute(run: Run, ins: Instruction) -> int:
    arg = ins.arg
    for case in arg["cases"]:
        if run.render(case["when"]):
            return run.follow(ins, case["id"])
    return run.follow(ins, arg.get("default", "default"))


HANDLERS = {Op.CONDITION: execute}
